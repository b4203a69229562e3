#!/usr/bin/env bash
# A vmlinux.h tracing tool as its user builds it, every form side by side in one run:
# fixtures/bpfel/tracing.bpf.o (CO-RE reads of task_struct: 244 BTF types) through
#   - bpfgen's default output (the types user space shares with the object),
#   - bpfgen --all (every type: what the default was before),
#   - the build-script builder and include_bpf! (default options),
#   - the libbpf-cargo skeleton (`cargo libbpf gen`, installed when absent; needs
#     libbpf-rs, whose vendored libbpf needs libelf-dev, zlib1g-dev, pkg-config).
# Each is a fresh binary crate whose main.rs uses the record type `event`. Per form:
# output lines and items, `cargo check` of the crate (dependencies built first,
# untimed), and the rebuild (`cargo build`, dev profile) after an edit of main.rs, best
# of RUNS, with peak RSS. Never run in CI.
#   bash bench/first_contact.sh          (RUNS=3)
# Scratch space: target/bench-first-contact/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=$ROOT/target/bench-first-contact
RUNS=${RUNS:-3}
OBJ=$ROOT/fixtures/bpfel/tracing.bpf.o
LIBBPF_CARGO_VERSION=${LIBBPF_CARGO_VERSION:-0.27.2}
mkdir -p "$W"
export CARGO_TARGET_DIR=$W/target
log() { echo "[first-contact] $*" >&2; }

log "building bpfgen (release)"
cargo build --release -q -p bpfgen-cli || exit 1
BPFGEN=$ROOT/target/release/bpfgen
if ! command -v cargo-libbpf >/dev/null 2>&1; then
    log "installing libbpf-cargo $LIBBPF_CARGO_VERSION"
    cargo install -q libbpf-cargo --version "$LIBBPF_CARGO_VERSION" --locked || log "libbpf-cargo install failed"
fi

# crate ID DEPS BUILD_DEPS BUILD_RS MODULE_SRC : a binary crate in $W/ID whose main.rs
# holds MODULE_SRC (a `mod gen …`) and uses gen's `event`.
crate() {
    local id=$1 deps=$2 bdeps=$3 build=$4 module=$5 dir=$W/$1
    rm -rf "$dir"; mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<EOF
[package]
name = "fc-$id"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$deps

[build-dependencies]
$bdeps

[workspace]
EOF
    [[ -n $build ]] && printf '%s\n' "$build" > "$dir/build.rs"
    local attrs='#![deny(warnings)]'
    [[ $id == libbpf-* ]] && attrs='#![allow(warnings)] // the skeleton is not ours to hold to deny(warnings)'
    cat > "$dir/src/main.rs" <<EOF
$attrs
$module
fn main() {
    let e = EVENT::default();
    println!("{}", core::mem::size_of_val(&e));
}
EOF
    cp "$ROOT/Cargo.lock" "$dir/Cargo.lock"
}

# measure ID ROWLABEL LINES ITEMS : check + rebuild of crate ID, one table row.
measure() {
    local id=$1 label=$2 lines=$3 items=$4 dir=$W/$1 best="" rss="" s kb
    # Dependencies built for both `check` (metadata) and `build`, untimed.
    if ! (cd "$dir" && cargo check -q && cargo build -q) > "$W/$id.warm.log" 2>&1; then
        echo "| $label | $lines | $items | - | - | build failed: $(grep -m1 '^error' "$W/$id.warm.log" | cut -c1-100) |"
        return
    fi
    (cd "$dir" && cargo clean -q -p "fc-$id")
    (cd "$dir" && /usr/bin/time -f "%e %M" -o "$W/t" cargo check -q) > /dev/null 2>&1
    read -r s kb < <(tail -1 "$W/t")
    local check="$s s, $((kb / 1024)) MB"
    (cd "$dir" && cargo build -q) > /dev/null 2>&1
    for n in $(seq "$RUNS"); do
        echo "// edit $n" >> "$dir/src/main.rs"
        (cd "$dir" && /usr/bin/time -f "%e %M" -o "$W/t" cargo build -q) > /dev/null 2>&1
        read -r s kb < <(tail -1 "$W/t")
        if [[ -z $best ]] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then
            best=$s; rss=$((kb / 1024))
        fi
    done
    echo "| $label | $lines | $items | $check | $best s, $rss MB | |"
}

items() { grep -cE '^pub (struct|type) ' "$1"; }
ZC='zerocopy = { version = "0.8", features = ["derive"] }'

