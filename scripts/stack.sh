#!/usr/bin/env bash
# The local AWS stack: AWS DynamoDB Local (Java, from node_modules/) with its
# streams, and one moto server (from .venv/) for SSM Parameter Store,
# EventBridge and SQS.
#
#   scripts/stack.sh up     [--dir DIR] [--free-ports]   start both, wait until they answer
#   scripts/stack.sh down   [--dir DIR] [--purge]        stop exactly what `up` started
#   scripts/stack.sh env    [--dir DIR]                  print `export KEY=value` lines
#   scripts/stack.sh status [--dir DIR]                  exit 0 if both are running
#
# DIR (default .local/stack) holds the state of one stack: dynamodb.pid,
# moto.pid, their logs, and `env`, a KEY=value file (no quotes, no `export`,
# usable by `set -a; . DIR/env` and by dotenv-style readers):
#
#   AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:<port>
#   AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:<port>   (the same DynamoDB Local)
#   AWS_ENDPOINT_URL_SSM=http://127.0.0.1:<port>
#   AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:<port>        (the same moto)
#   AWS_ENDPOINT_URL_SQS=http://127.0.0.1:<port>                (the same moto)
#   AWS_REGION=us-east-1
#   AWS_DEFAULT_REGION=us-east-1
#   AWS_ACCESS_KEY_ID=local
#   AWS_SECRET_ACCESS_KEY=local
#   AWS_EC2_METADATA_DISABLED=true
#
# Ports: DYNAMODB_PORT (default 8000) and SSM_PORT (default 5000); with
# --free-ports (or a port of 0) the kernel picks unused ones.
# STACK_START_TIMEOUT (default 90 s) bounds the wait for each service.
# DYNAMODB_JAVA_OPTS adds JVM options (default: a small heap).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=stack

usage() {
	sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

cmd="${1:-}"
[[ -n "$cmd" ]] || usage
shift
dir="$LOCAL_DIR/stack"
free_ports=0
purge=0
while (($#)); do
	case "$1" in
	--dir)
		dir="${2:?--dir needs a value}"
		shift 2
		;;
	--free-ports)
		free_ports=1
		shift
		;;
	--purge)
		purge=1
		shift
		;;
	-h | --help) usage ;;
	*) die "unknown argument: $1 (see scripts/stack.sh --help)" ;;
	esac
done
mkdir -p "$(dirname "$dir")"
dir="$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")"

DDB_MARKER="DynamoDBLocal.jar"
MOTO_MARKER="moto_server"

read_pid() { if [[ -f "$dir/$1.pid" ]]; then cat "$dir/$1.pid"; fi; }

# running NAME MARKER: the pid file names a live process running MARKER.
running() {
	local pid
	pid="$(read_pid "$1")"
	pid_alive "$pid" && [[ "$(pid_cmdline "$pid")" == *"$2"* ]]
}

is_up() { running dynamodb "$DDB_MARKER" && running moto "$MOTO_MARKER" && [[ -f "$dir/env" ]]; }

tail_log() {
	local f="$dir/$1.log"
	if [[ -s "$f" ]]; then
		printf '%s\n' "----- last lines of $f -----" >&2
		tail -n 25 "$f" >&2
		printf '%s\n' "-----" >&2
	fi
}

# wait_http NAME PID URL: bounded wait until URL gives any HTTP answer.
wait_http() {
	local name="$1" pid="$2" url="$3" timeout="${STACK_START_TIMEOUT:-90}"
	local deadline=$((SECONDS + timeout))
	while :; do
		if ! pid_alive "$pid"; then
			tail_log "$name"
			die "$name exited during start-up (see $dir/$name.log)"
		fi
		if "$PYTHON" - "$url" <<-'EOF' 2>/dev/null; then
			import sys, urllib.request, urllib.error
			try:
			    urllib.request.urlopen(sys.argv[1], timeout=2).close()
			except urllib.error.HTTPError:
			    pass  # any HTTP status means it is serving
			EOF
			return 0
		fi
		if ((SECONDS >= deadline)); then
			tail_log "$name"
			die "$name did not answer on $url within ${timeout}s (STACK_START_TIMEOUT); see $dir/$name.log"
		fi
		sleep 0.3
	done
}

