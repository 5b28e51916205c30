#!/usr/bin/env bash
# A feeder's memory (issue 34): a file of ROWS affiliations (default 10
# million, CSV, about 1.6 GB) must not be held in memory — the harness keeps
# a sparse index of it (8 bytes per 64 rows) and reads rows from the file.
#
# The script writes the file in a temporary folder (1,000 distinct valid rows
# from `mss-harness payload`, repeated: the check reads every row all the
# same), then measures the peak resident set (`/usr/bin/time -v`, "Maximum
# resident set size") of
#   1. `run --dry-run`, which reads and checks every row and builds the index;
#   2. a short run against the embedded mock (RATE requests/s for DURATION,
#      strategy shuffle: every row read through the index at random), and the
#      same run without the feeder, whose difference is what the feeder costs.
# It prints each peak in MB with the time it took, and removes the folder.
#
# Usage: benches/feeder_rss.sh
# Environment: ROWS (default 10000000), RATE (default 2000), DURATION
#   (default 5s), PROFILE (default release), NO_BUILD (set: build nothing),
#   KEEP (set: keep the temporary folder).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
. benches/lib.sh

rows=${ROWS:-10000000}
rate=${RATE:-2000}
duration=${DURATION:-5s}
profile=${PROFILE:-release}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --profile "$profile" --bin mss-harness
fi
folder=$profile
[ "$profile" = dev ] && folder=debug
bin="$(cargo_target_dir)/$folder/mss-harness"
work=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

"$bin" payload --count 1000 --seed 7 >"$work/payload.jsonl"
python3 - "$work/payload.jsonl" "$work/afiliados.csv" "$rows" <<'PY'
import csv, io, json, sys
source, target, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
records = [json.loads(line) for line in open(source)]
for r in records:
    r.pop("numeroRadicado")
fields = sorted({k for r in records for k in r})
block = io.StringIO()
w = csv.writer(block, lineterminator="\n")
for r in records:
    w.writerow([r.get(f, "") for f in fields])
block = block.getvalue()
with open(target, "w") as out:
    out.write(",".join(fields) + "\n")
    for _ in range(rows // len(records)):
        out.write(block)
    rest = rows % len(records)
    out.write("".join(block.splitlines(keepends=True)[:rest]))
PY
echo "feeder file: $rows rows, $(du -m "$work/afiliados.csv" | cut -f1) MB"

scenario() {
  cat <<TOML
name = "feeder-rss"
[target]
url = "mock"
$(open_load_toml "$rate" "$duration" 200)
[mix]
ReportarAfiliaciontraslado = 1
TOML
  if [ "$1" = feeder ]; then
    printf '[data]\nfile = "afiliados.csv"\nstrategy = "shuffle"\n'
  fi
}
scenario feeder >"$work/feeder.toml"
scenario none >"$work/none.toml"

# Peak RSS (MB) and wall time of a command; its output kept in $work/last.
peak() {
  local status=0 kb wall
  /usr/bin/time -v "$@" >"$work/last" 2>&1 || status=$?
  # 1: a run that did not meet its plan (a loaded machine) still measured.
  if [ "$status" -gt 1 ]; then
    cat "$work/last" >&2
    echo "failed: $*" >&2
    exit 2
  fi
  kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/last")
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/last")
  echo "$((kb / 1024)) MB peak RSS, $wall wall"
}

echo "dry run (every row read and checked, index built): $(peak "$bin" run "$work/feeder.toml" --dry-run)"
grep feeder "$work/last" || true
echo "run with the feeder ($rate req/s for $duration, shuffle): $(peak "$bin" run "$work/feeder.toml" --out "$work/out-feeder")"
echo "same run without the feeder: $(peak "$bin" run "$work/none.toml" --out "$work/out-none")"
