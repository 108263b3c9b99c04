# Shared by the scripts: repository root, progress lines, the project's tools on PATH.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$ROOT/.venv/bin:$HOME/.cargo/bin:$PATH"

# A step's title, after the minutes and seconds its script has run so far.
step() { printf '\n\033[1m==> [%d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
# No network calls from the CDK CLI: no telemetry, no version check.
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=true

# The Lambda packages, selected together in every `cargo lambda build`, as
# cdk/lib/functions.ts's bundling selects them: features resolve alike, so each build
# reuses the others' artifacts.
LAMBDA_PACKAGES=(--package crm-api --package erp-processor --package outbox-relay --package reconciler)

# Whether STAMP holds HASH: what was installed is what the lock file asks for.
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# Creates or refreshes the venv DIR from the pinned REQUIREMENTS when that file changed (its
# hash is stamped into the venv); extra arguments go to pip. Fails (returns 1) when the venv
# was already up to date, so `if ensure_venv …` tells whether it installed. Every command
# checks its own status: `set -e` does not apply inside a condition.
ensure_venv() {
  local dir=$1 req=$2 hash pip; shift 2
  hash="$(sha256sum "$req" | cut -d' ' -f1)" || die "cannot read $req"
  stamp_ok "$dir/.requirements.sha256" "$hash" && return 1
  step "Python packages into $dir ($req)"
  [ -x "$dir/bin/python" ] || python3 -m venv "$dir" || die "python3 -m venv $dir failed"
  pip=("$dir/bin/python" -m pip install --quiet --disable-pip-version-check)
  "${pip[@]}" --upgrade pip && "${pip[@]}" "$@" -r "$req" || die "pip install -r $req failed"
  echo "$hash" >"$dir/.requirements.sha256"
}
