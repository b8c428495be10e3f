#!/usr/bin/env python3
"""Prints the side-by-side load-test table from oha's JSON results (scripts/bench-load.sh)."""
import json
import sys
from pathlib import Path

work, rate, connections, duration, body_bytes = sys.argv[1:6]
work = Path(work)


def result(name):
    data = json.loads((work / f"{name}.json").read_text())
    latency = data["latencyPercentiles"]
    codes = data.get("statusCodeDistribution", {})
    ok = codes.get("200", 0)
    failed = sum(v for k, v in codes.items() if k != "200") + sum(
        v for k, v in data.get("errorDistribution", {}).items() if "deadline" not in k
    )
    return {
        "rps": data["summary"]["requestsPerSec"],
        "p50": latency["p50"] * 1000,
        "p99": latency["p99"] * 1000,
        "p999": latency["p99.9"] * 1000,
        "ok": ok,
        "failed": failed,
    }


def rss(name):
    return int((work / f"{name}.rss").read_text().strip()) / 1024


rows = [
    ("minimal hyper+rustls, max", "minimal-max"),
    ("webhook /mutate, max", "webhook-mutate-max"),
    ("webhook /validate, max", "webhook-validate-max"),
    (f"minimal hyper+rustls, {rate} req/s", "minimal-rate"),
    (f"webhook /mutate, {rate} req/s", "webhook-mutate-rate"),
]
print(f"\nLoad test: {body_bytes}-byte UPDATE AdmissionReview (managedFields included), TLS 1.3 keep-alive, "
      f"{connections} connections, {duration} per run; servers on CPU 0, oha on CPU 1.\n")
print("| Run | req/s | p50 ms | p99 ms | p99.9 ms | 200s | failed |")
print("|---|---:|---:|---:|---:|---:|---:|")
results = {}
for label, name in rows:
    r = results[name] = result(name)
    print(f"| {label} | {r['rps']:,.0f} | {r['p50']:.3f} | {r['p99']:.3f} | {r['p999']:.3f} | {r['ok']:,} | {r['failed']} |")
ratio_mutate = results["webhook-mutate-max"]["rps"] / results["minimal-max"]["rps"]
ratio_validate = results["webhook-validate-max"]["rps"] / results["minimal-max"]["rps"]
print(f"\nThroughput relative to the minimal server: /mutate {ratio_mutate:.2f}x, /validate {ratio_validate:.2f}x")
print(f"Peak RSS (VmHWM): webhook {rss('webhook'):.1f} MiB, minimal server {rss('minimal'):.1f} MiB")
