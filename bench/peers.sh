#!/usr/bin/env bash
# bpfgen side by side with its peers, in one run; prints one markdown table. Never run in CI.
#   bash bench/peers.sh            (RUNS=3 by default: generation wall time is best of RUNS)
#
# Peers (installed with `cargo install --locked` when absent, in the background, first):
#   - libbpf-cargo (`cargo libbpf gen --object X.bpf.o`, a skeleton whose `types` module
#     holds the types), with rustfmt (its default when rustfmt is on PATH) and without
#     (`--rustfmt-path /nonexistent`: it then warns and keeps the unformatted text);
#   - bindgen-cli on `bpftool btf dump file /sys/kernel/btf/vmlinux format c`, with its
#     layout tests (bindgen's default; since 0.70 they are `const _: () = assert!(…)`, so
#     `cargo check` evaluates them).
# Per tool and input: generation wall time (best of RUNS) and the peak RSS of that run,
# output lines, and `cargo check` time + peak RSS of a scratch library crate holding the
# output (its dependencies are built first, untimed; the timed check recompiles only the
# crate). Scratch space: target/bench-peers/. A peer that cannot be installed or fails
# on an input gets a row saying why; the script goes on.
# Needs: clang-19, bpftool, /usr/bin/time, python3, crates.io, a readable
# /sys/kernel/btf/vmlinux (the kernel rows), libclang (LIBCLANG_PATH, default llvm-19's).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=$ROOT/target/bench-peers
RUNS=${RUNS:-3}
LIBBPF_CARGO_VERSION=${LIBBPF_CARGO_VERSION:-0.27.2}   # builds on Rust 1.95
BINDGEN_VERSION=${BINDGEN_VERSION:-0.73.2}             # builds on Rust 1.95
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
T0=$(date +%s)
mkdir -p "$W/out" "$W/crates"
ROWS=$W/rows.md; : > "$ROWS"
CMDS=$W/commands.txt; : > "$CMDS"
log() { echo "[peers $(( $(date +%s) - T0 ))s] $*" >&2; }

# ---- 1. peers: install in the background when absent -------------------------------
have_libbpf() { command -v cargo-libbpf >/dev/null 2>&1; }
have_bindgen() { command -v bindgen >/dev/null 2>&1; }
LIBBPF_PID=""; BINDGEN_PID=""
if ! have_libbpf; then
    log "installing libbpf-cargo $LIBBPF_CARGO_VERSION (background)"
    cargo install libbpf-cargo --version "$LIBBPF_CARGO_VERSION" --locked \
        > "$W/install-libbpf-cargo.log" 2>&1 & LIBBPF_PID=$!
fi
if ! have_bindgen; then
    log "installing bindgen-cli $BINDGEN_VERSION (background)"
    cargo install bindgen-cli --version "$BINDGEN_VERSION" --locked \
        > "$W/install-bindgen-cli.log" 2>&1 & BINDGEN_PID=$!
fi

# ---- 2. bpfgen and the inputs --------------------------------------------------------
log "building bpfgen (release)"
cargo build --release -q -p bpfgen-cli || { echo "bpfgen build failed" >&2; exit 1; }
BPFGEN=$ROOT/target/release/bpfgen
python3 bench/gen_types.py 2000 > "$W/types2000.bpf.c"
clang-19 -g -O2 -target bpfel -I/usr/include/x86_64-linux-gnu -c "$W/types2000.bpf.c" -o "$W/types2000.bpf.o"
KERNEL=0
if [[ -r /sys/kernel/btf/vmlinux ]]; then
    KERNEL=1
    bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$W/vmlinux.h"
    clang-19 -g -O2 -target bpfel -I"$W" -c bench/kernel_types.bpf.c -o "$W/kernel_types.bpf.o"
fi

# ---- 3. wait for the peers -----------------------------------------------------------
LIBBPF_WHY=""; BINDGEN_WHY=""
if [[ -n $LIBBPF_PID ]]; then
    log "waiting for libbpf-cargo install"
    wait "$LIBBPF_PID" || LIBBPF_WHY="cargo install libbpf-cargo failed: $(grep -m1 '^error' "$W/install-libbpf-cargo.log")"
