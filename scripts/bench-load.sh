#!/usr/bin/env bash
# Load test over TLS 1.3 keep-alive, side by side in one run: the non-parsing minimal
# server (`fixed`), the floor (`parse`: a minimal server that parses each review into a
# serde_json::Value and answers its uid), the webhook's /validate and /mutate, and the
# webhook's /mutate code on the minimal server (`mutate-handler`), on the same bodies.
# All servers run on CPU 0 (started together, loaded one at a time), the load generator
# (oha) on CPU 1. Runs are interleaved over BENCH_ROUNDS rounds so that
# a noisy neighbour hits every server alike; the report gives medians and the spread.
set -euo pipefail
cd "$(dirname "$0")/.."

OHA=.tools/bin/oha
DURATION=${BENCH_DURATION:-8s}
RATE=${BENCH_RATE:-2000}
CONNECTIONS=${BENCH_CONNECTIONS:-8}
ROUNDS=${BENCH_ROUNDS:-3}
UPDATE=benches/fixtures/review-backup-update.json
CREATE=manifests/examples/review-backup-create.json
FIXED_PORT=18441
FLOOR_PORT=18442
WEBHOOK_PORT=18443
HANDLER_PORT=18445

[ -x "$OHA" ] || cargo install oha --locked --version 1.16.0 --root .tools
cargo build --release --locked --bin tidb-backup-webhook --example minimal_server

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
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

# start NAME PORT COMMAND... : a server on CPU 0, its pid in $work/NAME.pid
start() {
  local name=$1 port=$2; shift 2
  taskset -c 0 "$@" &
  pids+=($!)
  echo $! > "$work/$name.pid"
  wait_port "$port"
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}

# run NAME SERVER PORT PATH BODY [oha flags...] -> $work/NAME.ROUND.{json,cpu}
run() {
  local name=$1 server=$2 port=$3 path=$4 body=$5; shift 5
  local pid before after
  pid=$(cat "$work/$server.pid")
  before=$(cpu_seconds "$pid")
  taskset -c 1 "$OHA" --no-tui --insecure --output-format json -c "$CONNECTIONS" -z "$DURATION" \
    -m POST -H 'content-type: application/json' -D "$body" "$@" \
    "https://localhost:$port$path" > "$work/$name.$round.json"
  after=$(cpu_seconds "$pid")
  echo "$before $after" > "$work/$name.$round.cpu"
}

warm_up() {
  taskset -c 1 "$OHA" --no-tui --insecure -n 3000 -c "$CONNECTIONS" -m POST \
    -H 'content-type: application/json' -D "$2" "https://localhost:$1$3" >/dev/null
}

start fixed $FIXED_PORT target/release/examples/minimal_server fixed "127.0.0.1:$FIXED_PORT" "$work/tls.crt" "$work/tls.key"
start floor $FLOOR_PORT target/release/examples/minimal_server parse "127.0.0.1:$FLOOR_PORT" "$work/tls.crt" "$work/tls.key"
start handler $HANDLER_PORT target/release/examples/minimal_server mutate-handler "127.0.0.1:$HANDLER_PORT" "$work/tls.crt" "$work/tls.key"
RUST_LOG=warn start webhook $WEBHOOK_PORT target/release/tidb-backup-webhook serve --no-kube \
  --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --listen "127.0.0.1:$WEBHOOK_PORT" --admin-listen 127.0.0.1:18080 --shutdown-delay 0s

warm_up $FIXED_PORT "$UPDATE" /
warm_up $FLOOR_PORT "$UPDATE" /
warm_up $HANDLER_PORT "$CREATE" /
warm_up $WEBHOOK_PORT "$UPDATE" /validate
warm_up $WEBHOOK_PORT "$CREATE" /mutate

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" > "$work/load"
for round in $(seq "$ROUNDS"); do
  echo "round $round of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
  run fixed-update fixed $FIXED_PORT / "$UPDATE"
  run floor-update floor $FLOOR_PORT / "$UPDATE"
  run validate-update webhook $WEBHOOK_PORT /validate "$UPDATE"
  run mutate-update webhook $WEBHOOK_PORT /mutate "$UPDATE"
  run floor-create floor $FLOOR_PORT / "$CREATE"
  run validate-create webhook $WEBHOOK_PORT /validate "$CREATE"
  run mutate-create webhook $WEBHOOK_PORT /mutate "$CREATE"
  run handler-create handler $HANDLER_PORT / "$CREATE"
  run floor-update-rate floor $FLOOR_PORT / "$UPDATE" -q "$RATE"
  run validate-update-rate webhook $WEBHOOK_PORT /validate "$UPDATE" -q "$RATE"
  run mutate-create-rate webhook $WEBHOOK_PORT /mutate "$CREATE" -q "$RATE"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$work/load"

for server in fixed floor webhook; do
  awk '/VmHWM/ {print $2}' "/proc/$(cat "$work/$server.pid")/status" > "$work/$server.rss"
done

# Adversarial load (issue 11), on a fresh webhook so that its peak RSS is this load's:
# at once, 64 connections sending a 3.2 MiB UPDATE (a 1.5 MiB annotation in object and
# oldObject, just under the body limit), 64 sending the same body cut short (malformed),
# and 16 sending 9 MiB (over the limit: 413).
python3 - "$UPDATE" "$work" <<'EOF'
import json, sys
review = json.load(open(sys.argv[1]))
for part in ("object", "oldObject"):
    review["request"][part]["metadata"].setdefault("annotations", {})["bulk"] = "x" * (1536 * 1024)
big = json.dumps(review).encode()
open(f"{sys.argv[2]}/big.json", "wb").write(big)
open(f"{sys.argv[2]}/malformed.json", "wb").write(big[:-64])
open(f"{sys.argv[2]}/oversize.json", "wb").write(b'{"a":"' + b"x" * (9 << 20) + b'"}')
EOF
RUST_LOG=error start adversarial 18444 target/release/tidb-backup-webhook serve --no-kube \
  --tls-cert "$work/tls.crt" --tls-key "$work/tls.key" \
  --listen 127.0.0.1:18444 --admin-listen 127.0.0.1:18081 --shutdown-delay 0s
adversarial() {
  taskset -c 1 "$OHA" --no-tui --insecure --output-format json -c "$2" -z "$DURATION" \
    -m POST -H 'content-type: application/json' -D "$work/$1.json" \
    https://localhost:18444/mutate > "$work/adversarial-$1.json"
}
adversarial big 64 & a1=$!
adversarial malformed 64 & a2=$!
adversarial oversize 16 & a3=$!
wait $a1 $a2 $a3
awk '/VmHWM/ {print $2}' "/proc/$(cat "$work/adversarial.pid")/status" > "$work/adversarial.rss"

python3 scripts/bench-report.py "$work" "$ROUNDS" "$RATE" "$CONNECTIONS" "$DURATION" \
  "$(wc -c < "$UPDATE")" "$(wc -c < "$CREATE")"