do_down() {
	local quiet="${1:-0}" any=0 name marker pid
	set +e # stop everything that can be stopped, whatever fails
	for name in moto dynamodb; do
		[[ "$name" == moto ]] && marker="$MOTO_MARKER" || marker="$DDB_MARKER"
		pid="$(read_pid "$name")"
		if [[ -n "$pid" ]]; then
			any=1
			stop_pid "$pid" "$marker" "$name"
			rm -f "$dir/$name.pid"
		fi
	done
	rm -f "$dir/env"
	if ((purge)); then
		rm -rf "$dir"
	fi
	if ((any)) && ((!quiet)); then log "stopped ($dir)"; fi
	return 0
}

pick_port() { # pick_port REQUESTED NAME VAR
	local p="$1"
	if ((free_ports)) || [[ "$p" == 0 ]]; then
		free_port
		return
	fi
	if ! [[ "$p" =~ ^[0-9]+$ ]] || ((p < 1 || p > 65535)); then die "$3=$p is not a valid port"; fi
	port_is_free "$p" ||
		die "port $p for $2 is already in use (another 'make run' / 'make stack-up'? try 'make stack-down', or set $3)"
	printf '%s' "$p"
}

do_up() {
	require_tools
	if is_up; then
		log "already running ($dir); 'make stack-down' stops it"
		return 0
	fi
	# Leftovers of a half-started or crashed stack in this directory.
	do_down 1
	mkdir -p "$dir"

	local ddb_port ssm_port ddb_dir
	ddb_port="$(pick_port "${DYNAMODB_PORT:-8000}" "DynamoDB Local" DYNAMODB_PORT)"
	ssm_port="$(pick_port "${SSM_PORT:-5000}" "moto (SSM)" SSM_PORT)"
	if [[ "$ddb_port" == "$ssm_port" ]]; then
		ssm_port="$(free_port)"
	fi
	ddb_dir="$(dynamodb_local_dir)"

	# From here on, any failure or interruption stops what was started.
	trap 'do_down 1' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	# shellcheck disable=SC2086 # DYNAMODB_JAVA_OPTS is a list of options
	start_bg "$dir" "$dir/dynamodb.log" java ${DYNAMODB_JAVA_OPTS:--Xms64m -Xmx1g -XX:+UseSerialGC} \
		-Djava.library.path="$ddb_dir/DynamoDBLocal_lib" \
		-jar "$ddb_dir/DynamoDBLocal.jar" -inMemory -sharedDb -disableTelemetry -port "$ddb_port"
	echo "$STARTED_PID" >"$dir/dynamodb.pid"
	local ddb_pid="$STARTED_PID"

	start_bg "$dir" "$dir/moto.log" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$ssm_port"
	echo "$STARTED_PID" >"$dir/moto.pid"
	local moto_pid="$STARTED_PID"

	wait_http dynamodb "$ddb_pid" "http://127.0.0.1:$ddb_port/"
	wait_http moto "$moto_pid" "http://127.0.0.1:$ssm_port/moto-api/"

	cat >"$dir/env.tmp" <<-EOF
		AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$ddb_port
		AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:$ddb_port
		AWS_ENDPOINT_URL_SSM=http://127.0.0.1:$ssm_port
		AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:$ssm_port
		AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$ssm_port
		AWS_REGION=us-east-1
		AWS_DEFAULT_REGION=us-east-1
		AWS_ACCESS_KEY_ID=local
		AWS_SECRET_ACCESS_KEY=local
		AWS_EC2_METADATA_DISABLED=true
	EOF
	mv "$dir/env.tmp" "$dir/env"
	trap - EXIT INT TERM
	log "DynamoDB Local on :$ddb_port (pid $ddb_pid), moto (SSM, EventBridge, SQS) on :$ssm_port (pid $moto_pid); env file: $dir/env"
}

do_env() {
	[[ -f "$dir/env" ]] || die "no stack running in $dir (start it with 'make stack-up')"
	sed -e '/^[A-Za-z_][A-Za-z0-9_]*=/!d' -e 's/^/export /' "$dir/env"
}

case "$cmd" in
up) do_up ;;
down) do_down ;;
env) do_env ;;
status)
	if is_up; then
		log "running ($dir)"
	else
		log "not running ($dir)"
		exit 1
	fi
	;;
-h | --help | help) usage ;;
*) die "unknown command '$cmd' (up|down|env|status)" ;;
esac