echo "| form | output lines | items | \`cargo check\` of the crate | rebuild after editing main.rs (best of $RUNS) | note |"
echo "|---|---|---|---|---|---|"

"$BPFGEN" "$OBJ" -o "$W/default.rs"
crate bpfgen-default "$ZC" "" "" 'mod gen; use gen::event as EVENT;'
cp "$W/default.rs" "$W/bpfgen-default/src/gen.rs"
measure bpfgen-default "bpfgen (default: shared types)" "$(wc -l < "$W/default.rs")" "$(items "$W/default.rs")"

"$BPFGEN" "$OBJ" --all -o "$W/all.rs"
crate bpfgen-all "$ZC" "" "" 'mod gen; use gen::event as EVENT;'
cp "$W/all.rs" "$W/bpfgen-all/src/gen.rs"
measure bpfgen-all "bpfgen --all (the default before)" "$(wc -l < "$W/all.rs")" "$(items "$W/all.rs")"

crate bpfgen-builder "$ZC" "bpfgen-core = { path = \"$ROOT/bpfgen-core\" }" \
    "fn main() { bpfgen_core::builder::Builder::new(\"$OBJ\").generate().unwrap_or_else(|e| panic!(\"{e}\")); }" \
    'mod gen { include!(concat!(env!("OUT_DIR"), "/tracing.rs")); } use gen::event as EVENT;'
measure bpfgen-builder "bpfgen builder (build.rs)" "$(wc -l < "$W/default.rs")" "$(items "$W/default.rs")"

crate bpfgen-macro "$ZC
bpfgen-macros = { path = \"$ROOT/bpfgen-macros\" }" "" "" \
    "mod gen { bpfgen_macros::include_bpf!(\"$OBJ\"); } use gen::event as EVENT;"
measure bpfgen-macro "bpfgen include_bpf!" "$(wc -l < "$W/default.rs")" "$(items "$W/default.rs")"

# libbpf-cargo's skeleton does not compile for the fixture itself: its `struct maps`
# collides with the skeleton's own `maps` module (E0428). The peer rows use a copy of
# the source with the colliding names renamed, generated by both tools.
PEER_SRC=$W/peer-src
rm -rf "$PEER_SRC"; mkdir -p "$PEER_SRC"
cp "$ROOT/fixtures/src/tracing.bpf.c" "$ROOT/fixtures/src/tracing.h" "$ROOT/fixtures/src/vmlinux/vmlinux.h" "$PEER_SRC/"
sed -i 's/struct maps\b/struct counters/g; s/struct globals\b/struct gstate/g; s/struct programs\b/struct progkey/g; s/} ALL SEC/} all_map SEC/; s/} MapDef SEC/} mapdef SEC/' \
    "$PEER_SRC/tracing.bpf.c" "$PEER_SRC/tracing.h"
(cd "$PEER_SRC" && clang-19 -g -O2 -target bpfel -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu -c tracing.bpf.c -o tracing.bpf.o) || exit 1
PEER_OBJ=$PEER_SRC/tracing.bpf.o
"$BPFGEN" "$PEER_OBJ" -o "$W/peer.rs"
crate bpfgen-peer "$ZC" "" "" 'mod gen; use gen::event as EVENT;'
cp "$W/peer.rs" "$W/bpfgen-peer/src/gen.rs"
measure bpfgen-peer "bpfgen (default), names renamed for libbpf-cargo" "$(wc -l < "$W/peer.rs")" "$(items "$W/peer.rs")"

if command -v cargo-libbpf >/dev/null 2>&1; then
    ver=$(cargo install --list | sed -n 's/^libbpf-cargo v\([0-9.]*\):$/\1/p')
    cargo libbpf gen --object "$PEER_OBJ" > "$W/skel.rs" 2> "$W/skel.err"
    crate libbpf-skel "libbpf-rs = \"$(echo "$ver" | cut -d. -f1,2)\"" "" "" \
        'mod gen { include!("skel.rs"); } use gen::types::event as EVENT;'
    cp "$W/skel.rs" "$W/libbpf-skel/src/skel.rs"
    measure libbpf-skel "libbpf-cargo $ver skeleton, names renamed" "$(wc -l < "$W/skel.rs")" "$(grep -cE '^ *pub (struct|type) ' "$W/skel.rs")"
else
    echo "| libbpf-cargo skeleton | - | - | - | - | cargo-libbpf not available |"
fi
echo
echo "(machine: $(nproc) cores; $(rustc --version); object: fixtures/bpfel/tracing.bpf.o)"
