#!/usr/bin/env bash
# The cost of `run --dashboard`, measured in one script run.
#
# mss-mock runs alone on core 0; on core 1, in turn (A B A B ...), the harness
# sends an open-model load at RATE req/s for SECONDS, without the dashboard (A)
# and with it (B) — while a watcher on core 0 holds the page's event stream
# open (a browser) and scrapes /metrics every second (a Prometheus). Prints each
# run's accepted req/s, p99, dropped requests and the harness's CPU seconds,
# the events the watcher received per second of load, and the ratios of the
# medians (B / A). Goal: accepted req/s ratio >= 0.98.
#
# Usage: benches/dashboard.sh
# Environment: RATE (default 1000), SECONDS_PER_RUN (default 15), ROUNDS
# (default 3), PORT (default 18063), DASHBOARD_PORT (default 18064), BIN (a
# folder with mss-harness and mss-mock; default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh
rate=${RATE:-1000}
seconds=${SECONDS_PER_RUN:-15}
rounds=${ROUNDS:-3}
port=${PORT:-18063}
dport=${DASHBOARD_PORT:-18064}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p mss-mock --bin mss-mock
  cargo build --release -q --bin mss-harness
  target_dir=$(cargo_target_dir)
  BIN="$target_dir/release"
fi
work=$(mktemp -d)
watcher=""
trap 'kill $mock ${watcher} 2>/dev/null || true; rm -rf "$work"' EXIT

taskset -c 0 "$BIN/mss-mock" --listen "127.0.0.1:$port" >"$work/mock.log" 2>&1 &
mock=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/__admin/stats" >/dev/null && break; sleep 0.1; done

# The demo configuration's Porvenir client (mock_server/mock.toml).
export MSS_USERNAME=porvenir-demo MSS_PASSWORD=solo-para-el-mock MSS_CLIENT_ID=porvenir-ambos
cat >"$work/dashboard.toml" <<TOML
name = "dashboard-bench"
$(local_target_toml "http://127.0.0.1:$port")
$(open_load_toml "$rate" "${seconds}s" 500)
TOML

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# accepted req/s, p99 ms (worst service), dropped, from a summary.json.
read_summary() {
  python3 - "$1" "$seconds" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
services = s["services"].values()
accepted = sum(v["accepted"] for v in services)
p99 = max(v["latency_us"]["p99"] for v in services) / 1000
print(f"{accepted / float(sys.argv[2]):.1f} {p99:.1f} {s['dropped']}")
PY
}

# One run; $1 = A (no dashboard) or B (with it, watched and scraped).
run() {
  local kind=$1 args=() events=0
  rm -rf "$work/run"
  curl -sf -X POST "http://127.0.0.1:$port/__admin/reset" >/dev/null
  if [ "$kind" = B ]; then
    args=(--dashboard=127.0.0.1:"$dport" --dashboard-linger 1s)
    (
      # Wait for the dashboard, then: a browser on the event stream, and a
      # scrape of /metrics every second.
      for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$dport/snapshot.json" >/dev/null && break; sleep 0.05; done
      taskset -c 0 curl -sN "http://127.0.0.1:$dport/events" >"$work/events" 2>/dev/null &
      while curl -sf "http://127.0.0.1:$dport/metrics" >/dev/null; do sleep 1; done
      wait
    ) &
    watcher=$!
  fi
  /usr/bin/time -f "%U %S" -o "$work/cpu" taskset -c 1 "$BIN/mss-harness" run "$work/dashboard.toml" \
    --out "$work/run" "${args[@]}" >"$work/h.out" 2>"$work/h.err" || true
  if [ "$kind" = B ]; then
    wait "$watcher" 2>/dev/null || true
    watcher=""
    events=$(python3 -c "import json,sys
n=0
for l in open('$work/events'):
    if l.startswith('data: ') and json.loads(l[6:]).get('phase') == 'running': n+=1
print(n)")
  fi
  local cpu
  cpu=$(awk '{print $1 + $2}' "$work/cpu")
  echo "$(read_summary "$work/run/summary.json") $cpu $events"
}

: >"$work/A"; : >"$work/B"
for round in $(seq 1 "$rounds"); do
  for kind in A B; do
    line=$(run "$kind")
    echo "$line" >>"$work/$kind"
    read -r acc p99 dropped cpu events <<<"$line"
    label=$([ "$kind" = A ] && echo "without" || echo "with   ")
    extra=
    [ "$kind" != B ] || extra=" | page events while running: $events in ${seconds} s"
    printf 'round %s %s --dashboard: %8.1f accepted req/s  p99 %7.1f ms  dropped %5s  CPU %5.2f s%s\n' \
      "$round" "$label" "$acc" "$p99" "$dropped" "$cpu" "$extra"
  done
done
ma=$(cut -d' ' -f1 "$work/A" | median); mb=$(cut -d' ' -f1 "$work/B" | median)
ca=$(cut -d' ' -f4 "$work/A" | median); cb=$(cut -d' ' -f4 "$work/B" | median)
pa=$(cut -d' ' -f2 "$work/A" | median); pb=$(cut -d' ' -f2 "$work/B" | median)
python3 -c "
ma, mb, ca, cb, pa, pb = $ma, $mb, $ca, $cb, $pa, $pb
print(f'median accepted req/s: without {ma:.1f}, with {mb:.1f}, ratio {mb / max(ma, 1e-9):.3f} (goal >= 0.98)')
print(f'median p99: without {pa:.1f} ms, with {pb:.1f} ms; median CPU: without {ca:.2f} s, with {cb:.2f} s, ratio {cb / max(ca, 1e-9):.3f}')
"
