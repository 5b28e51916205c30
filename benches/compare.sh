#!/usr/bin/env bash
# The bench the harness's efficiency is judged by (issue 17): what one core of
# senders gets out of one core of target, the harness beside bare senders.
#
# Targets, alone on core 0, one after the other:
#   minimal  mock_server/examples/minimal_target.rs: /token answers a fixed token, a report
#            is parsed as JSON and answered with the accepted envelope, no
#            validation and no storage (the ceiling of any target);
#   mock     mss-mock with its demo configuration (full validation, storage).
# Senders, on core 1, interleaved within each round (A B C D A B C D ...):
#   wrk      wrk with benches/wrk_unique.lua (C, the floor of per-request cost);
#   reqwest  benches/bare_reqwest.rs: N tokio tasks posting a static body;
#   goose    benches/bare_goose.rs: bare Goose, N users, the same body;
#   harness  mss-harness run, closed model, N users, full work (generated
#            payloads, token cache, HDR metrics), built as users build it.
# Every run lasts SECONDS_PER_RUN; each sender gets N connections. Each run
# prints req/s, CPU µs per request of the sender (user + sys time from
# /usr/bin/time over the requests it got answered), peak RSS and p99 where the
# sender measures it; at the end, per target and connection count, medians and
# ranges (min–max) over the rounds, the ratios harness / reqwest, harness /
# Goose, harness / wrk, and mss-mock / minimal target per sender
# (benches/compare_summary.py), all of it also written as JSON.
#
# Usage: benches/compare.sh [--json FILE] [--against OLD_JSON] [CONNECTIONS...]
#        (default connections: 10 1000)
# Environment:
#   ROUNDS (default 3), SECONDS_PER_RUN (default 15), PORT (default 18062),
#   TARGETS (default "minimal mock"), SENDERS (default "wrk reqwest goose harness"),
#   PROFILE (cargo profile of every build, default release: `cargo build
#   --release`, as users build it; `dist` for the fat-LTO build),
#   NO_BUILD (set: run the builds already in target/, build nothing),
#   JSON_OUT (same as --json), AGAINST (same as --against: print this run's
#   medians over those of an earlier JSON),
#   BASELINE_HARNESS (path to another build of mss-harness, e.g. one built from
#   the commit before a change: it then sends in every round too, interleaved,
#   and the ratio "harness/baseline" is printed).
# wrk sends a new affiliation in every request (benches/wrk_unique.lua: a unique
# numeroRadicado and numeroDocumento), so against mss-mock every request is
# validated and stored; after each run against the mock the script reads the
# mock's own handler time (p99.9, max) and the records it holds from
# /__admin/stats. The other senders repeat one body (benches/body.json).
# wrk: when it is missing the script installs it with apt-get (as root or with
# password-less sudo); when it cannot, it says so and runs without it.
# The machine's own share: each run records the time stolen from the target's
# core and from the sender's (the steal column of /proc/stat; on a shared VM
# the hypervisor gives a busy core to other guests), and before the rounds the
# script measures the machine's own pauses for PAUSE_SECONDS (default 10; 0
# skips it): benches/platform_pauses.py on the target's core, the sender's core
# kept busy, no target. A target's worst handler time below that floor cannot
# be told from the machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

json_out=${JSON_OUT:-}
against=${AGAINST:-}
conns_list=()
while [ $# -gt 0 ]; do
  case "$1" in
    --json) json_out=$2; shift 2 ;;
    --against) against=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) conns_list+=("$1"); shift ;;
  esac
done
[ ${#conns_list[@]} -gt 0 ] || conns_list=(10 1000)
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-15}
port=${PORT:-18062}
profile=${PROFILE:-release}
read -r -a targets <<<"${TARGETS:-minimal mock}"
read -r -a senders <<<"${SENDERS:-wrk reqwest goose harness}"
[ -z "${BASELINE_HARNESS:-}" ] || senders+=(baseline)
base="http://127.0.0.1:$port"
for t in "${targets[@]}"; do
  case "$t" in minimal | mock) ;; *) echo "unknown target $t (minimal, mock)" >&2; exit 2 ;; esac
done
for s in "${senders[@]}"; do
  case "$s" in wrk | reqwest | goose | harness | baseline) ;; *) echo "unknown sender $s (wrk, reqwest, goose, harness)" >&2; exit 2 ;; esac
done

