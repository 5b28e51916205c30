#!/usr/bin/env python3
"""The summary of benches/compare_stats.sh: reads every pair's compare.json
under WORK/pairs/SET/N/, counts the verdicts that issue 32's acceptance names,
prints them with the spread of the changes, how wide the intervals were
against the identical pairs' differences (the standard deviation of change /
standard error: 1 when calibrated) and the machine's load during the bench
(WORK/loadavg.txt), writes it all as JSON with --json, and exits 1 when
a criterion fails.

Usage: compare_stats_summary.py WORK [--json FILE] [--meta KEY=VALUE ...]
"""

import argparse
import json
import math
import os
import statistics
import sys

MAIN = "ReportarAfiliaciontraslado"
SMALL = "ReportarRetractoAfiliacion"


def pairs(work, name):
    """The compare.json of each pair of set `name`, in pair order."""
    root = os.path.join(work, "pairs", name)
    if not os.path.isdir(root):
        return []
    out = []
    for d in sorted((d for d in os.listdir(root) if d.isdigit()), key=int):
        with open(os.path.join(root, d, "compare.json"), encoding="utf-8") as f:
            out.append(json.load(f))
    return out


def line(c, service, metric):
    for l in c["lines"]:
        if l["service"] == service and l["metric"] == metric:
            return l
    raise KeyError(f"{service} {metric} not in {c['current']}")


def count(cs, pred):
    return sum(1 for c in cs if pred(c))


def spread(cs, service, metric):
    """Median and range of a line's change and interval width."""
    ch = [line(c, service, metric)["change"] for c in cs]
    ch = [x for x in ch if x is not None]
    w = [line(c, service, metric)["high"] - line(c, service, metric)["low"]
         for c in cs if line(c, service, metric)["low"] is not None]
    if not ch:
        return None
    return {"change_median": round(statistics.median(ch), 2),
            "change_min": round(min(ch), 2), "change_max": round(max(ch), 2),
            "width_median": round(statistics.median(w), 2) if w else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("--json")
    ap.add_argument("--meta", action="append", default=[])
    a = ap.parse_args()
    ident, s10, s30 = pairs(a.work, "identical"), pairs(a.work, "shift10"), pairs(a.work, "shift30")
    tiny, short = pairs(a.work, "tiny"), pairs(a.work, "short")

    def any_regressed(c):
        return any(l["verdict"] == "regressed" for l in c["lines"])

    def verdict(service, metric, word):
        return lambda c: line(c, service, metric)["verdict"] == word

    res = {
        "identical_pairs": len(ident),
        "identical_regressed_anywhere": count(ident, any_regressed),
        "identical_improved_anywhere": count(
            ident, lambda c: any(l["verdict"] == "improved" for l in c["lines"])),
        "identical_verdicts": {},
        "shift10_pairs": len(s10),
        "shift10_p50_regressed": count(s10, verdict(MAIN, "p50", "regressed")),
        "shift10_p90_regressed": count(s10, verdict(MAIN, "p90", "regressed")),
        "shift10_p99_regressed": count(s10, verdict(MAIN, "p99", "regressed")),
        "shift30_pairs": len(s30),
        "shift30_p50_regressed": count(s30, verdict(MAIN, "p50", "regressed")),
        "shift30_p99_regressed": count(s30, verdict(MAIN, "p99", "regressed")),
        "tiny_pairs": len(tiny),
        "tiny_small_service_regressed": count(
            tiny, lambda c: any(l["verdict"] == "regressed" for l in c["lines"] if l["service"] == SMALL)),
        "tiny_small_p99_inconclusive": count(tiny, verdict(SMALL, "p99", "inconclusive")),
        "short_pairs": len(short),
        "short_regressed_anywhere": count(short, any_regressed),
        "short_all_inconclusive": count(
            short, lambda c: all(l["verdict"] == "inconclusive" for l in c["lines"])),
        "spread": {},
    }
    for c in ident:
        for l in c["lines"]:
            key = f"{l['service']} {l['metric']}"
            res["identical_verdicts"].setdefault(key, {}).setdefault(l["verdict"], 0)
            res["identical_verdicts"][key][l["verdict"]] += 1
    for name, cs in (("identical", ident), ("shift10", s10), ("shift30", s30)):
        for m in ("p50", "p90", "p99", "throughput"):
            if cs:
                res["spread"][f"{name} {MAIN} {m}"] = spread(cs, MAIN, m)
    # Calibration: over the identical pairs, each line's change over its
    # standard error (on ln for a relative metric); a standard deviation near 1
    # means the intervals are as wide as the runs' differences.
    for svc in (MAIN, SMALL):
        for m in ("p50", "p90", "p99", "throughput"):
            zs = []
            for c in ident:
                l = line(c, svc, m)
                if l["low"] is None:
                    continue
                lo, hi, d = (math.log1p(x / 100) for x in (l["low"], l["high"], l["change"]))
                q = statistics.NormalDist().inv_cdf(1 - c["family_alpha"] / c["lines_judged"])
                se = (hi - lo) / 2 / q
                if se > 0:
                    zs.append(d / se)
            if len(zs) >= 2:
                res.setdefault("identical_z_sd", {})[f"{svc} {m}"] = round(statistics.pstdev(zs), 2)
    if ident:
        res["line_confidence_pct"] = ident[0]["line_confidence_pct"]
        res["lines_judged"] = ident[0]["lines_judged"]
    load_path = os.path.join(a.work, "loadavg.txt")
    if os.path.isfile(load_path):
        with open(load_path, encoding="utf-8") as f:
            one = [float(l.split()[1]) for l in f if len(l.split()) >= 2]
        if one:
            res["loadavg_1min"] = {"median": round(statistics.median(one), 2),
                                   "min": min(one), "max": max(one), "samples": len(one)}
    for kv in a.meta:
        k, _, v = kv.partition("=")
        res.setdefault("meta", {})[k] = v

    checks = [
        ("identical: regressed anywhere in <= 1 of 20 (scaled)",
         res["identical_regressed_anywhere"] <= max(1, len(ident) // 20)),
        ("+10%: p50 regressed in >= 18 of 20 (scaled)",
         res["shift10_p50_regressed"] >= 0.9 * len(s10)),
        ("+30%: p99 regressed in >= 16 of 20 (scaled)",
         res["shift30_p99_regressed"] >= 0.8 * len(s30)),
        ("too few requests: never regressed",
         res["tiny_small_service_regressed"] == 0 and res["short_regressed_anywhere"] == 0),
    ]
    res["checks"] = {name: ok for name, ok in checks}
    print(json.dumps(res, indent=2))
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2)
            f.write("\n")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
