#!/usr/bin/env bash
# Load test over TLS keep-alive: the webhook next to a minimal hyper+rustls server that
# answers a fixed AdmissionReview, same body, same machine, same run. Servers run on
# CPU 0, the load generator (oha) on CPU 1.
set -euo pipefail
cd "$(dirname "$0")/.."

OHA=.tools/bin/oha
DURATION=${BENCH_DURATION:-10s}
RATE=${BENCH_RATE:-2000}
CONNECTIONS=${BENCH_CONNECTIONS:-8}
BODY=benches/fixtures/review-backup-update.json
PORT=18443

[ -x "$OHA" ] || cargo install oha --locked --version 1.16.0 --root .tools
cargo build --release --locked --bin tidb-backup-webhook --example minimal_server

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

target/release/tidb-backup-webhook certs --out "$work" --dns localhost --days 1 >/dev/null

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server did not start on port $1" >&2
  return 1
}

# oha NAME PATH [extra flags...] -> $work/NAME.json
load() {
  local name=$1 path=$2; shift 2
  taskset -c 1 "$OHA" --no-tui --insecure --output-format json -c "$CONNECTIONS" -z "$DURATION" \
    -m POST -H 'content-type: application/json' -D "$BODY" "$@" \
    "https://localhost:$PORT$path" > "$work/$name.json"
}

start() {
  taskset -c 0 "$@" &
  server_pid=$!
  wait_port "$PORT"
  # Warm up connections, caches and the allocator.
  taskset -c 1 "$OHA" --no-tui --insecure -n 2000 -c "$CONNECTIONS" -m POST \
    -H 'content-type: application/json' -D "$BODY" "https://localhost:$PORT/validate" >/dev/null
}

stop() {
  grep VmHWM "/proc/$server_pid/status" | awk '{print $2}' > "$work/$1.rss"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

start target/release/examples/minimal_server "127.0.0.1:$PORT" "$work/tls.crt" "$work/tls.key"
load minimal-max /validate
load minimal-rate /validate -q "$RATE"
stop minimal

RUST_LOG=warn start target/release/tidb-backup-webhook serve --no-kube --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --listen "127.0.0.1:$PORT" --admin-listen 127.0.0.1:18080 --shutdown-delay 0s
load webhook-mutate-max /mutate
load webhook-validate-max /validate
load webhook-mutate-rate /mutate -q "$RATE"
stop webhook

python3 scripts/bench-report.py "$work" "$RATE" "$CONNECTIONS" "$DURATION" "$(wc -c < "$BODY")"