have_wrk() { command -v wrk >/dev/null 2>&1; }
if [[ " ${senders[*]} " == *" wrk "* ]] && ! have_wrk; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; }; then
    sudo_=()
    [ "$(id -u)" -eq 0 ] || sudo_=(sudo -n)
    echo "wrk is missing: installing it from the distribution's packages (apt-get install wrk)"
    "${sudo_[@]}" apt-get install -y -q wrk >/dev/null 2>&1 \
      || { "${sudo_[@]}" apt-get update -q >/dev/null 2>&1 && "${sudo_[@]}" apt-get install -y -q wrk >/dev/null 2>&1; } || true
  fi
  if ! have_wrk; then
    echo "wrk is missing and could not be installed (apt-get install wrk needs root): SKIPPING the wrk sender"
    kept=()
    for s in "${senders[@]}"; do [ "$s" = wrk ] || kept+=("$s"); done
    senders=("${kept[@]}")
  fi
fi

# The harness alone, as users build it; the mock and the minimal target; the
# bare senders apart (building them with the harness would add its
# dev-dependencies' features to the harness's build).
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --profile "$profile" -q --bin mss-harness -p mss-harness
  cargo build --profile "$profile" -q -p mss-mock --bin mss-mock --example minimal_target
  cargo build --profile "$profile" -q -p mss-harness --example bare_goose --example bare_reqwest
fi
target_dir=$(cargo_target_dir)
bin="$target_dir/$profile"
[ "$profile" != dev ] || bin="$target_dir/debug"
work=$(mktemp -d)
server=
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# The demo configuration's Porvenir client (mock_server/mock.toml); the
# minimal target accepts any.
export MSS_USERNAME=porvenir-demo MSS_PASSWORD=solo-para-el-mock MSS_CLIENT_ID=porvenir-ambos
form="grant_type=password&username=$MSS_USERNAME&password=$MSS_PASSWORD&client_id=$MSS_CLIENT_ID"

token() {
  curl -sf -X POST -H 'content-type: application/x-www-form-urlencoded' --data "$form" "$base/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

start_target() {
  case "$1" in
    minimal) taskset -c 0 "$bin/examples/minimal_target" "127.0.0.1:$port" >"$work/target.log" 2>&1 & ;;
    mock) taskset -c 0 "$bin/mss-mock" --listen "127.0.0.1:$port" >"$work/target.log" 2>&1 & ;;
    *) echo "unknown target $1 (minimal, mock)" >&2; exit 2 ;;
  esac
  server=$!
  for _ in $(seq 1 100); do token >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "target $1 did not answer /token:" >&2; cat "$work/target.log" >&2; exit 1
}

stop_target() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=; }

# The mock's records and handler times from the previous run go, so every run
# starts alike.
reset_target() {
  [ "$1" != mock ] || curl -sf -X POST "$base/__admin/reset" >/dev/null
}

# After a run against the mock: its handler time p99.9 and max (µs) and the
# records it holds ("- - -" for the minimal target, which measures nothing).
target_stats() {
  if [ "$1" != mock ]; then echo "- - -"; return; fi
  curl -sf "$base/__admin/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
h = s["handler_us"]
print(h["p999"], h["max"], s["records"]["kept"])' 2>/dev/null || echo "- - -"
}

scenario() {
  cat >"$work/compare.toml" <<TOML
name = "compare"
$(local_target_toml "$base")
[load]
model = "closed"
users = $1
run_time = "${seconds}s"
[mix]
ReportarAfiliaciontraslado = 1
ReportarRetractoAfiliacion = 0
TOML
}

# The harness's requests and p99 (ms) from its summary.json.
harness_result() {
  python3 - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
services = s["services"].values()
n = sum(v["requests"] for v in services)
p99 = max((v["latency_us"]["p99"] for v in services if v["requests"]), default=0) / 1000
errors = sum(sum(v.get("errors", {}).values()) for v in services)
print(n, p99, errors)
PY
}

# One run of sender $1 with $2 connections: prints "requests p99_ms errors"
# (p99 "-" when the sender does not measure it), /usr/bin/time's "%M %U %S"
# going to $work/time.
run_sender() {
  local sender=$1 conns=$2 out="$work/$1.out" err="$work/$1.err"
  local timed=(/usr/bin/time -f "%M %U %S" -o "$work/time" taskset -c 1)
  case "$sender" in
    harness | baseline)
      local exe="$bin/mss-harness"
      [ "$sender" = harness ] || exe=$BASELINE_HARNESS
      rm -rf "$work/run"
      "${timed[@]}" "$exe" run "$work/compare.toml" --out "$work/run" >"$out" 2>"$err" || true
      if [ -f "$work/run/summary.json" ]; then harness_result "$work/run/summary.json"; else echo "0 - -"; fi
      ;;
    goose)
      "${timed[@]}" "$bin/examples/bare_goose" "$base" "$conns" "$seconds" >"$out" 2>"$err" || true
      awk '/req_per_s/ {print $2, "-", "-"; found=1} END {if (!found) print "0 - -"}' "$out"
      ;;
    reqwest)
      "${timed[@]}" "$bin/examples/bare_reqwest" "$base" "$conns" "$seconds" >"$out" 2>"$err" || true
      awk '/req_per_s/ {print $2, $10, $8; found=1} END {if (!found) print "0 - -"}' "$out"
      ;;
    wrk)
      BENCH_BODY=benches/body.json BENCH_TOKEN=$(token) "${timed[@]}" wrk -t1 -c"$conns" -d"${seconds}s" \
        --timeout 10s -s benches/wrk_unique.lua "$base/ReportarAfiliaciontraslado" >"$out" 2>"$err" || true
      awk '/^wrk_result/ {print $3, $9 / 1000, $7; found=1} END {if (!found) print "0 - -"}' "$out"
      ;;
    *) echo "unknown sender $sender (wrk, reqwest, goose, harness)" >&2; exit 2 ;;
  esac
}

