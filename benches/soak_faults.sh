#!/usr/bin/env bash
# Issue 6's soak: MINUTES (default 10) at 200 req/s against the mock as its own
# process, with mixed faults all along (delays, resets, 503s, truncated and
# malformed answers, hangs, answers lost after commit) and incidents from the
# first minute on (a 5 s stall every 40 s that fills max_in_flight; every two
# minutes early token revocation during a token outage, and a clock skew).
# Memory swings with each stall but must not grow from one minute to the next:
# the resident sets of the harness and of the mock are sampled every 10 s, and
# the script prints each one's mean over minute 1 and over the last minute with
# their ratio (goal 0.90-1.10) and every minute's mean; then the error classes
# and the reconciliation (exact: nothing lost, nothing duplicated, every
# unknown_outcome radicado listed).
#
# Usage: benches/soak_faults.sh            Environment: MINUTES (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
minutes=${MINUTES:-10}
[ "$minutes" -ge 2 ] || { echo "MINUTES must be at least 2" >&2; exit 2; }
seconds=$((minutes * 60))

cargo build --release -q --bin mss-harness
target_dir=$(cargo_target_dir)
bin="$target_dir/release/mss-harness"
work=$(mktemp -d)
mock_pid=""
run_pid=""
trap 'kill $run_pid $mock_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$work/mock.toml" <<TOML
listen = "127.0.0.1:$port"
token_ttl_seconds = 120
latency = { distribution = "lognormal", median_ms = 20, sigma = 0.5, cap_ms = 500 }
max_records = 10000
max_fingerprints = 20000
[[clients]]
username = "soak-user"
password = "soak-password-not-secret"
client_id = "soak-client"
administradora = "230301"
TOML

# A 5 s stall every 40 s from 15 s (two within minute 1, so that minute 1 has
# seen the incidents the later minutes see); every two minutes a token outage
# that the early revocation inside it runs into, and a clock ten days back.
incidents() {
  local t
  for ((t = 15; t + 5 < seconds; t += 40)); do
    echo "  { kind = \"stall\", at = \"${t}s\", duration = \"5s\" },"
  done
  for ((t = 30; t + 60 < seconds; t += 120)); do
    echo "  { kind = \"token_outage\", route = \"token\", at = \"$((t + 10))s\", duration = \"20s\", retry_after_s = 2 },"
    echo "  { kind = \"revoke_tokens\", at = \"$((t + 15))s\", duration = \"10s\" },"
    echo "  { kind = \"clock_skew\", route = \"reports\", seconds = -864000, at = \"$((t + 55))s\", duration = \"5s\" },"
  done
}
cat >"$work/soak.toml" <<TOML
name = "soak-faults"
faults = [
  { kind = "delay", distribution = "lognormal", median_ms = 60, sigma = 0.5, cap_ms = 800, route = "reports", probability = 0.1, seed = 1 },
  { kind = "reset", route = "reports", probability = 0.01, seed = 2 },
  { kind = "status", status = 503, retry_after_s = 1, route = "reports", probability = 0.01, seed = 3 },
  { kind = "status", status = 429, retry_after_s = 1, route = "reports", probability = 0.005, seed = 4 },
  { kind = "truncated", route = "reports", probability = 0.005, seed = 5 },
  { kind = "malformed_json", route = "reports", probability = 0.005, seed = 6 },
  { kind = "empty", route = "reports", probability = 0.005, seed = 7 },
  { kind = "hang", route = "reports", hold_s = 5, probability = 0.002, seed = 8 },
  { kind = "reset_after_commit", route = "reports", probability = 0.01, seed = 9 },
  { kind = "hang_after_commit", route = "reports", hold_s = 5, probability = 0.003, seed = 10 },
  { kind = "slow_body", route = "reports", chunk_bytes = 32, interval_ms = 20, probability = 0.01, seed = 11 },
$(incidents)
]
$(local_target_toml "http://127.0.0.1:$port" SOAK_USER SOAK_PASSWORD SOAK_CLIENT)
$(open_load_toml 200 "${minutes}m" 300)
[http]
timeout = "2s"
[data]
seed = 6
TOML

"$bin" mock --config "$work/mock.toml" 2>"$work/mock.err" &
mock_pid=$!
for _ in $(seq 50); do grep -q "listening" "$work/mock.err" 2>/dev/null && break; sleep 0.1; done
SOAK_USER=soak-user SOAK_PASSWORD=soak-password-not-secret SOAK_CLIENT=soak-client \
  "$bin" run "$work/soak.toml" --out "$work/run" >"$work/out" 2>&1 &
run_pid=$!
echo "second,harness_rss_kb,mock_rss_kb" >"$work/rss.csv"
second=0
while kill -0 "$run_pid" 2>/dev/null; do
  h=$(awk '/^VmRSS:/ {print $2}' "/proc/$run_pid/status" 2>/dev/null || true)
  m=$(awk '/^VmRSS:/ {print $2}' "/proc/$mock_pid/status" 2>/dev/null || true)
  [ -n "$h" ] && [ -n "$m" ] && echo "$second,$h,$m" >>"$work/rss.csv"
  sleep 10
  second=$((second + 10))
done
rc=0
wait "$run_pid" || rc=$?
tail -5 "$work/out"
tr '\n' ' ' <"$work/rss.csv"
echo
python3 - "$work" "$minutes" "$rc" <<'PY'
import csv, json, sys
work, minutes, rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [(int(r["second"]), int(r["harness_rss_kb"]), int(r["mock_rss_kb"]))
        for r in csv.DictReader(open(f"{work}/rss.csv"))]
def at(s, i):
    return min(rows, key=lambda r: abs(r[0] - s))[i]
s = json.load(open(f"{work}/run/summary.json"))
requests = sum(v["requests"] for v in s["services"].values())
classes = {}
for v in s["services"].values():
    for k, n in v["errors"].items():
        classes[k] = classes.get(k, 0) + n
rec = s["reconciliation"]
def mean(lo, hi, i):
    xs = [r[i] for r in rows if lo <= r[0] < hi]
    return sum(xs) / max(len(xs), 1)
# RSS swings with the stalls (a burst of connections, then freed): each minute
# is judged by the mean of its six samples, minute 1 being 60-120 s (the first
# 60 s are start-up) and the last minute the run's last 60 s; the single
# samples at 60 s and at the end are printed beside them.
for name, i in (("harness", 1), ("mock", 2)):
    first, last = mean(60, 120, i), mean(minutes * 60 - 60, minutes * 60, i)
    print(f"{name} RSS mean of minute 1 {first:.0f} KB, of minute {minutes} {last:.0f} KB, "
          f"ratio {last / first:.3f} (goal 0.90-1.10); samples at 60 s {at(60, i)} KB and "
          f"{minutes * 60 - 10} s {at(minutes * 60 - 10, i)} KB; peak {max(r[i] for r in rows)} KB")
    print(f"  per-minute means (KB): " + ", ".join(
        f"{m + 1}: {mean(m * 60, m * 60 + 60, i):.0f}" for m in range(1, minutes)))
print(f"soak {minutes} min: {requests} requests, exit {rc}; errors {classes}")
print(f"faults injected {s['faults']['injected']}")
print(f"reconciliation ok={rec['ok']} unknown_outcome listed {len(rec.get('unknown_outcome', []))}, "
      f"idempotent duplicates {rec.get('idempotent_duplicates')}, unresolved {rec.get('unresolved')}; "
      + ", ".join(f"{k}: harness {v['harness']} target {v['target']} lost {v['lost']} duplicated {v['duplicated']}"
                  for k, v in rec["services"].items()))
PY
