# One image for every role: `serve` (webhook), `reconcile` (reconciler) and the clean
# runner. Build: make image (needs a Docker engine).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin tidb-backup-webhook \
    && strip target/release/tidb-backup-webhook

# Distroless: glibc and CA certificates, no shell, no package manager; non-root user
# 65532 as the manifests' securityContext expects.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/tidb-backup-webhook /usr/local/bin/tidb-backup-webhook
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/tidb-backup-webhook"]