# "steal total" jiffies of core $1, from /proc/stat ("0 0" where unreadable).
core_ticks() {
  awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9 && i <= NF; i++) t += $i; print (NF >= 9 ? $9 : 0), t; found = 1}
    END {if (!found) print 0, 0}' /proc/stat 2>/dev/null || echo "0 0"
}

# Percent of the ticks between two core_ticks readings that were stolen.
steal_pct() {
  awk -v a="$1" -v b="$2" 'BEGIN {split(a, x, " "); split(b, y, " "); t = y[2] - x[2]
    if (t > 0) printf "%.1f\n", 100 * (y[1] - x[1]) / t; else print "-"}'
}

platform=()
pause_seconds=${PAUSE_SECONDS:-10}
if [ "$pause_seconds" != 0 ]; then
  taskset -c 1 python3 -c 'import time
end = time.monotonic() + float(__import__("sys").argv[1])
while time.monotonic() < end: pass' "$((pause_seconds + 1))" &
  busy=$!
  line=$(taskset -c 0 python3 benches/platform_pauses.py "$pause_seconds")
  wait "$busy" || true
  echo "the machine's own pauses (core 0, core 1 busy, no target): ${line#platform_pauses }"
  for kv in ${line#platform_pauses }; do platform+=(--meta "platform_pauses_$kv"); done
fi

runs="$work/runs.tsv"
: >"$runs"
for target in "${targets[@]}"; do
  start_target "$target"
  for conns in "${conns_list[@]}"; do
    scenario "$conns"
    for round in $(seq 1 "$rounds"); do
      for sender in "${senders[@]}"; do
        reset_target "$target"
        t0=$(core_ticks 0) s0=$(core_ticks 1)
        read -r requests p99 errors < <(run_sender "$sender" "$conns")
        st=$(steal_pct "$t0" "$(core_ticks 0)") ss=$(steal_pct "$s0" "$(core_ticks 1)")
        read -r h999 hmax records < <(target_stats "$target")
        # The last line: a failing sender's first one says how it exited.
        read -r rss user sys < <(tail -1 "$work/time")
        read -r rps cpu < <(awk -v n="$requests" -v s="$seconds" -v u="$user" -v y="$sys" \
          'BEGIN {cpu = "-"; if (n > 0) cpu = sprintf("%.2f", (u + y) * 1e6 / n); printf "%.1f %s\n", n / s, cpu}')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$conns" "$round" "$sender" \
          "$requests" "$seconds" "$rps" "$cpu" "$rss" "$p99" "$errors" "$h999" "$hmax" "$records" "$st" "$ss" >>"$runs"
        printf '%-7s %5s conns round %s %-8s %9.0f req/s %7s CPU µs/req %8s KB peak RSS p99 %7s ms errors %s steal %s%%/%s%%' \
          "$target" "$conns" "$round" "$sender" "$rps" "$cpu" "$rss" "$p99" "$errors" "$st" "$ss"
        [ "$target" != mock ] || printf '  mock handler p99.9 %s µs max %s µs records %s' "$h999" "$hmax" "$records"
        echo
        [ "$requests" != 0 ] || { echo "  (no answer: last lines of its stderr follow)"; tail -3 "$work/$sender.err" | sed 's/^/  /'; }
      done
    done
  done
  stop_target
done

summary=(python3 benches/compare_summary.py "$runs"
  --meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" --meta "host=$(hostname)"
  --meta "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
  --meta "cores=$(nproc)" --meta "kernel=$(uname -r)"
  --meta "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  --meta "profile=$profile" --meta "rounds=$rounds" --meta "seconds_per_run=$seconds"
  --meta "targets=${targets[*]}" --meta "senders=${senders[*]}" --meta "connections=${conns_list[*]}"
  --meta "baseline_harness=${BASELINE_HARNESS:-}" ${platform[@]+"${platform[@]}"})
[ -z "$json_out" ] || summary+=(--json "$json_out")
[ -z "$against" ] || summary+=(--against "$against")
"${summary[@]}"