fi
if [[ -n $BINDGEN_PID ]]; then
    log "waiting for bindgen-cli install"
    wait "$BINDGEN_PID" || BINDGEN_WHY="cargo install bindgen-cli failed: $(grep -m1 '^error' "$W/install-bindgen-cli.log")"
fi
have_libbpf || LIBBPF_WHY=${LIBBPF_WHY:-"cargo-libbpf not on PATH"}
have_bindgen || BINDGEN_WHY=${BINDGEN_WHY:-"bindgen not on PATH"}
LIBBPF_VER=$(cargo install --list | sed -n 's/^libbpf-cargo v\([0-9.]*\):$/\1/p')
BINDGEN_VER=$(bindgen --version 2>/dev/null | awk '{print $2}')
LIBBPF_RS_REQ=$(echo "${LIBBPF_VER:-0.27.0}" | cut -d. -f1,2)   # libbpf-rs minor matching the generator
RUSTFMT_VER=$(rustfmt --version 2>/dev/null || echo "rustfmt: absent")

# ---- 4. measurement helpers ----------------------------------------------------------
# gen ID CMD... : runs CMD (stdout -> $W/out/ID.rs) RUNS times; sets G_MS, G_MB, G_LINES,
# G_ERR. The wall time is the best run, the RSS that run's peak (children included,
# e.g. rustfmt under libbpf-cargo).
gen() {
    local id=$1; shift
    local out=$W/out/$id.rs best="" rss="" s kb ms
    G_ERR=""
    echo "$* > $out" >> "$CMDS"
    for _ in $(seq "$RUNS"); do
        if ! /usr/bin/time -f "%e %M" -o "$W/t" "$@" > "$out" 2> "$W/out/$id.err"; then
            G_ERR="exit $(tail -1 "$W/t" | grep -o '[0-9]*$' || echo ?): $(grep -v '^Command exited' "$W/out/$id.err" | grep -m1 -iE 'error|panic' | cut -c1-120)"
            G_MS="-"; G_MB="-"; G_LINES="-"; return 1
        fi
        read -r s kb < <(tail -1 "$W/t")
        ms=$(python3 -c "print(round($s*1000))")
        if [[ -z $best || $ms -lt $best ]]; then best=$ms; rss=$((kb / 1024)); fi
    done
    G_MS=$best; G_MB=$rss; G_LINES=$(wc -l < "$out")
}

# check ID KIND : a scratch crate holding $W/out/ID.rs as `pub mod gen;` (public: no dead-code lint). KIND: bpfgen-zc
# (zerocopy), bpfgen-raw (no deps), libbpf (libbpf-rs), bindgen (no deps). Dependencies
# are built first with an empty module (untimed), then `cargo check` is timed once.
# Sets C_S, C_MB, C_ERR. All crates share one target dir, so dependencies build once.
check() {
    local id=$1 kind=$2 dir=$W/crates/$1 deps="" attrs=""
    case $kind in
        bpfgen-zc) deps='zerocopy = { version = "0.8", features = ["derive"] }'
                   attrs='#![allow(confusable_idents)] // zerocopy-derive on kernel field names, see README' ;;
        bpfgen-raw) ;;
        libbpf) deps="libbpf-rs = \"$LIBBPF_RS_REQ\""; attrs='#![allow(warnings)]' ;;
        bindgen) attrs='#![allow(warnings)]' ;;
    esac
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<EOF
[package]
name = "peers-$(echo "$id" | tr '_.' '--')"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
path = "src/lib.rs"

[dependencies]
$deps

