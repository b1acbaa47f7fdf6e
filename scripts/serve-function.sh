#!/usr/bin/env bash
# Serves the function on the local stack named by the environment, the way
# `make test` exercises it over HTTP, and runs one command against it:
#
#   scripts/serve-function.sh --dir DIR -- COMMAND [ARGS...]
#
#   1. builds the function with every target (`cargo build --all-targets`: a
#      no-op after `cargo test`, which built the same binary; a bins-only build
#      would compile ~29 crates again, because the dev-dependencies switch on
#      features in crates the binary shares), so a broken build fails here;
#   2. creates a table and a keys parameter of its own on the stack
#      (scripts/provision.py), leaving the cargo tests' ones alone;
#   3. starts `cargo lambda watch --only-lambda-apis` on a free port (the
#      same emulator as `make run`: API Gateway events, Runtime API, routes
#      from Cargo.toml) and runs target/debug/customers-api against it with
#      those variables, as the watcher would but without building it again;
#   4. waits until the function answers and seeds the example customer
#      `cust_example` (scripts/seed.py), the `customerId` example of
#      openapi.yaml;
#   5. runs COMMAND in DIR, with every argument `{url}` replaced by the
#      function's base URL (also in FUNCTION_URL);
#   6. always stops the function instances, the emulator and all they started.
#
# Used by scripts/schemathesis.sh (API fuzzing) and by the generated-client
# step of scripts/test.sh (scripts/client_check.py).
#
# Needs AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM, AWS_REGION and
# credentials in the environment (scripts/test.sh loads its private stack's
# env file). DIR holds the runtime files (env file, watch.pid, function.pids,
# the emulator's log watch.log, the function's logs function.log and
# function-default.log, and whatever COMMAND writes there); at the end they
# are copied to target/<name of DIR>/ (the env file excepted), replacing the
# previous run's.
#
# Exit status: COMMAND's, or 1 when the function could not be built or started.
#
# Overridable: FUNCTION_READY_TIMEOUT (300 s).
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=serve-function
cd "$ROOT" || exit 1

dir=""
while (($#)); do
	case "$1" in
	--dir)
		dir="${2:?--dir needs a value}"
		shift 2
		;;
	--)
		shift
		break
		;;
	*) die "unknown argument: $1 (see the top of $0)" ;;
	esac
