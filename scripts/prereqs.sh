#!/usr/bin/env bash
# Checks what `make run` / `make test` need from the machine itself, and says
# what is missing. Everything else they install into the checkout.
#
#   scripts/prereqs.sh          cargo, Java 17+, Python 3.9+ with venv, Node.js + npm
#   scripts/prereqs.sh test     ... and the rustfmt and clippy components
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG=prereqs

problems=()

if ! command -v cargo >/dev/null 2>&1; then
	problems+=("cargo not found: install Rust (rustup, stable toolchain), then open a new shell")
elif [[ "${1:-}" == test ]]; then
	cargo fmt --version >/dev/null 2>&1 ||
		problems+=("rustfmt is missing: rustup component add rustfmt")
	cargo clippy --version >/dev/null 2>&1 ||
		problems+=("clippy is missing: rustup component add clippy")
fi

if ! command -v java >/dev/null 2>&1; then
	problems+=("java not found: DynamoDB Local needs a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)")
else
	# `java -version` prints e.g.: openjdk version "17.0.15" 2025-04-15  (or "1.8.0_392")
	jv="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
	major="${jv%%[.+-]*}"
	[[ "$major" == 1 ]] && major="$(cut -d. -f2 <<<"$jv")"
	if ! [[ "$major" =~ ^[0-9]+$ ]]; then
		problems+=("could not read the Java version from 'java -version' (DynamoDB Local needs Java 17+)")
	elif ((major < 17)); then
		problems+=("java is version $jv; DynamoDB Local needs Java 17 or newer")
	fi
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
	problems+=("$PYTHON not found: install Python 3.9+")
elif ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
	problems+=("$PYTHON is $("$PYTHON" --version 2>&1); Python 3.9 or newer is needed")
elif [[ ! -x "$VENV/bin/python" ]] && ! "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; then
	problems+=("$PYTHON cannot create virtual environments (on Debian/Ubuntu: apt-get install python3-venv)")
fi

command -v node >/dev/null 2>&1 || problems+=("node not found: install Node.js (18+) with npm")
command -v npm >/dev/null 2>&1 || problems+=("npm not found: install npm (it comes with Node.js)")

if ((${#problems[@]})); then
	printf '%s\n' "[prereqs] This machine is missing what the local tooling needs:" >&2
	printf '  - %s\n' "${problems[@]}" >&2
	exit 1
fi
