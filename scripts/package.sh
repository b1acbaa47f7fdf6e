#!/usr/bin/env bash
# `make package`: the deployment artifact, built as `sam build` builds it
# (template.yaml: BuildMethod rust-cargolambda):
#
#   cargo lambda build --release --arm64 --output-format zip \
#       --bin customers-api --bin customers-events
#
# (the two functions of template.yaml; customers-admin is no Lambda).
# with cargo-lambda and Zig (PyPI `ziglang`, the cross linker) from .venv/.
# ARCH=x86_64 (make package ARCH=x86_64) builds the x86_64 zip instead
# (`--x86-64`), for a machine without the aarch64 target; deploy it with the
# template's architecture set to x86_64.
# Reports the size of each function's stripped `bootstrap` and of its zip,
# beside the targets of issue 5 (bootstrap < 8 MB, zip < 4 MB), and writes
# them to target/bench/package.json (customers-api's at the top level, which
# `make bench` shows in its table, and each function's under "functions").
# About 7 minutes on 2 cores from cold.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LOG_TAG="package"
cd "$ROOT" || exit 1

"$ROOT/scripts/prereqs.sh" || exit 1
[[ -x "$VENV/bin/cargo-lambda" ]] || die "cargo-lambda is not installed in .venv/ — run 'make tools' first."
"$VENV/bin/python" -c 'import ziglang' 2>/dev/null || die "ziglang is not installed in .venv/ — run 'make tools' first."
export PATH="$VENV/bin:$PATH"

arch="${ARCH:-arm64}"
case "$arch" in
arm64 | aarch64) arch=arm64 target=aarch64-unknown-linux-gnu flag=--arm64 ;;
x86_64 | x86-64 | amd64) arch=x86_64 target=x86_64-unknown-linux-gnu flag=--x86-64 ;;
*) die "ARCH=$arch: use arm64 (the default) or x86_64" ;;
esac

# The Rust standard library for the target must be installed. Checked
# locally (the sysroot, then rustup's own list, neither needs the network):
# `rustup target add` needs rustup's server, which some machines cannot
# reach, and then hangs, as would cargo-lambda's own attempt to add it.
sysroot="$(rustc --print sysroot 2>/dev/null)"
if [[ ! -d "$sysroot/lib/rustlib/$target/lib" ]] &&
	! { command -v rustup >/dev/null 2>&1 && timeout 5 rustup target list --installed 2>/dev/null | grep -qx "$target"; }; then
	host="$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')"
	{
		printf 'package: the Rust target %s is not installed (no %s).\n' "$target" "$sysroot/lib/rustlib/$target"
		printf '  Install it where rustup can reach its server: rustup target add %s\n' "$target"
		if [[ "$arch" == arm64 && -d "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/lib" ]]; then
			printf '  Or build the x86_64 zip here:  make package ARCH=x86_64\n'
			printf '  (and deploy it with the template'"'"'s Architecture parameter set to x86_64).\n'
		fi
		[[ -n "$host" ]] && printf '  This machine'"'"'s host target: %s\n' "$host"
	} >&2
	exit 2
fi

functions=(customers-api customers-events)
log "cargo lambda build --release $flag --output-format zip --bin ${functions[0]} --bin ${functions[1]}"
start=$SECONDS
cargo lambda build --release "$flag" --output-format zip --bin "${functions[0]}" --bin "${functions[1]}" ||
	die "cargo lambda build failed"
took=$((SECONDS - start))

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# One line per function: name, bootstrap bytes, zip bytes, stripped, file(1).
sizes="$tmp/sizes"
: >"$sizes"
for fn in "${functions[@]}"; do
	zip="$ROOT/target/lambda/$fn/bootstrap.zip"
	[[ -f "$zip" ]] || die "$zip was not produced"
	# The zip holds `bootstrap`; measure what is inside it.
	mkdir -p "$tmp/$fn"
	"$VENV/bin/python" - "$zip" "$tmp/$fn" <<'PY' || die "$zip holds no bootstrap"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extract("bootstrap", sys.argv[2])
PY
	bootstrap="$tmp/$fn/bootstrap"
	info="$(file -b "$bootstrap" 2>/dev/null || echo unknown)"
	stripped=false
	if [[ "$info" == *", stripped"* ]]; then stripped=true; fi
	printf '%s\t%s\t%s\t%s\t%s\n' "$fn" "$(stat -c %s "$bootstrap")" "$(stat -c %s "$zip")" "$stripped" "$info" >>"$sizes"
done

mkdir -p "$ROOT/target/bench"
"$VENV/bin/python" - "$ROOT/target/bench/package.json" "$sizes" "$took" "$target" <<'PY'
import datetime, json, sys
out, sizes, took, target = sys.argv[1:]
functions = {}
for line in open(sizes):
    name, b, z, stripped, info = line.rstrip("\n").split("\t")
    functions[name] = {"bootstrap_bytes": int(b), "zip_bytes": int(z),
                       "stripped": stripped == "true", "file": info}
api = functions["customers-api"]
json.dump({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "target": target,
    "bootstrap_bytes": api["bootstrap_bytes"],
    "zip_bytes": api["zip_bytes"],
    "stripped": api["stripped"],
    "build_seconds": int(took),
    "file": api["file"],
    "functions": functions,
}, open(out, "w"), indent=2)
open(out, "a").write("\n")
PY

mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1048576 }'; }
ok() { if (($1 < $2)); then printf '✓'; else printf '✗'; fi; }
printf '\nPackage (%s, built in %ss)\n' "$target" "$took"
while IFS=$'\t' read -r fn bootstrap_bytes zip_bytes stripped info; do
	printf '  %s\n' "$fn"
	printf '    %s bootstrap (stripped: %s) %-12s target < 8 MB\n' "$(ok "$bootstrap_bytes" 8388608)" "$stripped" "$(mb "$bootstrap_bytes")"
	printf '    %s bootstrap.zip                %-12s target < 4 MB\n' "$(ok "$zip_bytes" 4194304)" "$(mb "$zip_bytes")"
	printf '    target/lambda/%s/bootstrap.zip: %s\n' "$fn" "$info"
done <"$sizes"
printf '  figures: target/bench/package.json\n'
