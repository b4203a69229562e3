#!/usr/bin/env bash
# tests/cross/run.sh GENERATED_DIR - prove generated bindings type-check on foreign targets.
#
# GENERATED_DIR/bpfel/*.rs  bindings generated from little-endian BPF objects
# GENERATED_DIR/bpfeb/*.rs  bindings generated from big-endian BPF objects
# (either subdirectory may be missing, not both; at least one .rs file is required)
#
# Each file is a plain module body (no inner attributes), no_std-clean, using zerocopy 0.8
# derives, with an endianness guard `#[cfg(not(target_endian = "..."))] compile_error!("bpfgen: ...")`.
#
# Checks (each one counts as one test):
#   i686-unknown-linux-gnu  (little-endian, u64/f64 4-aligned)
#     bpfel/X.rs  must compile (every `const _: () = assert!(...)` holds there)
#     bpfeb/X.rs  must fail, with an error containing "bpfgen:" and "endian" (the guard)
#     control naive.rs  (repr(C) u32+u64, asserts offset 8 / align 8) must fail with E0080
#     control padded.rs (explicit padding + repr(C, align(8)))          must compile
#   s390x-unknown-linux-gnu (big-endian)
#     bpfeb/X.rs  must compile
#     bpfel/X.rs  must fail, with an error containing "bpfgen:" and "endian"
#   CROSS_EXTRA_TARGETS (optional, as for setup.sh; all little-endian): like i686 without controls.
#
# One scratch crate per (target, file): `#![no_std] #![deny(warnings)] pub mod X { include!("/abs/X.rs"); }`
# depending on zerocopy (derive). All crates of one target are members of one scratch cargo
# workspace checked by a single `cargo check --workspace --keep-going`, so the two cores are
# used and a failure names its file. Compiler: RUSTC=/usr/bin/rustc (Debian's rustc-web,
# installed by tests/cross/setup.sh); cargo: the one on PATH (rustup's).
#
# Environment:
#   CROSS_EXTRA_TARGETS  extra little-endian targets (space/comma separated, or "all")
#   CROSS_WORK           scratch dir (default: <repo>/target/cross)
#   CROSS_RUSTC          compiler (default /usr/bin/rustc)
#   CROSS_ZEROCOPY       zerocopy version requirement (default =0.8.63, see ZEROCOPY below)
#
# Output: per check PASS/FAIL lines, per-step timings, and as the last line
#   cross: N passed, M failed
# Exit status: 0 if all passed, 1 if any check failed, 2 on usage/setup errors.
set -euo pipefail

# Newest zerocopy 0.8.x at the time of writing (rust-version 1.56, so fine for rustc 1.85);
# the same version as the workspace's Cargo.lock. Pinned so the check is reproducible.
ZEROCOPY="${CROSS_ZEROCOPY:-=0.8.63}"
CORE_TARGETS="i686-unknown-linux-gnu s390x-unknown-linux-gnu"
ALL_EXTRA_TARGETS="armv7-unknown-linux-gnueabihf aarch64-unknown-linux-gnu powerpc64le-unknown-linux-gnu"

