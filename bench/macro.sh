#!/usr/bin/env bash
# Extra build time of include_bpf! over include!-ing the same generated file.
#   bash bench/macro.sh [OBJECT]     (default: fixtures/bpfel/layout.bpf.o)
# Builds one scratch crate two ways, warms both, then times N incremental rebuilds
# of each (after touching main.rs) and prints the medians. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
WS=$(pwd)
OBJ=$(realpath "${1:-fixtures/bpfel/layout.bpf.o}")
N=${N:-7}
W=$WS/target/bench-macro
rm -rf "$W"; mkdir -p "$W"
cargo build -q --release -p bpfgen-cli
target/release/bpfgen "$OBJ" -o "$W/generated.rs"

mk() { # mk NAME BODY
    mkdir -p "$W/$1/src"
    cat > "$W/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2021"
[dependencies]
bpfgen-macros = { path = "$WS/bpfgen-macros" }
zerocopy = { version = "0.8", features = ["derive"] }
[workspace]
TOML
    cp "$WS/Cargo.lock" "$W/$1/"
    printf 'mod bpf {\n    %s\n}\nfn main() { let _ = std::mem::size_of::<bpf::__u32>(); }\n' "$2" > "$W/$1/src/main.rs"
}
mk with_macro "bpfgen_macros::include_bpf!(\"$OBJ\");"
mk with_include "include!(\"$W/generated.rs\");"

median_ms() { # median_ms DIR
    local d=$1 times=()
    (cd "$d" && CARGO_TARGET_DIR=$W/target cargo build -q --offline)   # warm
    for _ in $(seq "$N"); do
        touch "$d/src/main.rs"
        local t0; t0=$(date +%s%N)
        (cd "$d" && CARGO_TARGET_DIR=$W/target cargo build -q --offline)
        times+=($(( ($(date +%s%N) - t0) / 1000000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (N + 1) / 2 ))p"
}
a=$(median_ms "$W/with_include")
b=$(median_ms "$W/with_macro")
echo "object: $OBJ ($(wc -l < "$W/generated.rs") generated lines)"
printf '| %-32s | %10s |\n' "crate (incremental rebuild)" "median ms"
printf '|%s|%s|\n' "----------------------------------" "------------"
printf '| %-32s | %10s |\n' "include!(generated.rs)" "$a"
printf '| %-32s | %10s |\n' "include_bpf!(object)" "$b"
printf '| %-32s | %10s |\n' "extra cost of the macro" "$((b - a))"
