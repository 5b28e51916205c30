#!/usr/bin/env python3
"""The summary of benches/compare.sh: reads the runs it recorded (one TSV line
per run), prints per target and connection count the median and range of
each sender's req/s, CPU µs per request and peak RSS, the ratios that judge
the harness (harness / reqwest, harness / Goose, harness / wrk, and this build
/ the baseline build) and, when both targets ran, mss-mock / minimal target;
writes all of it as JSON, and compares with an earlier JSON when given one.

Usage: compare_summary.py RUNS_TSV [--json FILE] [--against OLD_JSON]
                          [--meta KEY=VALUE ...]
"""

import argparse
import json
import statistics
import sys

COLUMNS = ["target", "connections", "round", "sender", "requests", "seconds",
           "req_per_s", "cpu_us_per_request", "peak_rss_kb", "p99_ms", "errors",
           "handler_p999_us", "handler_max_us", "records", "steal_target_pct",
           "steal_sender_pct"]
METRICS = ["req_per_s", "cpu_us_per_request", "peak_rss_kb", "p99_ms",
           "handler_p999_us", "handler_max_us", "records", "steal_target_pct",
           "steal_sender_pct"]
SENDER_ORDER = ["wrk", "reqwest", "goose", "harness", "baseline"]
# (numerator, denominator): the harness judged against each bare sender.
RATIOS = [("harness", "reqwest"), ("harness", "goose"), ("harness", "wrk"),
          ("harness", "baseline")]


def number(text):
    """A float from a TSV cell; None for an empty or `-` cell."""
    if text in ("", "-"):
        return None
    return float(text)


def read_runs(path):
    runs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            if len(cells) != len(COLUMNS):
                continue
            run = dict(zip(COLUMNS, cells))
            run["connections"] = int(run["connections"])
            run["round"] = int(run["round"])
            for k in ["requests", "seconds", "req_per_s", "cpu_us_per_request",
                      "peak_rss_kb", "p99_ms", "errors", "handler_p999_us",
                      "handler_max_us", "records", "steal_target_pct", "steal_sender_pct"]:
                run[k] = number(run[k])
            runs.append(run)
    return runs


