#!/usr/bin/env python3
"""Prints the side-by-side load-test tables from oha's JSON results (scripts/bench-load.sh).

Each run is repeated over several interleaved rounds: the table gives the median of the
rounds and, for throughput and ratios, the spread (lowest-highest). Ratios compare the
webhook with the floor (a minimal server that parses the same body) round by round."""
import json
import statistics
import sys
from pathlib import Path

work, rounds, rate, connections, duration, update_bytes, create_bytes = sys.argv[1:8]
work = Path(work)
rounds = range(1, int(rounds) + 1)


def one(name, round_):
    data = json.loads((work / f"{name}.{round_}.json").read_text())
    latency = data["latencyPercentiles"]
    codes = data.get("statusCodeDistribution", {})
    ok = codes.get("200", 0)
    # oha stops at the deadline with requests in flight; those are not failures.
    failed = sum(v for k, v in codes.items() if k != "200") + sum(
        v for k, v in data.get("errorDistribution", {}).items() if "deadline" not in k
    )
    before, after = map(float, (work / f"{name}.{round_}.cpu").read_text().split())
    return {
        "rps": data["summary"]["requestsPerSec"],
        "p50": latency["p50"] * 1000,
        "p99": latency["p99"] * 1000,
        "p999": latency["p99.9"] * 1000,
        "ok": ok,
        "failed": failed,
        # Server CPU (all threads) per answered request, in microseconds.
        "cpu_us": (after - before) * 1e6 / ok if ok else float("nan"),
    }


def runs(name):
    return [one(name, r) for r in rounds]


def median(values):
    return statistics.median(values)


def spread(values, fmt):
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


def rss(name):
    return int((work / f"{name}.rss").read_text().strip()) / 1024


print((work / "load").read_text().strip())
print(
    f"\nSaturation: TLS 1.3 keep-alive, {connections} connections, {duration} per run, "
    f"{len(rounds)} interleaved rounds; servers on CPU 0, oha on CPU 1. UPDATE: the "
    f"{update_bytes}-byte review (managedFields, last-applied); CREATE: the guide's "
    f"{create_bytes}-byte review.\n"
)
print("| Server, body | req/s (median, spread) | × floor (median, spread) | CPU µs/req | p50 ms | p99 ms | p99.9 ms | failed |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
saturated = [
    ("minimal, no parsing, UPDATE", "fixed-update", "floor-update"),
    ("floor: parse into Value, UPDATE", "floor-update", "floor-update"),
    ("webhook /validate, UPDATE", "validate-update", "floor-update"),
    ("webhook /mutate, UPDATE", "mutate-update", "floor-update"),
    ("floor: parse into Value, CREATE", "floor-create", "floor-create"),
    ("webhook /validate, CREATE", "validate-create", "floor-create"),
    ("webhook /mutate, CREATE (patch)", "mutate-create", "floor-create"),
    ("minimal server + webhook's /mutate code, CREATE", "handler-create", "floor-create"),
]
for label, name, floor in saturated:
    mine, base = runs(name), runs(floor)
    ratios = [m["rps"] / b["rps"] for m, b in zip(mine, base)]
    rps = [m["rps"] for m in mine]
    print(
        f"| {label} | {median(rps):,.0f} ({spread(rps, '{:,.0f}')}) "
        f"| {median(ratios):.2f} ({spread(ratios, '{:.2f}')}) "
        f"| {median([m['cpu_us'] for m in mine]):.1f} "
        f"| {median([m['p50'] for m in mine]):.3f} | {median([m['p99'] for m in mine]):.3f} "
        f"| {median([m['p999'] for m in mine]):.3f} | {sum(m['failed'] for m in mine)} |"
    )

print(f"\nFixed rate: {rate} req/s, same connections and duration.\n")
print("| Server, body | p50 ms | p99 ms (median, spread) | p99.9 ms | failed |")
print("|---|---:|---:|---:|---:|")
for label, name in [
    ("floor, UPDATE", "floor-update-rate"),
    ("webhook /validate, UPDATE", "validate-update-rate"),
    ("webhook /mutate, CREATE (patch)", "mutate-create-rate"),
]:
    mine = runs(name)
    p99 = [m["p99"] for m in mine]
    print(
        f"| {label} | {median([m['p50'] for m in mine]):.3f} | {median(p99):.3f} ({spread(p99, '{:.3f}')}) "
        f"| {median([m['p999'] for m in mine]):.3f} | {sum(m['failed'] for m in mine)} |"
    )

print(
    f"\nPeak RSS (VmHWM) over all runs: webhook {rss('webhook'):.1f} MiB, "
    f"floor {rss('floor'):.1f} MiB, minimal without parsing {rss('fixed'):.1f} MiB"
)

print(
    "\nAdversarial load on a fresh webhook, all at once for the same duration: 64 connections "
    "sending a 3.2 MiB UPDATE (1.5 MiB annotation in object and oldObject), 64 sending it "
    "cut short (malformed), 16 sending 9 MiB (over the 3.5 MiB limit).\n"
)
print("| Bodies | answers by status |")
print("|---|---|")
for name in ("big", "malformed", "oversize"):
    data = json.loads((work / f"adversarial-{name}.json").read_text())
    codes = ", ".join(f"{k}: {v:,}" for k, v in sorted(data.get("statusCodeDistribution", {}).items()))
    errors = {k: v for k, v in data.get("errorDistribution", {}).items() if "deadline" not in k}
    print(f"| {name} | {codes or '-'}{'; errors: ' + str(errors) if errors else ''} |")
print(f"\nPeak RSS (VmHWM) under adversarial load: webhook {rss('adversarial'):.1f} MiB")
