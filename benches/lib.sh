# shellcheck shell=bash
# Shared by the bench scripts (sourced, not run): what each of them needs to
# find its builds and to point a scenario at a target on this machine.

# The cargo target folder of this workspace (CARGO_TARGET_DIR included).
cargo_target_dir() {
  cargo metadata --format-version 1 --no-deps | sed -E 's/.*"target_directory":"([^"]+)".*/\1/'
}

# The [target] and [credentials] tables of a scenario that sends to URL on
# this machine only, with the credentials read from three environment
# variables (default MSS_USERNAME, MSS_PASSWORD, MSS_CLIENT_ID).
# Usage: local_target_toml URL [USERNAME_ENV PASSWORD_ENV CLIENT_ID_ENV]
local_target_toml() {
  cat <<TOML
[target]
url = "$1"
allowed_hosts = ["127.0.0.1"]
[credentials]
username_env = "${2:-MSS_USERNAME}"
password_env = "${3:-MSS_PASSWORD}"
client_id_env = "${4:-MSS_CLIENT_ID}"
TOML
}

# The [load] table of one open-model stage: RATE requests/s for DURATION
# (humantime, e.g. "30s"), at most MAX_IN_FLIGHT requests in flight.
# Usage: open_load_toml RATE DURATION MAX_IN_FLIGHT
open_load_toml() {
  cat <<TOML
[load]
model = "open"
stages = [{ rate = $1, duration = "$2" }]
max_in_flight = $3
TOML
}