say() { printf 'cross: %s\n' "$*"; }
die() { printf 'cross: ERROR: %s\n' "$*" >&2; SUMMARY_DONE=1; echo "cross: 0 passed, 1 failed"; exit 2; }
# An unexpected error (set -e) still ends with a summary line that counts as a failure.
trap 'rc=$?; if [ $rc -ne 0 ] && [ -z "${SUMMARY_DONE:-}" ]; then echo "cross: ERROR: run.sh stopped unexpectedly (exit $rc)" >&2; echo "cross: 0 passed, 1 failed"; fi' EXIT
now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# Write stdin to $1 only if the content differs: unchanged scratch crates stay fresh for cargo
# (which also tracks the include!d file), so a re-run only re-checks what changed.
put() {
    local tmp="$1.new.$$"
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

[ $# -eq 1 ] || die "usage: $0 GENERATED_DIR   (with GENERATED_DIR/bpfel/*.rs and/or GENERATED_DIR/bpfeb/*.rs)"
[ -d "$1" ] || die "GENERATED_DIR '$1' is not a directory"
GEN=$(cd "$1" && pwd -P)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
WORK="${CROSS_WORK:-$ROOT/target/cross}"
CROSS_RUSTC="${CROSS_RUSTC:-/usr/bin/rustc}"
T_START=$(now)

endian_of() {
    case "$1" in
        s390x-*) echo big ;;
        i686-* | armv7-* | aarch64-* | powerpc64le-*) echo little ;;
        *) die "unsupported target '$1' (supported: $CORE_TARGETS $ALL_EXTRA_TARGETS)" ;;
    esac
}
extra="${CROSS_EXTRA_TARGETS:-}"
extra="${extra//,/ }"
[ "$extra" = all ] && extra="$ALL_EXTRA_TARGETS"
TARGETS=""
for t in $CORE_TARGETS $extra; do
    endian_of "$t" >/dev/null
    case " $TARGETS " in *" $t "*) ;; *) TARGETS="$TARGETS $t" ;; esac
done
TARGETS="${TARGETS# }"

# ---- preflight ------------------------------------------------------------------------------
[ -x "$CROSS_RUSTC" ] || die "$CROSS_RUSTC not found: run tests/cross/setup.sh first"
RUSTC_VERSION=$("$CROSS_RUSTC" --version) || die "$CROSS_RUSTC --version failed"
SYSROOT=$("$CROSS_RUSTC" --print sysroot)
for t in $TARGETS; do
    compgen -G "$SYSROOT/lib/rustlib/$t/lib/libcore-*.rlib" >/dev/null \
        || die "no std for $t in $SYSROOT/lib/rustlib: run tests/cross/setup.sh (with the same CROSS_EXTRA_TARGETS)"
done
RUST_MSRV=$(echo "$RUSTC_VERSION" | sed -nE 's/^rustc ([0-9]+\.[0-9]+)\..*/\1/p')
[ -n "$RUST_MSRV" ] || die "cannot parse '$RUSTC_VERSION'"
command -v cargo >/dev/null || die "cargo not on PATH"
say "rustc: $CROSS_RUSTC: $RUSTC_VERSION"
say "cargo: $(command -v cargo): $(cargo --version)"
say "zerocopy $ZEROCOPY; targets: $TARGETS"
say "generated: $GEN"

# Environment meant for the rustup toolchain must not leak into the older compiler.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS RUSTDOCFLAGS CARGO_BUILD_TARGET \
      RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_BUILD_RUSTC_WRAPPER CARGO_BUILD_RUSTC \
      CARGO_BUILD_TARGET_DIR CARGO_BUILD_BUILD_DIR CARGO_BUILD_DIR
# CARGO_INCREMENTAL=0: a cold check (as in CI) is ~1.5x faster without writing incremental caches.
export RUSTC="$CROSS_RUSTC" CARGO_TARGET_DIR="$WORK/target" CARGO_TERM_COLOR=never CARGO_INCREMENTAL=0

mkdir -p "$WORK"
exec 9>"$WORK/.lock"
flock -w 600 9 || die "another run.sh holds $WORK/.lock"

