#!/usr/bin/env bash
# Runs the curl walkthrough of README.md, exactly as written, against a freshly
# started mss-mock on its default address, and checks the final stats.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p mss-mock
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]+)".*/\1/')
"$target_dir/debug/mss-mock" >/tmp/mss-mock-walkthrough.log 2>&1 &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf http://127.0.0.1:8062/__admin/stats >/dev/null && break
  sleep 0.1
done
script=$(awk '/<!-- walkthrough:start -->/{on=1; next} /<!-- walkthrough:end -->/{on=0} on && !/^```/' README.md)
[ -n "$script" ] || { echo "no walkthrough found in README.md"; exit 1; }
out=$(bash -euo pipefail -c "$script")
echo "$out"
echo "$out" | tail -n 1 | grep -q '"ReportarAfiliaciontraslado":{"accepted":1' \
  || { echo "walkthrough: affiliation not accepted"; exit 1; }
echo "$out" | tail -n 1 | grep -q '"ReportarRetractoAfiliacion":{"accepted":1' \
  || { echo "walkthrough: retraction not accepted"; exit 1; }
echo "walkthrough: ok"
