#!/usr/bin/env bash
# The harness's memory over a long run (issues 17 and 33): RSS must stay
# flat, within ±10 % of its level once warmed up, however long the run lasts,
# and writing the results at the end must not take it above 1.5 times the
# run's.
#
# The minimal target (mock_server/examples/minimal_target.rs) on core 0; the
# harness on core 1, open model at RATE requests/s for DURATION, built as users
# build it. The script samples the harness's resident set (VmRSS of
# /proc/PID/status) every INTERVAL seconds during the load and every 0.1 s
# from an interval before its end (the results are written in seconds),
# writes the samples as TSV (seconds, kB, `run` or `writing`) and takes the
# process's peak from /usr/bin/time (its maximum resident set, which no
# sample can miss). It prints:
#   - the run: the level once warmed up (the median of the samples of minute
#     1 to 2, or of the first quarter of a shorter run), the lowest and
#     highest sample of the load after the first minute (or eighth), the
#     largest deviation from the level in per cent: flat within ±10 %, PASS
#     or FAIL;
#   - writing the results: the peak while writing (the process's peak when it
#     came after the load, else the highest sample while writing) over the
#     run's level, and over the run's highest sample: PASS or FAIL against
#     1.5;
#   - the harness's exit status and request count.
# Exit status 0 when both pass, 1 when one fails, 2 on a broken run.
#
# Usage: benches/soak_rss.sh [--tsv FILE]
# Environment: DURATION (default 1h; a number with s, m or h, e.g. 10m or
#   1h30m), RATE (default 1000), MAX_IN_FLIGHT (default 100), INTERVAL
#   (default 10), PORT (default 18063), PROFILE (default release), NO_BUILD
#   (set: build nothing), HARNESS (path to another build of mss-harness to
#   measure, e.g. one from the commit before a change).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

tsv=
while [ $# -gt 0 ]; do
  case "$1" in
    --tsv) tsv=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
