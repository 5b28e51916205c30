#!/usr/bin/env bash
# The harness's memory over a long run (issue 17): RSS must stay flat, within
# ±10 % of its level once warmed up, however long the run lasts.
#
# The minimal target (mock_server/examples/minimal_target.rs) on core 0; the
# harness on core 1, open model at RATE requests/s for DURATION, built as users
# build it. The script samples the harness's resident set (VmRSS of
# /proc/PID/status) every INTERVAL seconds, writes the samples as TSV
# (seconds, kB) and prints: the level once warmed up (the median of the
# samples of minute 1 to 2, or of the first quarter of a shorter run), the
# lowest and highest sample after it, the largest deviation from the level in
# per cent, the harness's exit status and request count, and PASS or FAIL
# against ±10 %. Exit status 0 on PASS, 1 on FAIL, 2 on a broken run.
#
# Usage: benches/soak_rss.sh [--tsv FILE]
# Environment: DURATION (default 1h; humantime, e.g. 10m), RATE (default 1000),
#   MAX_IN_FLIGHT (default 100), INTERVAL (default 10), PORT (default 18063),
#   PROFILE (default release), NO_BUILD (set: build nothing).
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

if [ -z "${NO_BUILD:-}" ]; then
  cargo build --profile "$profile" -q --bin mss-harness -p mss-harness
  cargo build --profile "$profile" -q -p mss-mock --example minimal_target
fi
target_dir=$(cargo_target_dir)
bin="$target_dir/$profile"
[ "$profile" != dev ] || bin="$target_dir/debug"
work=$(mktemp -d)
[ -n "$tsv" ] || tsv="$work/rss.tsv"
server=
harness=
cleanup() {
  [ -z "$harness" ] || kill "$harness" 2>/dev/null || true
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

taskset -c 1 "$bin/mss-harness" run "$work/soak.toml" --out "$work/run" >"$work/harness.out" 2>"$work/harness.err" &
harness=$!
started=$(date +%s)
: >"$tsv"
while kill -0 "$harness" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$harness/status" 2>/dev/null || true)
  [ -z "$rss" ] || printf '%s\t%s\n' "$(($(date +%s) - started))" "$rss" >>"$tsv"
  sleep "$interval"
done
status=0
wait "$harness" || status=$?
harness=

requests=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(sum(v["requests"] for v in s["services"].values()))' "$work/run/summary.json" 2>/dev/null || echo 0)
python3 - "$tsv" "$status" "$requests" "$rate" "$duration" <<'PY'
import statistics, sys
path, status, requests, rate, duration = sys.argv[1:]
samples = [tuple(map(int, l.split())) for l in open(path) if l.strip()]
if len(samples) < 4:
    print(f"soak: only {len(samples)} RSS samples: the run ended early (exit {status})")
    sys.exit(2)
end = samples[-1][0]
# Warmed up: minute 1 to 2, or the first quarter of a shorter run.
lo, hi = (60, 120) if end >= 240 else (end // 8, end // 4)
warm = [kb for t, kb in samples if lo <= t <= hi] or [samples[len(samples) // 4][1]]
level = statistics.median(warm)
after = [kb for t, kb in samples if t >= lo]
worst = max(abs(kb - level) / level * 100 for kb in after)
verdict = "PASS" if worst <= 10 else "FAIL"
print(f"soak: {duration} at {rate} req/s, {requests} requests, harness exit {status}, "
      f"{len(samples)} samples")
print(f"soak: RSS level once warmed up {level / 1024:.1f} MB (median of {lo}-{hi} s); "
      f"after it {min(after) / 1024:.1f}-{max(after) / 1024:.1f} MB; "
      f"largest deviation {worst:.1f} %: {verdict} (±10 %)")
sys.exit(0 if verdict == "PASS" and status in ("0", "1") else 1)
PY