def spread(values):
    """Median, min and max of the values that were measured (None if none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs):
    groups = {}
    for r in runs:
        groups.setdefault((r["target"], r["connections"], r["sender"]), []).append(r)
    medians = []
    for (target, conns, sender), rs in groups.items():
        row = {"target": target, "connections": conns, "sender": sender, "runs": len(rs)}
        for m in METRICS:
            row[m] = spread([r[m] for r in rs])
        medians.append(row)
    order = {s: i for i, s in enumerate(SENDER_ORDER)}
    medians.sort(key=lambda m: (m["target"], m["connections"], order.get(m["sender"], 99)))
    return medians


def ratio(a, b, metric):
    if a is None or b is None or a[metric] is None or b[metric] is None:
        return None
    den = b[metric]["median"]
    return a[metric]["median"] / den if den else None


def ratios(medians):
    by = {(m["target"], m["connections"], m["sender"]): m for m in medians}
    out = []
    cells = sorted({(m["target"], m["connections"]) for m in medians})
    for target, conns in cells:
        for num, den in RATIOS:
            a, b = by.get((target, conns, num)), by.get((target, conns, den))
            if a and b:
                out.append({"target": target, "connections": conns, "ratio": f"{num}/{den}",
                            **{m: ratio(a, b, m) for m in METRICS}})
    for conns in sorted({c for _, c in cells}):
        for sender in SENDER_ORDER:
            a, b = by.get(("mock", conns, sender)), by.get(("minimal", conns, sender))
            if a and b:
                out.append({"target": "mock/minimal", "connections": conns,
                            "ratio": f"{sender}: mock/minimal",
                            **{m: ratio(a, b, m) for m in METRICS}})
    return out


def fmt(s, unit_scale=1.0, digits=0):
    if s is None:
        return "-"
    f = f"{{:,.{digits}f}}"
    med, lo, hi = (f.format(s[k] * unit_scale) for k in ("median", "min", "max"))
    return f"{med} ({lo}–{hi})"


def med(s):
    """The median alone, one decimal ("-" when not measured)."""
    return "-" if s is None else f"{s['median']:.1f}"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}"


def print_tables(medians, rats, meta):
    cells = sorted({(m["target"], m["connections"]) for m in medians})
    for target, conns in cells:
        print(f"\n== target {target}, {conns} connections "
              "(median (min–max) over the rounds)")
        print(f"{'sender':<9} {'req/s':>26} {'CPU µs/request':>22} "
              f"{'peak RSS MB':>20} {'p99 ms':>22} {'steal % target/sender':>22}")
        for m in medians:
            if (m["target"], m["connections"]) != (target, conns):
                continue
            print(f"{m['sender']:<9} {fmt(m['req_per_s']):>26} "
                  f"{fmt(m['cpu_us_per_request'], digits=1):>22} "
                  f"{fmt(m['peak_rss_kb'], 1 / 1024, 1):>20} "
                  f"{fmt(m['p99_ms'], digits=2):>22} "
                  f"{med(m['steal_target_pct'])}/{med(m['steal_sender_pct'])}")
        if target == "mock":
            print("  mss-mock's own handler time (/__admin/stats handler_us) and the"
                  " records it held after each sender's run:")
            for m in medians:
                if (m["target"], m["connections"]) == (target, conns) and m["records"]:
                    print(f"    {m['sender']:<9} p99.9 {fmt(m['handler_p999_us']):>18} µs  "
                          f"max {fmt(m['handler_max_us']):>22} µs  "
                          f"records {fmt(m['records'])}")
            if "platform_pauses_max_ms" in meta:
                print(f"  the machine's own pauses, no target (a clock-reading loop on the "
                      f"target's core for {meta.get('platform_pauses_seconds', '?')} s): "
                      f"max {meta['platform_pauses_max_ms']} ms, "
                      f"{meta.get('platform_pauses_over_5ms', '?')} over 5 ms, "
                      f"steal {meta.get('platform_pauses_steal_pct', '-')} %")
        for r in rats:
            if (r["target"], r["connections"]) == (target, conns):
                print(f"  {r['ratio']:<17} req/s {fmt_ratio(r['req_per_s']):>5}  "
                      f"CPU/request {fmt_ratio(r['cpu_us_per_request']):>5}  "
                      f"peak RSS {fmt_ratio(r['peak_rss_kb']):>5}")
    mm = [r for r in rats if r["target"] == "mock/minimal"]
    if mm:
        print("\n== mss-mock / minimal target (req/s of the same sender, medians)")
        for r in mm:
            print(f"  {r['connections']:>5} connections, {r['ratio']:<24} "
                  f"{fmt_ratio(r['req_per_s'])}")


def print_against(medians, old):
    before = {(m["target"], m["connections"], m["sender"]): m for m in old.get("medians", [])}
    print(f"\n== this run / the earlier run ({old.get('meta', {}).get('date', '?')}), "
          "ratio of medians")
    for m in medians:
        o = before.get((m["target"], m["connections"], m["sender"]))
        if o:
            print(f"  {m['target']:<8} {m['connections']:>5} {m['sender']:<9} "
                  f"req/s {fmt_ratio(ratio(m, o, 'req_per_s')):>5}  "
                  f"CPU/request {fmt_ratio(ratio(m, o, 'cpu_us_per_request')):>5}  "
                  f"peak RSS {fmt_ratio(ratio(m, o, 'peak_rss_kb')):>5}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs")
    p.add_argument("--json")
    p.add_argument("--against")
    p.add_argument("--meta", action="append", default=[])
    a = p.parse_args()
    runs = read_runs(a.runs)
    if not runs:
        print("compare_summary: no run was recorded", file=sys.stderr)
        return 1
    medians = summarise(runs)
    rats = ratios(medians)
    meta = dict(kv.split("=", 1) for kv in a.meta if "=" in kv)
    print_tables(medians, rats, meta)
    if a.against:
        with open(a.against, encoding="utf-8") as f:
            print_against(medians, json.load(f))
    if a.json:
        doc = {"schema_version": 1, "meta": meta, "runs": runs,
               "medians": medians, "ratios": rats}
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"\nwritten: {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