done
[[ -n "$dir" ]] || die "--dir DIR is required"
(($#)) || die "no COMMAND after --"
[[ -n "${AWS_ENDPOINT_URL_DYNAMODB:-}" && -n "${AWS_ENDPOINT_URL_SSM:-}" ]] ||
	die "AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM are not set (start a stack and load its env file)"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
keep="$ROOT/target/$(basename "$dir")"
export PATH="$VENV/bin:$PATH" # `cargo lambda` is the cargo-lambda binary from .venv

watch_pid=""
fn_pids=()
seed_pid=""
# shellcheck disable=SC2317 # called from traps
cleanup() {
	local code=$?
	trap - EXIT INT TERM HUP
	set +e
	if [[ -n "$seed_pid" ]]; then
		kill "$seed_pid" 2>/dev/null
		wait "$seed_pid" 2>/dev/null
	fi
	local p
	for p in "${fn_pids[@]}"; do
		stop_pid "$p" "customers-api" "the function"
	done
	rm -f "$dir/function.pids"
	if [[ -n "$watch_pid" ]]; then
		stop_pid "$watch_pid" "lambda" "cargo lambda watch"
		rm -f "$dir/watch.pid"
	fi
	if [[ -f "$dir/watch.log" ]]; then
		rm -rf "$keep"
		mkdir -p "$keep" && cp -R "$dir"/. "$keep"/ && rm -f "$keep/function.env"
		log "function log and reports: ${keep#"$ROOT"/}/"
	fi
	exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

step_started=$SECONDS

# A zombie still answers `kill -0`; this does not.
running() { [[ -n "$1" ]] && ps -o stat= -p "$1" 2>/dev/null | grep -qv '^Z'; }

log "building the function (cargo build --all-targets)"
cargo build --all-targets || die "the function does not build"

name="$(basename "$dir")-$$"
export TABLE_NAME="$name"
export API_KEYS_PARAMETER="/customers-api/$name/api-keys"
"$VENV/bin/python" "$ROOT/scripts/provision.py" || die "could not provision the table and keys parameter"

# Everything the function reads, handed to it explicitly (as `make run` hands
# it to the watcher); RUST_LOG for the function only, not for cargo-lambda.
{
	env | grep -E '^AWS_[A-Z_]+=' | sort
	printf '%s\n' "TABLE_NAME=$TABLE_NAME" "API_KEYS_PARAMETER=$API_KEYS_PARAMETER" "RUST_LOG=info"
} >"$dir/function.env"

port="$(free_port)"
base="http://127.0.0.1:$port"
log "starting the emulator ('cargo lambda watch --only-lambda-apis') on $base (its log: $dir/watch.log)"
# --ignore-changes: nothing to rebuild; --disable-cors: the emulator would
# otherwise answer OPTIONS itself and add CORS headers the deployed HTTP API
# (no CORS configuration) does not send.
start_bg "$ROOT" "$dir/watch.log" env -u RUST_LOG cargo lambda watch --only-lambda-apis --ignore-changes \
	--disable-cors --invoke-address 127.0.0.1 --invoke-port "$port"
watch_pid="$STARTED_PID"
echo "$watch_pid" >"$dir/watch.pid"
for _ in $(seq 1 200); do
	port_is_free "$port" || break
	running "$watch_pid" || break
	sleep 0.1
done
if ! running "$watch_pid" || port_is_free "$port"; then
	tail -n 40 "$dir/watch.log" >&2
	die "the emulator did not start (see above)"
fi
# The variables the emulator tells a function it does not start to set. Two
# instances, as the watcher would start: one for the routes of the Cargo.toml
# router (Runtime API under /.rt/customers-api), one for the default function
# that gets every other method and path (under /.rt), which the deployed HTTP
# API's $default route also sends to the function.
mapfile -t function_env <"$dir/function.env"
log "starting target/debug/customers-api twice (logs: $dir/function.log, function-default.log)"
for rt in "/.rt/customers-api" "/.rt"; do
	flog="$dir/function.log"
	[[ "$rt" == "/.rt" ]] && flog="$dir/function-default.log"
	start_bg "$ROOT" "$flog" env "${function_env[@]}" \
		AWS_LAMBDA_FUNCTION_NAME=customers-api AWS_LAMBDA_FUNCTION_VERSION=1 \
		AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_RUNTIME_API="$base$rt" \
		"$ROOT/target/debug/customers-api"
	fn_pids+=("$STARTED_PID")
	echo "$STARTED_PID" >>"$dir/function.pids"
done

# Wait for the function and seed, giving up at once if the watcher dies.
"$VENV/bin/python" "$ROOT/scripts/seed.py" --url "$base" --timeout "${FUNCTION_READY_TIMEOUT:-300}" &
seed_pid=$!
while running "$seed_pid"; do
	if ! running "$watch_pid"; then
		tail -n 40 "$dir/watch.log" >&2
		die "the emulator exited before the function answered (see above)"
	fi
	for p in "${fn_pids[@]}"; do
		if ! running "$p"; then
			tail -n 40 "$dir"/function*.log >&2
			die "the function exited before it answered (see above)"
		fi
	done
	sleep 0.5
done
wait "$seed_pid"
seed_rc=$?
seed_pid=""
if ((seed_rc != 0)); then
	printf '%s\n' "----- last lines of $dir/function.log -----" >&2
	tail -n 40 "$dir/function.log" >&2
	die "the function did not start, or did not accept the example customer (seed.py exit $seed_rc)"
fi

export FUNCTION_URL="$base"
args=()
for a in "$@"; do
	args+=("${a//\{url\}/$base}")
done
log "running: ${args[*]}"
(cd "$dir" && exec "${args[@]}")
rc=$?
log "exit status $rc (whole step $((SECONDS - step_started)) s)"
exit "$rc"
