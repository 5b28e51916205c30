#!/usr/bin/env bash
# Memory of a long run: `scenarios/soak.toml` (200 req/s against the embedded
# mock, so harness and mock are one process) shortened to MINUTES, with the
# resident set sampled every 10 s. Prints RSS at minute 1 and at the last
# minute and their ratio (goal: within ±10%), and the run's reconciliation.
#
# Usage: benches/soak_rss.sh            Environment: MINUTES (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${MINUTES:-10}
[ "$minutes" -ge 2 ] || { echo "MINUTES must be at least 2" >&2; exit 2; }

cargo build --release -q --bin mss-harness
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]+)".*/\1/')
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT

sed -E "s/duration = \"30m\"/duration = \"${minutes}m\"/" scenarios/soak.toml >"$work/soak.toml"
grep -q "duration = \"${minutes}m\"" "$work/soak.toml" || { echo "cannot shorten scenarios/soak.toml" >&2; exit 2; }

"$target_dir/release/mss-harness" run "$work/soak.toml" --out "$work/run" >"$work/out" 2>&1 &
pid=$!
echo "second,rss_kb" >"$work/rss.csv"
second=0
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [ -n "$rss" ] && echo "$second,$rss" >>"$work/rss.csv"
  sleep 10
  second=$((second + 10))
done
rc=0
wait "$pid" || rc=$?

tr '\n' ' ' <"$work/rss.csv"
echo
python3 - "$work" "$minutes" "$rc" <<'PY'
import csv, json, sys
work, minutes, rc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [(int(r["second"]), int(r["rss_kb"])) for r in csv.DictReader(open(f"{work}/rss.csv"))]
def at(s):
    return min(rows, key=lambda r: abs(r[0] - s))[1]
first, last = at(60), at(minutes * 60 - 10)
s = json.load(open(f"{work}/run/summary.json"))
requests = sum(v["requests"] for v in s["services"].values())
rec = s["reconciliation"]
print(f"soak {minutes} min: {requests} requests, exit {rc}; RSS minute 1 {first} KB, "
      f"minute {minutes} {last} KB, ratio {last / first:.3f} (goal 0.90-1.10); "
      f"peak {max(r[1] for r in rows)} KB; reconciliation ok={rec['ok']} "
      + ", ".join(f"{k}: harness {v['harness']} target {v['target']} lost {v['lost']} duplicated {v['duplicated']}"
                  for k, v in rec["services"].items()))
PY
