#!/usr/bin/env bash
# `make run`: serves the function locally, against real AWS DynamoDB Local and
# moto's SSM, through `cargo lambda watch` (which routes the real paths, see
# [package.metadata.lambda.watch.router] in Cargo.toml, and rebuilds on change);
# and the change-events function behind the table's stream.
#
#   1. starts the stack on DYNAMODB_PORT (8000) and SSM_PORT (5000, moto: also
#      EventBridge and SQS), or reuses the one `make stack-up` left running;
#   2. creates TABLE_NAME (customers, with its stream) and writes the keys
#      parameter API_KEYS_PARAMETER (/customers-api/api-keys); creates the bus
#      EVENT_BUS_NAME (customers-events), the queue EVENTS_QUEUE
#      (customers-events) and the rule between them;
#   3. runs `cargo lambda watch --invoke-port PORT` (9000) with those variables;
#   4. runs scripts/stream_poller.py, which reads the table's stream and
#      invokes `customers-events` through the watcher, as Lambda's event source
#      mapping would (EVENT_DETAIL: full, changes or ids);
#   5. once the function answers (the first build takes minutes), seeds the
#      example customer and prints the URL, the local keys, a curl example and
#      how to watch the events.
#
# Ctrl-C stops the watcher, the functions, the poller and the stack this
# script started.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=run
cd "$ROOT"

PORT="${PORT:-9000}"
INVOKE_ADDRESS="${INVOKE_ADDRESS:-127.0.0.1}"
export TABLE_NAME="${TABLE_NAME:-customers}"
export API_KEYS_PARAMETER="${API_KEYS_PARAMETER:-/customers-api/api-keys}"
export EVENT_BUS_NAME="${EVENT_BUS_NAME:-customers-events}"
export EVENTS_QUEUE="${EVENTS_QUEUE:-customers-events}"
EVENT_DETAIL="${EVENT_DETAIL:-full}"
RUST_LOG="${RUST_LOG:-info}" # for the function only (cargo-lambda reads it too)
READY_TIMEOUT="${FUNCTION_READY_TIMEOUT:-1800}"

"$ROOT/scripts/prereqs.sh" || exit 1
require_tools
[[ "$PORT" =~ ^[0-9]+$ ]] || die "PORT=$PORT is not a port number"
port_is_free "$PORT" || die "port $PORT is already in use (another 'make run'?); set PORT=..."

stack_dir="$LOCAL_DIR/dev" # shared with `make stack-up` / `make stack-down`
run_dir="$LOCAL_DIR/run"
mkdir -p "$run_dir"
own_stack=0
watch_pid=""
seed_pid=""
poller_pid=""

# shellcheck disable=SC2317 # called from traps
cleanup() {
	local code=$?
	trap - EXIT INT TERM HUP
	# A closed output pipe (`make run | tee log`, tee stopped by the same
	# Ctrl-C) must fail our log writes, not kill this script mid-cleanup.
	trap '' PIPE
	set +e # stop everything, whatever fails (e.g. writing to a closed terminal)
	printf '\n' >&2 2>/dev/null
	log "stopping..."
	if [[ -n "$seed_pid" ]]; then
		stop_pid "$seed_pid" "seed.py" "seed"
	fi
	if [[ -n "$poller_pid" ]]; then
		stop_pid "$poller_pid" "stream_poller.py" "stream poller"
	fi
	if [[ -n "$watch_pid" ]]; then
		stop_pid "$watch_pid" "lambda" "cargo lambda watch"
		rm -f "$run_dir/watch.pid"
	fi
	if ((own_stack)); then
		"$ROOT/scripts/stack.sh" down --dir "$stack_dir"
	else
		log "leaving the stack from 'make stack-up' running ('make stack-down' stops it)"
	fi
	log "stopped"
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# A watcher left behind by a run that was killed with SIGKILL.
if [[ -f "$run_dir/watch.pid" ]]; then
	stop_pid "$(cat "$run_dir/watch.pid")" "lambda" "old cargo lambda watch"
	rm -f "$run_dir/watch.pid"
fi

if "$ROOT/scripts/stack.sh" status --dir "$stack_dir" 2>/dev/null; then
	log "reusing the stack started by 'make stack-up' ($stack_dir)"
else
	own_stack=1
	"$ROOT/scripts/stack.sh" up --dir "$stack_dir"
fi
load_env_file "$stack_dir/env"
"$VENV/bin/python" "$ROOT/scripts/provision.py"

# Everything the function reads, also handed to the watcher explicitly so that
# the function process gets it whatever the watcher passes through. The same
# file configures customers-admin from another shell:
#   set -a; . .local/run/function.env; set +a; cargo run --bin customers-admin -- check
{
	grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$stack_dir/env"
	printf '%s\n' "TABLE_NAME=$TABLE_NAME" "API_KEYS_PARAMETER=$API_KEYS_PARAMETER" "RUST_LOG=$RUST_LOG"
	# For customers-events (the watcher hands both functions one file).
	printf '%s\n' "EVENT_BUS_NAME=$EVENT_BUS_NAME" "EVENT_DETAIL=$EVENT_DETAIL"
} >"$run_dir/function.env"

# The watcher restarts the function on any change it does not ignore (it reads
# .gitignore): also ignore what cannot change the binary, git's own files
# above all, so that commits and test edits do not restart it.
if [[ -z "${CARGO_LAMBDA_IGNORE_FILE:-}" ]]; then
	cat >"$run_dir/watch.ignore" <<-'EOF'
		/.git/
		/.ci/
		/.local/
		/.venv/
		/node_modules/
		/scripts/
		/tools/
		/tests/
		/benches/
		/fuzz/
		/events/
		/seeds/
		*.md
		*.yaml
		*.yml
		*.json
		*.swp
		*~
	EOF
	export CARGO_LAMBDA_IGNORE_FILE="$run_dir/watch.ignore"
fi

export PATH="$VENV/bin:$PATH" # `cargo lambda` is the cargo-lambda binary from .venv
base="http://127.0.0.1:$PORT"
log "starting 'cargo lambda watch' on $base (the first build can take several minutes)"
# --disable-cors: the emulator would otherwise answer OPTIONS itself and add
# CORS headers that the deployed HTTP API (no CORS configuration) does not send.
start_bg "$ROOT" - env -u RUST_LOG cargo lambda watch --disable-cors --invoke-address "$INVOKE_ADDRESS" --invoke-port "$PORT" \
	--env-file "$run_dir/function.env"
watch_pid="$STARTED_PID"
echo "$watch_pid" >"$run_dir/watch.pid"

# The stream to customers-events through the same watcher (it builds the
# second binary on the first invocation).
start_bg "$ROOT" - "$VENV/bin/python" "$ROOT/scripts/stream_poller.py" --invoke-url "$base" --table "$TABLE_NAME"
poller_pid="$STARTED_PID"

# Wait for the function, seed the example customer and print the banner, in
# the background so this shell can wait on the watcher (a watcher that dies
# ends the run). seed.py reports a failed seed clearly; serving goes on.
start_bg "$ROOT" - "$VENV/bin/python" "$ROOT/scripts/seed.py" --url "$base" --timeout "$READY_TIMEOUT" --banner
seed_pid="$STARTED_PID"

set +e
wait "$watch_pid"
rc=$?
set -e
watch_pid=""
rm -f "$run_dir/watch.pid"
log "cargo lambda watch exited (status $rc)"
exit "$rc"
