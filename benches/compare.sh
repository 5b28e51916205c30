#!/usr/bin/env bash
# Efficiency of the harness against a bare Goose load test, measured in one run.
#
# mss-mock runs alone on core 0; on core 1, in turn (A B A B ...), the harness
# (closed model, full work: generated payloads, token cache, HDR metrics) and
# bare Goose (benches/bare_goose.rs: one static body) send with the same number
# of users for SECONDS each. Prints req/s and peak RSS of each run and the
# ratios of the medians. Goal: harness >= 90% of bare Goose in req/s, and peak
# RSS no more than 10% above bare Goose.
#
# Usage: benches/compare.sh [USERS...]      (default: 10 1000)
# Environment: ROUNDS (default 3), SECONDS_PER_RUN (default 15), PORT (default 18062),
# BASELINE_HARNESS (path to another build of mss-harness, e.g. one built from the
# commit before a change: it then sends in every round too, interleaved, and the
# ratio "this build / baseline build" is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-15}
port=${PORT:-18062}
users_list=("$@")
[ ${#users_list[@]} -gt 0 ] || users_list=(10 1000)

# Both load generators are built alike, with the `dist` profile (fat LTO) that
# load generation should use.
cargo build --profile dist -q -p mss-mock --bin mss-mock
cargo build --profile dist -q --bin mss-harness --example bare_goose
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]+)".*/\1/')
bin="$target_dir/dist"
work=$(mktemp -d)
trap 'kill $mock 2>/dev/null || true; rm -rf "$work"' EXIT

taskset -c 0 "$bin/mss-mock" --listen "127.0.0.1:$port" >"$work/mock.log" 2>&1 &
mock=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/__admin/stats" >/dev/null && break; sleep 0.1; done

# The demo configuration's Porvenir client (mock_server/mock.toml).
export MSS_USERNAME=porvenir-demo MSS_PASSWORD=solo-para-el-mock MSS_CLIENT_ID=porvenir-ambos

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for users in "${users_list[@]}"; do
  cat >"$work/compare.toml" <<TOML
name = "compare"
[target]
url = "http://127.0.0.1:$port"
allowed_hosts = ["127.0.0.1"]
[credentials]
username_env = "MSS_USERNAME"
password_env = "MSS_PASSWORD"
client_id_env = "MSS_CLIENT_ID"
[load]
model = "closed"
users = $users
run_time = "${seconds}s"
[mix]
ReportarAfiliaciontraslado = 1
ReportarRetractoAfiliacion = 0
TOML
  : >"$work/h.rps"; : >"$work/g.rps"; : >"$work/h.rss"; : >"$work/g.rss"; : >"$work/b.rps"; : >"$work/b.rss"
  for round in $(seq 1 "$rounds"); do
    curl -sf -X POST "http://127.0.0.1:$port/__admin/reset" >/dev/null
    /usr/bin/time -f "%M" -o "$work/rss" taskset -c 1 "$bin/mss-harness" run "$work/compare.toml" \
      --out "$work/run" >"$work/h.out" 2>"$work/h.err" || true
    h=$(python3 -c "import json;s=json.load(open('$work/run/summary.json'));print(sum(v['requests'] for v in s['services'].values())/$seconds)")
    echo "$h" >>"$work/h.rps"; cat "$work/rss" >>"$work/h.rss"
    curl -sf -X POST "http://127.0.0.1:$port/__admin/reset" >/dev/null
    /usr/bin/time -f "%M" -o "$work/rss" taskset -c 1 "$bin/examples/bare_goose" "http://127.0.0.1:$port" "$users" "$seconds" \
      >"$work/g.out" 2>"$work/g.err" || true
    g=$(awk '/req_per_s/ {print $6}' "$work/g.out")
    echo "$g" >>"$work/g.rps"; cat "$work/rss" >>"$work/g.rss"
    if [ -n "${BASELINE_HARNESS:-}" ]; then
      curl -sf -X POST "http://127.0.0.1:$port/__admin/reset" >/dev/null
      rm -rf "$work/base"
      /usr/bin/time -f "%M" -o "$work/rss" taskset -c 1 "$BASELINE_HARNESS" run "$work/compare.toml" \
        --out "$work/base" >"$work/b.out" 2>"$work/b.err" || true
      b=$(python3 -c "import json;s=json.load(open('$work/base/summary.json'));print(sum(v['requests'] for v in s['services'].values())/$seconds)")
      echo "$b" >>"$work/b.rps"; cat "$work/rss" >>"$work/b.rss"
      printf 'users %5s round %s: baseline build %8.0f req/s %7s KB\n' "$users" "$round" "$b" "$(tail -1 "$work/b.rss")"
    fi
    printf 'users %5s round %s: harness %8.0f req/s %7s KB | bare goose %8.0f req/s %7s KB\n' \
      "$users" "$round" "$h" "$(tail -1 "$work/h.rss")" "${g:-0}" "$(tail -1 "$work/g.rss")"
  done
  hm=$(median <"$work/h.rps"); gm=$(median <"$work/g.rps")
  hr=$(median <"$work/h.rss"); gr=$(median <"$work/g.rss")
  if [ -n "${BASELINE_HARNESS:-}" ]; then
    bm=$(median <"$work/b.rps"); br=$(median <"$work/b.rss")
    python3 -c "print(f'users $users: median this build $hm req/s, baseline build $bm req/s, ratio {float($hm)/max(float($bm),1e-9):.3f}; peak RSS this build $hr KB, baseline build $br KB')"
  fi
  python3 -c "print(f'users $users: median harness $hm req/s, bare goose $gm req/s, ratio {float($hm)/max(float($gm),1e-9):.2f}; peak RSS harness $hr KB, bare goose $gr KB, ratio {float($hr)/max(float($gr),1e-9):.2f}')"
done
