#!/usr/bin/env bash
# `make bench`: builds the release binaries, starts a private local stack
# (DynamoDB Local + moto SSM) on free ports, runs examples/bench/main.rs
# against it, always stops the stack, and prints the table. The same figures
# go to target/bench/latest.json (with the core count and the date).
#
#   scripts/bench.sh [BENCH ARGS...]     e.g. --requests 500 --cold 10
#
# BENCH_NO_BUILD=1 skips the cargo build (uses what is in target/release/).
# The figures are goals, never asserts: the script fails only when the
# benchmark cannot run, not when a target is missed.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="bench"
cd "$ROOT" || exit 1

"$ROOT/scripts/prereqs.sh" || exit 1
require_tools

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
	# Two builds, bin first: built together with the examples, the binary
	# would get the features the dev-dependencies turn on in shared crates
	# (feature unification), i.e. not be the binary that ships (+0.5 MB).
	log "cargo build --release --bin customers-api --bin customers-events, then --examples (cold: ~10 minutes on 2 cores)"
	cargo build --release --bin customers-api --bin customers-events || die "release build of the functions failed"
	cargo build --release --examples || die "release build of the examples failed"
fi
bin="$ROOT/target/release/customers-api"
events_bin="$ROOT/target/release/customers-events"
hello="$ROOT/target/release/examples/hello"
bench="$ROOT/target/release/examples/bench"
probe="$ROOT/target/release/examples/init_probe"
for f in "$bin" "$events_bin" "$hello" "$bench" "$probe"; do
	[[ -x "$f" ]] || die "$f is missing; run without BENCH_NO_BUILD"
done

stack_dir="$LOCAL_DIR/bench-$$"
# shellcheck disable=SC2317 # called from traps
cleanup() {
	trap - EXIT INT TERM HUP
	trap '' PIPE # a closed output pipe must not stop the cleanup (run.sh)
	"$ROOT/scripts/stack.sh" down --dir "$stack_dir" --purge
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$ROOT/scripts/stack.sh" up --dir "$stack_dir" --free-ports || exit 1
load_env_file "$stack_dir/env"

mkdir -p "$ROOT/target/bench"
"$bench" --bin "$bin" --events-bin "$events_bin" --hello "$hello" --probe "$probe" \
	--out "$ROOT/target/bench/latest.json" \
	--package "$ROOT/target/bench/package.json" "$@"
