#!/usr/bin/env bash
# `make test`: starts a private local stack (DynamoDB Local + moto SSM) on free
# ports, exports its endpoints, runs every check in order, always stops the
# stack, and exits non-zero if any check failed. A failing check does not stop
# the later ones, so one run shows everything that is wrong.
#
#   1. cargo fmt --check
#   2. cargo clippy --all-targets -- -D warnings
#   3. cargo test                (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM,
#                                 AWS_REGION and credentials point at the stack)
#   4. schemathesis              the function `cargo test` built, under cargo-lambda's
#                                 emulator on a free port, on the same stack (own table and keys
#                                 parameter), fuzzed through openapi.yaml with a
#                                 bounded number of examples per operation; prints
#                                 the example counts and failures
#                                 (scripts/schemathesis.sh; SCHEMATHESIS_MAX_EXAMPLES,
#                                 SCHEMATHESIS_SEED override)
#   5. client                    a Python client generated from openapi.yaml by
#                                 openapi-python-client, used against the function
#                                 served the same way (scripts/serve-function.sh,
#                                 scripts/client_check.py): create, get, patch,
#                                 list, lookup, a 404 and a 400 parsed as problems
#   6. cfn-lint template.yaml    (skipped, with a notice, while the file does not exist)
#   7. cfn-lint-serverless       cfn-lint again with the serverless rules appended
#   8. template                  scripts/template_check.py: the IAM policies are exactly
#                                 the SDK calls of each function's code; alarms on emitted metrics
#
# Extra arguments are passed to `cargo test` (e.g. `make test ARGS='-- patch'`).
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="test"
cd "$ROOT" || exit 1

"$ROOT/scripts/prereqs.sh" test || exit 1
require_tools

stack_dir="$LOCAL_DIR/test-$$"
# shellcheck disable=SC2317 # called from traps
cleanup() {
	trap - EXIT INT TERM HUP
	trap '' PIPE # a closed output pipe must not stop the cleanup (run.sh)
	# What the steps serving the function could not stop themselves (they
	# were killed).
	local p d
	for d in "$stack_dir/schemathesis" "$stack_dir/client"; do
		if [[ -f "$d/function.pids" ]]; then
			while read -r p; do
				stop_pid "$p" "customers-api" "the function"
			done <"$d/function.pids"
		fi
		if [[ -f "$d/watch.pid" ]]; then
			stop_pid "$(cat "$d/watch.pid")" "lambda" "cargo lambda watch"
		fi
	done
	"$ROOT/scripts/stack.sh" down --dir "$stack_dir" --purge
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

"$ROOT/scripts/stack.sh" up --dir "$stack_dir" --free-ports || exit 1
load_env_file "$stack_dir/env"
export PATH="$VENV/bin:$PATH"

failed=()
step() {
	local name="$1"
	shift
	printf '\n==> [%s] %s\n' "$name" "$*" >&2
	if "$@"; then
		printf '==> [%s] ok\n' "$name" >&2
	else
		printf '==> [%s] FAILED (exit %s)\n' "$name" "$?" >&2
		failed+=("$name")
	fi
}

step fmt cargo fmt --check
step clippy cargo clippy --all-targets -- -D warnings
step test cargo test "$@"
step schemathesis "$ROOT/scripts/schemathesis.sh" --dir "$stack_dir/schemathesis"
step client "$ROOT/scripts/serve-function.sh" --dir "$stack_dir/client" -- \
	"$VENV/bin/python" "$ROOT/scripts/client_check.py" --url "{url}"
if [[ -f template.yaml ]]; then
	step cfn-lint cfn-lint template.yaml
	step cfn-lint-serverless "$VENV/bin/cfn-lint" --append-rules cfn_lint_serverless.rules -- template.yaml
	step template "$VENV/bin/python" "$ROOT/scripts/template_check.py"
else
	printf '\n==> [cfn-lint] NOTICE: template.yaml does not exist yet; skipping cfn-lint\n' >&2
fi

if ((${#failed[@]})); then
	printf '\nmake test: FAILED steps: %s\n' "${failed[*]}" >&2
	exit 1
fi
printf '\nmake test: all steps passed\n' >&2