# ---- inputs ---------------------------------------------------------------------------------
shopt -s nullglob
BPFEL=("$GEN"/bpfel/*.rs)
BPFEB=("$GEN"/bpfeb/*.rs)
shopt -u nullglob
[ $(( ${#BPFEL[@]} + ${#BPFEB[@]} )) -gt 0 ] || die "no generated files: expected $GEN/bpfel/*.rs and/or $GEN/bpfeb/*.rs"
say "inputs: ${#BPFEL[@]} bpfel, ${#BPFEB[@]} bpfeb"
for f in "${BPFEL[@]}" "${BPFEB[@]}"; do
    case "$f" in *'"'* | *'\'*) die "file path must not contain '\"' or '\\': $f" ;; esac
done

# Controls: the check must be able to fail (naive) and to pass (padded) on i686.
CTRL="$WORK/controls"
mkdir -p "$CTRL"
put "$CTRL/naive.rs" <<'EOF'
// Negative control: naive layout, u64 is only 4-aligned on i686, so both asserts fail there (E0080).
#[repr(C)] pub struct Naive { pub a: u32, pub b: u64 }
const _: () = assert!(core::mem::offset_of!(Naive, b) == 8);
const _: () = assert!(core::mem::align_of::<Naive>() == 8);
EOF
put "$CTRL/padded.rs" <<'EOF'
// Positive control: explicit padding and alignment give the same layout on every target.
#[derive(::zerocopy::FromBytes, ::zerocopy::IntoBytes, ::zerocopy::KnownLayout, ::zerocopy::Immutable)]
#[repr(C, align(8))] pub struct Padded { pub a: u32, pub _pad: [u8; 4], pub b: u64 }
const _: () = assert!(core::mem::offset_of!(Padded, b) == 8);
const _: () = assert!(core::mem::align_of::<Padded>() == 8);
const _: () = assert!(core::mem::size_of::<Padded>() == 16);
EOF

# ---- scratch workspaces ---------------------------------------------------------------------
KEYWORDS=" as async await break const continue crate dyn else enum extern false fn for gen if impl in let loop match mod move mut pub ref return self static struct super trait true type unsafe use where while abstract become box do final macro override priv try typeof unsized virtual yield "
modname() {
    local m
    m=$(printf '%s' "$1" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9_]/_/g')
    case "$m" in '' | [0-9]*) m="m_$m" ;; esac
    case "$KEYWORDS" in *" $m "*) m="${m}_" ;; esac
    printf '%s' "$m"
}

# CHECKS: one line per check: target|pkg|expect|file|label
CHECKS=()
declare -A USED=()
add_member() {   # ws target group file expect label
    local ws="$1" t="$2" group="$3" file="$4" expect="$5" label="$6" base mod pkg i=1
    base=$(basename "$file" .rs)
    mod=$(modname "$base")
    base="$group-$(printf '%s' "$mod" | tr _ - | sed -E 's/-+$//')"
    pkg="$base"
    while [ -n "${USED[$t/$pkg]:-}" ]; do i=$((i + 1)); pkg="$base-$i"; done
    USED[$t/$pkg]=1
    mkdir -p "$ws/c/$pkg"
    put "$ws/c/$pkg/Cargo.toml" <<EOF
[package]
name = "$pkg"
version = "0.0.0"
edition = "2021"
rust-version = "$RUST_MSRV"
publish = false

[lib]
path = "lib.rs"

[dependencies]
zerocopy.workspace = true
EOF
    printf '#![no_std]\n#![deny(warnings)]\npub mod %s {\n    include!("%s");\n}\n' "$mod" "$file" | put "$ws/c/$pkg/lib.rs"
    CHECKS+=("$t|$pkg|$expect|$file|$label")
}

t0=$(now)
for t in $TARGETS; do
    ws="$WORK/ws/$t"
    mkdir -p "$ws/c"   # Cargo.lock is kept: no re-resolution on later runs
    put "$ws/Cargo.toml" <<EOF
# generated by tests/cross/run.sh
[workspace]
members = ["c/*"]
resolver = "3"   # MSRV-aware: dependencies resolved for rust-version $RUST_MSRV

[workspace.dependencies]
zerocopy = { version = "$ZEROCOPY", features = ["derive"] }
EOF
    if [ "$(endian_of "$t")" = little ]; then own=bpfel; other=bpfeb; else own=bpfeb; other=bpfel; fi
    if [ "$own" = bpfel ]; then ownf=("${BPFEL[@]}"); otherf=("${BPFEB[@]}"); else ownf=("${BPFEB[@]}"); otherf=("${BPFEL[@]}"); fi
    for f in "${ownf[@]}"; do add_member "$ws" "$t" "$own" "$f" compile "$own/$(basename "$f")"; done
    for f in "${otherf[@]}"; do add_member "$ws" "$t" "$other" "$f" guard "$other/$(basename "$f")"; done
    if [ "$t" = i686-unknown-linux-gnu ]; then
        add_member "$ws" "$t" control "$CTRL/naive.rs" e0080 "control naive.rs"
        add_member "$ws" "$t" control "$CTRL/padded.rs" compile "control padded.rs"
    fi
    for d in "$ws"/c/*/; do   # drop crates of files that are gone
        d="${d%/}"
        [ -n "${USED[$t/${d##*/}]:-}" ] || rm -rf "$d"
    done
done
say "step generate scratch crates (${#CHECKS[@]} checks): $(since "$t0")"

# ---- cargo check, one invocation per target ---------------------------------------------------
mkdir -p "$WORK/logs"
for t in $TARGETS; do
    ws="$WORK/ws/$t"
    t0=$(now)
    rc=0
    # stdout: JSON (compiler-artifact = that crate type-checked); stderr: short diagnostics
    # rendered by cargo, one line each: "path:line:col: error[CODE]: message".
    (cd "$ws" && cargo check --target "$t" --workspace --keep-going \
        --message-format=json-diagnostic-short,json-render-diagnostics \
        >"$WORK/logs/$t.json" 2>"$WORK/logs/$t.log") || rc=$?
    # manifests of the crates that type-checked (fresh or rebuilt)
    grep -F '"reason":"compiler-artifact"' "$WORK/logs/$t.json" \
        | grep -oE '"manifest_path":"[^"]*"' >"$WORK/logs/$t.built" || true
    say "step cargo check --target $t ($(ls "$ws/c" | wc -l) crates, exit $rc): $(since "$t0")"
done

# ---- verdicts -------------------------------------------------------------------------------
passed=0
failed=0
show() {   # indent the diagnostics relevant to one check, at most 30 lines
    if [ -n "$1" ]; then printf '%s\n' "$1" | head -n 30 | sed 's/^/        /'; fi
}
for c in "${CHECKS[@]}"; do
    IFS='|' read -r t pkg expect file label <<<"$c"
    ws="$WORK/ws/$t"
    built=no
    if grep -qxF "\"manifest_path\":\"$ws/c/$pkg/Cargo.toml\"" "$WORK/logs/$t.built"; then
        built=yes
    fi
    # Diagnostics located in the included file or in the crate's own lib.rs, plus cargo's verdict.
    diags=$(awk -v f="$file:" -v l="c/$pkg/lib.rs:" -v p="\`$pkg\`" \
        'index($0, f) == 1 || index($0, l) == 1 || index($0, p) > 0' "$WORK/logs/$t.log")
    errs=$(grep -E ': error(\[E[0-9]+\])?: ' <<<"$diags" || true)
    verdict=FAIL
    case "$expect" in
        compile)
            if [ "$built" = yes ]; then verdict=PASS; what="compiles"; else what="must compile, but FAILED"; fi ;;
        guard)
            what="rejected by its endianness guard"
            if [ "$built" = yes ]; then
                what="$what: it COMPILED on this $(endian_of "$t")-endian target"
            elif awk 'index($0, "bpfgen:") && /endian/ { f = 1 } END { exit !f }' <<<"$errs"; then
                verdict=PASS
            else
                what="$what: failed, but no error contains \"bpfgen:\" and \"endian\""
            fi ;;
        e0080)
            what="rejected with E0080 (layout assertion)"
            if [ "$built" = yes ]; then
                what="$what: it COMPILED, the check cannot fail"
            elif grep -qF 'error[E0080]' <<<"$errs"; then
                verdict=PASS
            else
                what="$what: failed, but without E0080"
            fi ;;
    esac
    printf 'cross: %s %-32s %s: %s\n' "$verdict" "$t" "$label" "$what"
    if [ "$verdict" = PASS ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        if [ -n "$diags" ]; then
            show "$diags"
        elif [ "$built" = no ]; then
            echo "        no diagnostics for this crate; last lines of $WORK/logs/$t.log:"
            show "$(grep -v '^ *\(Compiling\|Checking\|Blocking\|Locking\|Updating\|Downloaded\|Downloading\) ' "$WORK/logs/$t.log" | tail -n 15)"
        fi
    fi
done

say "logs: $WORK/logs/"
say "total time: $(since "$T_START")"
SUMMARY_DONE=1
echo "cross: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