[workspace]
EOF
    printf '%s\npub mod gen;\n' "$attrs" > "$dir/src/lib.rs"
    : > "$dir/src/gen.rs"
    export CARGO_TARGET_DIR=$W/check-target
    C_ERR=""
    if ! (cd "$dir" && cargo check -q) > "$W/out/$id.check-warm.log" 2>&1; then
        C_ERR="dependencies failed: $(grep -m1 '^error' "$W/out/$id.check-warm.log" | cut -c1-120)"
        C_S="-"; C_MB="-"; return 1
    fi
    cp "$W/out/$id.rs" "$dir/src/gen.rs"
    if [[ $kind == bindgen ]]; then
        neutralise_failing_layout_tests "$dir"
        # Its checks left a build and incremental state: time a fresh one, like the others.
        (cd "$dir" && cargo clean -q -p "peers-$(echo "$id" | tr '_.' '--')")
    fi
    echo "(cd $dir && CARGO_TARGET_DIR=$CARGO_TARGET_DIR cargo check -q)   # src/lib.rs: $attrs pub mod gen;" >> "$CMDS"
    if ! (cd "$dir" && /usr/bin/time -f "%e %M" -o "$W/t" cargo check -q) > "$W/out/$id.check.log" 2>&1; then
        C_ERR="cargo check failed ($(grep -c '^error' "$W/out/$id.check.log") errors): $(grep -m1 '^error' "$W/out/$id.check.log" | cut -c1-120)"
        C_S="-"; C_MB="-"; return 1
    fi
    local s kb
    read -r s kb < <(tail -1 "$W/t")
    C_S=$s; C_MB=$((kb / 1024))
    return 0
}

# neutralise_failing_layout_tests DIR : bindgen's layout tests of some kernel types fail on
# its own output (bpftool's vmlinux.h loses a few layouts, e.g. `virtio_vsock`). To time
# its output at all, every `["…"][A - B];` of the const block holding a failing one is
# rewritten `["…"][((A) ^ (B)) & 0];`: the same evaluation, without the failure. Sets
# NEUTRALISED (how many types).
NEUTRALISED=0
neutralise_failing_layout_tests() {
    local dir=$1 lines
    NEUTRALISED=0
    for _ in 1 2 3 4 5 6; do
        (cd "$dir" && cargo check -q --message-format short) > "$W/neutralise.log" 2>&1 && return 0
        lines=$(grep -oE 'src/gen.rs:[0-9]+:[0-9]+: error\[E0080\]' "$W/neutralise.log" | cut -d: -f2 | sort -un)
        [[ -z $lines ]] && return 0
        NEUTRALISED=$((NEUTRALISED + $(echo "$lines" | wc -l)))
        python3 - "$dir/src/gen.rs" $lines <<'PY'
import re, sys
path, lines = sys.argv[1], [int(n) - 1 for n in sys.argv[2:]]
src = open(path).read().split("\n")
for n in lines:
    start = n
    while start > 0 and not src[start].startswith("const _: () = {"):
        start -= 1
    end = n
    while end < len(src) - 1 and src[end] != "};":
        end += 1
    for k in range(start, end + 1):
        src[k] = re.sub(r"\[([^][]*) - ([^][]*)\];$", r"[((\1) ^ (\2)) & 0];", src[k])
open(path, "w").write("\n".join(src))
PY
    done
}

row() { # row INPUT TOOL GEN_MS GEN_MB LINES CHECK_S CHECK_MB NOTE
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$@" >> "$ROWS"
}
fail_row() { row "$1" "$2" - - - - - "$3"; }

# A libbpf-cargo skeleton embeds the object as `static DATA: [u8; N] = [...]`; count the
# lines without it too.
lines_wo_data() { awk '/static DATA: \[u8;/ {skip=1} !skip {n++} skip && /\];/ {skip=0} END {print n+0}' "$1"; }

bench_object() { # bench_object LABEL PATH.bpf.o ZC_KIND
    local label=$1 obj=$2 kind=$3 stem; stem=$(basename "$obj" .bpf.o)
    log "object $label: bpfgen"
    if gen "bpfgen-$stem" "$BPFGEN" "$obj"; then
        local ms=$G_MS mb=$G_MB lines=$G_LINES
        check "bpfgen-$stem" "$kind"
        row "$label" "bpfgen" "$ms" "$mb" "$lines" "$C_S" "$C_MB" "${C_ERR:-zerocopy derives + layout assertions}"
    else fail_row "$label" bpfgen "$G_ERR"; fi
    if [[ -n $LIBBPF_WHY ]]; then fail_row "$label" "libbpf-cargo" "$LIBBPF_WHY"; return; fi
    local fmt
    for fmt in rustfmt no-rustfmt; do
        local id="libbpf-$fmt-$stem" extra=()
        [[ $fmt == no-rustfmt ]] && extra=(--rustfmt-path /nonexistent)
        log "object $label: libbpf-cargo ($fmt)"
        if gen "$id" cargo-libbpf libbpf gen --object "$obj" "${extra[@]}"; then
            local ms=$G_MS mb=$G_MB lines="$G_LINES ($(lines_wo_data "$W/out/$id.rs") w/o DATA)"
            check "$id" libbpf
            row "$label" "libbpf-cargo $LIBBPF_VER, $fmt" "$ms" "$mb" "$lines" "$C_S" "$C_MB" "${C_ERR:-skeleton + types; needs libbpf-rs}"
        else fail_row "$label" "libbpf-cargo $LIBBPF_VER, $fmt" "$G_ERR"; fi
    done
}