duration=${DURATION:-1h}
rate=${RATE:-1000}
max_in_flight=${MAX_IN_FLIGHT:-100}
interval=${INTERVAL:-10}
port=${PORT:-18063}
profile=${PROFILE:-release}
base="http://127.0.0.1:$port"
# The load's length in seconds: after it, the samples are the writing's.
load_s=$(python3 -c '
import re, sys
d = sys.argv[1]
parts = re.findall(r"(\d+)\s*([smh])", d)
if not parts or re.sub(r"(\d+)\s*([smh])", "", d).strip():
    sys.exit(f"DURATION {d!r}: expected a number with s, m or h, e.g. 10m or 1h30m")
print(sum(int(n) * {"s": 1, "m": 60, "h": 3600}[u] for n, u in parts))' "$duration")

if [ -z "${NO_BUILD:-}" ]; then
  cargo build --profile "$profile" -q --bin mss-harness -p mss-harness
  cargo build --profile "$profile" -q -p mss-mock --example minimal_target
fi
target_dir=$(cargo_target_dir)
bin="$target_dir/$profile"
[ "$profile" != dev ] || bin="$target_dir/debug"
harness_bin=${HARNESS:-$bin/mss-harness}
work=$(mktemp -d)
[ -n "$tsv" ] || tsv="$work/rss.tsv"
server=
timer=
harness=
cleanup() {
  [ -z "$harness" ] || kill "$harness" 2>/dev/null || true
  [ -z "$timer" ] || wait "$timer" 2>/dev/null || true
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

taskset -c 0 "$bin/examples/minimal_target" "127.0.0.1:$port" >"$work/target.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -sf -X POST --data 'grant_type=password' "$base/token" >/dev/null 2>&1 && break
  sleep 0.1
done

export MSS_USERNAME=soak MSS_PASSWORD=soak-password MSS_CLIENT_ID=soak
cat >"$work/soak.toml" <<TOML
name = "soak"
$(local_target_toml "$base")
$(open_load_toml "$rate" "$duration" "$max_in_flight")
[mix]
ReportarAfiliaciontraslado = 1
ReportarRetractoAfiliacion = 0
TOML

# /usr/bin/time reports the harness's peak resident set when it exits; the
# samples read the harness itself (its child).
taskset -c 1 /usr/bin/time -f "%M" -o "$work/peak" \
  "$harness_bin" run "$work/soak.toml" --out "$work/run" >"$work/harness.out" 2>"$work/harness.err" &
timer=$!
for _ in $(seq 1 100); do
  harness=$(pgrep -P "$timer" || true)
  [ -z "$harness" ] || break
  sleep 0.05
done
started=$(date +%s.%N)
: >"$tsv"
while [ -n "$harness" ] && kill -0 "$harness" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$harness/status" 2>/dev/null || true)
  at=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  phase=$(awk -v t="$at" -v l="$load_s" 'BEGIN {print (t > l ? "writing" : "run")}')
  [ -z "$rss" ] || printf '%s\t%s\t%s\n' "$at" "$rss" "$phase" >>"$tsv"
  # Every 0.1 s from an interval before the load's end: writing takes seconds.
  if awk -v t="$at" -v i="$interval" -v l="$load_s" 'BEGIN {exit !(t + i < l)}'; then
    sleep "$interval"
  else
    sleep 0.1
  fi
done
harness=
status=0
wait "$timer" || status=$?
timer=
peak=$(tail -1 "$work/peak" 2>/dev/null || echo 0)

requests=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(sum(v["requests"] for v in s["services"].values()))' "$work/run/summary.json" 2>/dev/null || echo 0)
python3 - "$tsv" "$status" "$requests" "$rate" "$duration" "$peak" <<'PY'
import statistics, sys
path, status, requests, rate, duration, peak = sys.argv[1:]
samples = [(float(t), int(kb), phase) for t, kb, phase in (l.split() for l in open(path) if l.strip())]
run = [(t, kb) for t, kb, phase in samples if phase == "run"]
writing = [kb for _, kb, phase in samples if phase == "writing"]
print(f"soak: {duration} at {rate} req/s, {requests} requests, harness exit {status}, "
      f"{len(run)} samples during the load, {len(writing)} while writing the results")
if len(run) < 4:
    print(f"soak: only {len(run)} RSS samples during the load: the run ended early (exit {status})")
    sys.exit(2)
end = run[-1][0]
# Warmed up: minute 1 to 2, or the first quarter of a shorter run.
lo, hi = (60, 120) if end >= 240 else (end / 8, end / 4)
warm = [kb for t, kb in run if lo <= t <= hi] or [run[len(run) // 4][1]]
level = statistics.median(warm)
after = [kb for t, kb in run if t >= lo]
worst = max(abs(kb - level) / level * 100 for kb in after)
flat = worst <= 10
mb = lambda kb: f"{kb / 1024:.1f} MB"
print(f"soak: the run's RSS after {lo:.0f} s: min {mb(min(after))}, max {mb(max(after))}, "
      f"level {mb(level)} (median of {lo:.0f}-{hi:.0f} s); largest deviation {worst:.1f} %: "
      f"flat within ±10 %: {'PASS' if flat else 'FAIL'}")
# The process's peak is the writing's when no sample of the load reached it.
peak = int(peak) if peak.isdigit() else 0
writing_peak = max(writing, default=0)
if peak > max(kb for _, kb in run):
    writing_peak = max(writing_peak, peak)
ratio = writing_peak / level
quiet = writing_peak > 0 and ratio <= 1.5
if writing_peak:
    print(f"soak: peak while writing the results {mb(writing_peak)} = {ratio:.2f} × the run's level, "
          f"{writing_peak / max(after):.2f} × its highest sample (process peak {mb(peak)}): "
          f"≤ 1.5 × the run: {'PASS' if quiet else 'FAIL'}")
else:
    print("soak: no sample while writing the results: FAIL")
sys.exit(0 if flat and quiet and status in ("0", "1") else 1)
PY
