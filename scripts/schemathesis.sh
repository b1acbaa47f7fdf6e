#!/usr/bin/env bash
# API fuzzing with schemathesis, a `make test` step (scripts/test.sh): serves
# the function through cargo-lambda's emulator against the local stack named by
# the environment (scripts/serve-function.sh: steps 1-4 and 6 below), and runs
# schemathesis against openapi.yaml.
#
#   scripts/schemathesis.sh --dir DIR [--max-examples N] [-- SCHEMATHESIS_ARGS...]
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
#      openapi.yaml, so GET/PATCH/DELETE reach an existing customer too (the
#      stateful phase adds POST -> GET/PATCH/DELETE chains through the
#      `Location` links schemathesis infers);
#   5. runs schemathesis with a bounded number of examples per operation,
#      the checks below and the local write key, then prints a per-operation
#      table (scripts/schemathesis_summary.py);
#   6. always stops the function instances, the emulator and all they started.
#
# Needs AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM, AWS_REGION and
# credentials in the environment (scripts/test.sh loads its private stack's
# env file). DIR holds the runtime files (env file, watch.pid, function.pids,
# the emulator's log watch.log, the function's logs function.log and
# function-default.log, reports); at the end they are copied to
# target/schemathesis/ (the env file excepted), replacing the previous run's.
#
# Exit status: schemathesis' (0: no failure), or 1 when the function could not
# be built or started.
#
# Overridable: SCHEMATHESIS_MAX_EXAMPLES (default 300 per operation and
# phase; the whole step then takes about a minute on 2 cores), SCHEMATHESIS_SEED (a failing run prints its seed; this replays it),
# SCHEMATHESIS_WORKERS (1: the emulator runs one request at a time anyway, and
# schemathesis' threads can trip a CPython 3.11 race in `ast.parse`, "AST
# constructor recursion depth mismatch", in its coverage phase),
# FUNCTION_READY_TIMEOUT (300 s).
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=schemathesis
cd "$ROOT" || exit 1

dir=""
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-300}"
while (($#)); do
	case "$1" in
	--dir)
		dir="${2:?--dir needs a value}"
		shift 2
		;;
	--max-examples)
		max_examples="${2:?--max-examples needs a value}"
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
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
step_started=$SECONDS

# The checks. positive_data_acceptance is left out: besides 404 and 409, which
# it tolerates, it fails requests that are valid by the schema yet rightly
# refused by rules a schema cannot state: an If-Match that is not the
# customer's current version (412; schemathesis sends random ones), and a
# dateOfBirth after today (400 validation_failed; the schema's pattern can
# only bound the year to 2099, the real bound moves with the clock).
# use_after_free and ensure_resource_availability are left out too: ids are
# chosen by the client and the examples reuse them (cust_abc123, ...), so a
# later POST may rightly re-create a customer deleted earlier, or a DELETE
# remove one just created, and these checks would call that a failure.
# unsupported_method, allow_header_conformance (405 with `Allow`) and
# ignored_auth (401 without a usable key) are in: they are exact.
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection
checks+=,unsupported_method,allow_header_conformance,ignored_auth
report_formats=junit,ndjson
cmd=(
	"$VENV/bin/schemathesis" run "$ROOT/openapi.yaml"
	--url "{url}"
	--header "Authorization: Bearer local-write-key"
	--checks "$checks"
	--max-examples "$max_examples"
	--workers "${SCHEMATHESIS_WORKERS:-1}"
	--request-timeout 30
	--generation-database none
	--no-color
	--report "$report_formats" --report-dir "$dir/report"
)
[[ -n "${SCHEMATHESIS_SEED:-}" ]] && cmd+=(--seed "$SCHEMATHESIS_SEED")
cmd+=("$@")
started=$SECONDS
# The one narrow exclusion (non-UTF-8 bodies, which the emulator answers
# without invoking the function) is explained in scripts/schemathesis_hooks.py.
# Run from DIR (serve-function.sh does): schemathesis keeps its crash cache in
# ./.schemathesis/.
SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py" "$ROOT/scripts/serve-function.sh" --dir "$dir" -- "${cmd[@]}"
rc=$?
elapsed=$((SECONDS - started))
shopt -s nullglob
reports=("$dir"/report/*.ndjson)
if ((${#reports[@]})); then
	printf '\nschemathesis test cases per operation and phase (max %s per operation and phase):\n\n' "$max_examples"
	"$VENV/bin/python" "$ROOT/scripts/schemathesis_summary.py" "${reports[-1]}"
fi
if ((rc == 0)); then
	log "schemathesis: no failures (run ${elapsed} s, whole step $((SECONDS - step_started)) s)"
else
	log "schemathesis: FAILED, exit status $rc (run ${elapsed} s, whole step $((SECONDS - step_started)) s); the function's log is kept (below)"
fi
exit "$rc"