# ---- 5. the runs ---------------------------------------------------------------------
if [[ $KERNEL == 1 ]]; then
    nbtf=$(bpftool btf dump file "$W/kernel_types.bpf.o" | grep -c '^\[')
    bench_object "kernel_types.bpf.o ($nbtf BTF types, vmlinux.h)" "$W/kernel_types.bpf.o" bpfgen-zc
fi
bench_object "synthetic 2,000-C-type object" "$W/types2000.bpf.o" bpfgen-zc
bench_object "fixtures/bpfel/maps.bpf.o" "$ROOT/fixtures/bpfel/maps.bpf.o" bpfgen-zc
bench_object "fixtures/bpfel/layout.bpf.o" "$ROOT/fixtures/bpfel/layout.bpf.o" bpfgen-zc

if [[ $KERNEL == 1 ]]; then
    label="vmlinux ($(bpftool btf dump file /sys/kernel/btf/vmlinux | grep -c '^\[') BTF types)"
    log "vmlinux: bpfgen --all"
    if gen bpfgen-vmlinux "$BPFGEN" /sys/kernel/btf/vmlinux --all; then
        ms=$G_MS; mb=$G_MB; lines=$G_LINES
        log "vmlinux: cargo check of bpfgen's output"
        check bpfgen-vmlinux bpfgen-raw
        row "$label" "bpfgen --all" "$ms" "$mb" "$lines" "$C_S" "$C_MB" "${C_ERR:-raw BTF, no zerocopy; every layout assertion}"
    else fail_row "$label" "bpfgen --all" "$G_ERR"; fi
    if [[ -n $BINDGEN_WHY ]]; then fail_row "$label" "bindgen" "$BINDGEN_WHY"
    else
        log "vmlinux: bindgen vmlinux.h"
        if gen bindgen-vmlinux bindgen "$W/vmlinux.h" -- -DBPF_NO_PRESERVE_ACCESS_INDEX; then
            ms=$G_MS; mb=$G_MB; lines=$G_LINES
            log "vmlinux: cargo check of bindgen's output"
            check bindgen-vmlinux bindgen
            row "$label" "bindgen $BINDGEN_VER on vmlinux.h" "$ms" "$mb" "$lines" "$C_S" "$C_MB" "${C_ERR:-host target, default options (layout tests on; those of $NEUTRALISED types that fail neutralised), clang arg -DBPF_NO_PRESERVE_ACCESS_INDEX}"
        else fail_row "$label" "bindgen $BINDGEN_VER on vmlinux.h" "$G_ERR"; fi
    fi
fi

# ---- 6. report -----------------------------------------------------------------------
echo
echo "bpfgen $(git describe --always --dirty 2>/dev/null || echo '?') vs libbpf-cargo ${LIBBPF_VER:-absent}, bindgen ${BINDGEN_VER:-absent}; $(rustc --version); $RUSTFMT_VER"
echo "$(nproc) cores, kernel $(uname -r); generation: best of $RUNS; cargo check: once, dependencies prebuilt"
echo
echo "| input | tool | gen ms | gen RSS MB | output lines | check s | check RSS MB | notes |"
echo "|---|---|---|---|---|---|---|---|"
cat "$ROWS"
echo
echo "Commands (outputs in $W/out, scratch crates in $W/crates):"
sort -u "$CMDS" | sed 's/^/    /'
echo
echo "Total: $(( $(date +%s) - T0 )) s"
