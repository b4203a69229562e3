#!/usr/bin/env bash
# Build the load balancer's BPF object from lb.bpf.c:
#   examples/lb/bpf/lb.bpf.o         clang -target bpfel: the object the control
#                                    plane loads and bpfgen reads (committed)
#   examples/lb/bpf/bpfeb/lb.bpf.o   clang -target bpfeb: the same types for
#                                    big-endian BPF (types only: never loaded
#                                    on this machine; committed)
#
# The output is deterministic: the same sources and compiler give byte-identical
# objects, independent of the checkout path and the working directory
# (-ffile-prefix-map / -fdebug-compilation-dir). DWARF is stripped afterwards;
# .BTF and .BTF.ext (what bpfgen and the kernel read) are kept, and checked.
# lb.h and lb_jhash.h are also compiled with the host compiler (the layout
# oracle: the x86_64 layout equals the BPF layout; lb.h pins it with
# _Static_assert).
#
# Environment: CLANG (default clang-19), LLVM_STRIP (default llvm-strip-19,
# else llvm-strip), HOSTCC (default gcc; the host check is skipped without it).
set -euo pipefail

die() { echo "examples/lb/bpf/build.sh: error: $*" >&2; exit 1; }

DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
REL="examples/lb/bpf" # how the sources are named inside the objects

CLANG="${CLANG:-clang-19}"
command -v "$CLANG" >/dev/null 2>&1 ||
	die "'$CLANG' not found. Install clang-19 (apt-get install clang-19) or set CLANG=/path/to/clang."

if [[ -z "${LLVM_STRIP:-}" ]]; then
	for cand in llvm-strip-19 llvm-strip; do
		if command -v "$cand" >/dev/null 2>&1; then LLVM_STRIP="$cand"; break; fi
	done
fi
[[ -n "${LLVM_STRIP:-}" ]] && command -v "$LLVM_STRIP" >/dev/null 2>&1 ||
	die "llvm-strip not found. Install llvm-19 (apt-get install llvm-19) or set LLVM_STRIP=/path/to/llvm-strip."

LLVM_READELF=""
for cand in "$(dirname -- "$(command -v "$LLVM_STRIP")")/llvm-readelf${LLVM_STRIP##*llvm-strip}" llvm-readelf-19 llvm-readelf; do
	if command -v "$cand" >/dev/null 2>&1; then LLVM_READELF="$cand"; break; fi
done

# <asm/types.h> (pulled in by <linux/types.h>) lives in the multiarch include
# directory on Debian/Ubuntu, which -target bpf does not search.
INCLUDES=()
for d in "/usr/include/$(uname -m)-linux-gnu" /usr/include/x86_64-linux-gnu; do
	if [[ -d "$d/asm" ]]; then INCLUDES+=("-I$d"); break; fi
done

CFLAGS=(
	-g -O2 -mcpu=v3
	-Wall -Wextra -Wno-unused-parameter -Werror
	"-ffile-prefix-map=$DIR=$REL"
	"-fdebug-compilation-dir=$REL"
	"${INCLUDES[@]}"
)

HOSTCC="${HOSTCC:-gcc}"
if command -v "$HOSTCC" >/dev/null 2>&1; then
	for h in lb.h lb_jhash.h; do
		"$HOSTCC" -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -x c "$DIR/$h" ||
			die "$h does not compile with $HOSTCC"
	done
else
	echo "examples/lb/bpf/build.sh: note: $HOSTCC not found, skipping the host header check" >&2
fi

tmp="$(mktemp -d)"
trap 'rm -rf -- "$tmp"' EXIT

build() { # build ARCH OUTPUT
	local arch=$1 out=$2 obj="$tmp/$1.bpf.o"
	# From inside the directory, with a relative file name: no absolute path
	# ends up in the object.
	(cd "$DIR" && "$CLANG" -target "$arch" "${CFLAGS[@]}" -c lb.bpf.c -o "$obj") ||
		die "compiling lb.bpf.c for $arch failed"
	"$LLVM_STRIP" --strip-debug "$obj" || die "stripping the $arch object failed"
	if [[ -n "$LLVM_READELF" ]]; then
		local sections
		sections="$("$LLVM_READELF" -S --wide "$obj")"
		for s in .BTF .BTF.ext; do
			grep -qE "[[:space:]]\\$s[[:space:]]" <<<"$sections" ||
				die "the $arch object has no $s section after stripping"
		done
		if grep -qE '[[:space:]]\.debug_' <<<"$sections"; then
			die "the $arch object still has DWARF sections"
		fi
	fi
	mkdir -p "$(dirname -- "$out")"
	mv -f -- "$obj" "$out"
	echo "  ${out#"$DIR"/}"
}

build bpfel "$DIR/lb.bpf.o"
build bpfeb "$DIR/bpfeb/lb.bpf.o"
