#!/usr/bin/env bash
# The acceptance bench of `mss-harness compare`'s statistical verdict (issue
# 32): pairs of runs against the embedded mock (lognormal latency, σ 0.5,
# median 20 ms; open model, RATE req/s for RUN_SECONDS s, mix 9:1 affiliation :
# retraction), judged by `compare` with its defaults:
#   identical  pairs of runs at the same mock latency: `regressed` anywhere
#              (every service and metric) in at most 1 of 20 pairs;
#   shift10    every percentile of the mock's latency +10% (median 22 ms, same
#              σ): the affiliation p50 `regressed` in at least 18 of 20;
#   shift30    +30% (median 26 ms): the affiliation p99 `regressed` in at least
#              16 of 20;
#   tiny       identical pairs where the retraction service has a 1% share
#              (about 30 requests), and pairs of runs of SHORT_SECONDS s: a
#              service with too few requests is `inconclusive`, never
#              `regressed`.
# Baseline runs are shared by the pair sets: 2·PAIRS baselines (the identical
# pairs), PAIRS runs at +10% and PAIRS at +30% against them, run interleaved
# (base, base, +10%, +30%, ...) so that a drift of the machine spreads over
# every set. /proc/loadavg is sampled every 10 s (the machine is shared).
# benches/compare_stats_summary.py counts and judges; its JSON goes to
# --json FILE.
#
# Usage: benches/compare_stats.sh [--json FILE]
# Environment: PAIRS (default 20), RUN_SECONDS (30), RATE (100), TINY_PAIRS (4),
#   SHORT_SECONDS (5), SHORT_PAIRS (4), WORK (a temporary folder; kept),
#   NO_BUILD (set: use target/release/mss-harness as it is),
#   REJUDGE (set, with WORK of an earlier bench: run nothing, judge its runs
#   again with this build of `compare`, e.g. after changing a default; the
#   comparison is deterministic, so the same runs give the same verdicts).
# The whole bench takes about (4·PAIRS + 2·TINY_PAIRS)·(RUN_SECONDS + 2) s, some
# 45 minutes with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

JSON_OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --json) JSON_OUT="$2"; shift 2 ;;
        *) echo "usage: $0 [--json FILE]" >&2; exit 2 ;;
    esac
done
PAIRS=${PAIRS:-20}
SECONDS_PER_RUN=${RUN_SECONDS:-30}
RATE=${RATE:-100}
TINY_PAIRS=${TINY_PAIRS:-4}
SHORT_SECONDS=${SHORT_SECONDS:-5}
SHORT_PAIRS=${SHORT_PAIRS:-4}
WORK=${WORK:-$(mktemp -d /tmp/mss-compare-stats.XXXXXX)}
mkdir -p "$WORK/runs" "$WORK/pairs"

if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -q -p mss-harness
fi
BIN=target/release/mss-harness

# scenario NAME MEDIAN_MS SECONDS AFFILIATION_SHARE RETRACTION_SHARE
scenario() {
    cat > "$WORK/$1.toml" <<TOML
name = "compare-stats"
description = "issue 32's acceptance bench"
[target]
url = "mock"
[target.mock]
latency = { distribution = "lognormal", median_ms = $2, sigma = 0.5, cap_ms = 1000 }
[load]
model = "open"
stages = [{ rate = $RATE, duration = "${3}s" }]
max_in_flight = 1000
[mix]
ReportarAfiliaciontraslado = $4
ReportarRetractoAfiliacion = $5
[data]
seed = 1
TOML
}
scenario base 20 "$SECONDS_PER_RUN" 9 1
scenario shift10 22 "$SECONDS_PER_RUN" 9 1
scenario shift30 26 "$SECONDS_PER_RUN" 9 1
scenario tiny 20 "$SECONDS_PER_RUN" 99 1
scenario short 20 "$SHORT_SECONDS" 9 1

# Load of the shared machine, every 10 s, while the bench runs (a rejudge
# keeps the runs' record).
if [ -n "${REJUDGE:-}" ]; then
    ( while true; do sleep 10; done ) &
else
    ( while true; do echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 10; done ) \
        > "$WORK/loadavg.txt" &
fi
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null || true' EXIT

run() { # run SCENARIO NAME
    if [ -n "${REJUDGE:-}" ]; then
        [ -f "$WORK/runs/$2/summary.json" ] || { echo "REJUDGE: no run $WORK/runs/$2" >&2; exit 1; }
        return 0
    fi
    "$BIN" run "$WORK/$1.toml" --out "$WORK/runs/$2" > "$WORK/runs/$2.log" 2>&1 || {
        echo "run $2 failed (exit $?): $WORK/runs/$2.log" >&2
        tail -5 "$WORK/runs/$2.log" >&2
        exit 1
    }
}
compare() { # compare SET NAME BASE CURRENT
    mkdir -p "$WORK/pairs/$1"
    local code=0
    "$BIN" compare "$WORK/runs/$3" "$WORK/runs/$4" --out "$WORK/pairs/$1/$2" \
        > "$WORK/pairs/$1/$2.txt" 2>&1 || code=$?
    if [ "$code" -ge 2 ]; then
        echo "compare $1/$2 could not compare:" >&2
        cat "$WORK/pairs/$1/$2.txt" >&2
        exit 1
    fi
}

started=$(date +%s)
for i in $(seq 1 "$PAIRS"); do
    run base "base-$i-a"
    run base "base-$i-b"
    run shift10 "shift10-$i"
    run shift30 "shift30-$i"
    compare identical "$i" "base-$i-a" "base-$i-b"
    compare shift10 "$i" "base-$i-a" "shift10-$i"
    compare shift30 "$i" "base-$i-b" "shift30-$i"
    echo "pair $i of $PAIRS done ($(( $(date +%s) - started )) s)"
done
for i in $(seq 1 "$TINY_PAIRS"); do
    run tiny "tiny-$i-a"
    run tiny "tiny-$i-b"
    compare tiny "$i" "tiny-$i-a" "tiny-$i-b"
done
for i in $(seq 1 "$SHORT_PAIRS"); do
    run short "short-$i-a"
    run short "short-$i-b"
    compare short "$i" "short-$i-a" "short-$i-b"
done
kill "$SAMPLER" 2>/dev/null || true

args=("$WORK")
[ -n "$JSON_OUT" ] && args+=(--json "$JSON_OUT")
python3 benches/compare_stats_summary.py "${args[@]}" \
    --meta "seconds_per_run=$SECONDS_PER_RUN" --meta "rate=$RATE" \
    --meta "wall_s=$(( $(date +%s) - started ))" --meta "rejudged=${REJUDGE:+yes}"
