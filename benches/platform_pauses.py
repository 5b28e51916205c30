#!/usr/bin/env python3
"""The machine's own pauses, with no target and no sender: a loop that only
reads the clock, on the core it is pinned to, for SECONDS; every gap between
two reads longer than 1 ms is a moment the loop did not run (the hypervisor
gave the core to another guest, the kernel ran something else). A target's
worst handler time cannot be told from the machine's below this floor.
benches/compare.sh runs it on the target's core while the sender's core is
kept busy, as during a run.

Usage: platform_pauses.py SECONDS
Prints: platform_pauses seconds=S over_1ms=N over_5ms=N max_ms=X steal_pct=X
(steal_pct: the share of the time the kernel counted as stolen from this
core, from /proc/stat, when it can read it).
"""

import os
import sys
import time


def steal_ticks(cpu):
    """(steal, total) jiffies of one core from /proc/stat, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == f"cpu{cpu}":
                    ticks = [int(x) for x in fields[1:]]
                    return ticks[7] if len(ticks) > 7 else 0, sum(ticks[:8])
    except OSError:
        pass
    return None


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        seconds = float(sys.argv[1])
    except ValueError:
        print(f"platform_pauses: SECONDS must be a number, not {sys.argv[1]!r}", file=sys.stderr)
        return 2
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    before = steal_ticks(cpu)
    now = time.perf_counter_ns
    last = start = now()
    end = start + int(seconds * 1e9)
    gaps = []
    while last < end:
        t = now()
        if t - last > 1_000_000:
            gaps.append(t - last)
        last = t
    after = steal_ticks(cpu)
    steal = "-"
    if before and after and after[1] > before[1]:
        steal = f"{100 * (after[0] - before[0]) / (after[1] - before[1]):.1f}"
    print(f"platform_pauses seconds={seconds:g} over_1ms={len(gaps)} "
          f"over_5ms={sum(g > 5_000_000 for g in gaps)} "
          f"max_ms={max(gaps, default=0) / 1e6:.1f} steal_pct={steal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
