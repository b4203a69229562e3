#!/usr/bin/env bash
# Cross-host proof for CI: install Debian's rustc 1.85 with the i686 and s390x std
# (setup.sh), generate every fixture of both byte orders with this checkout's bpfgen,
# and type-check all of it on those targets (run.sh): i686 compiles every bpfel file
# (u64/f64 4-aligned there), s390x every bpfeb file, and each file fails on the
# other byte order with the guard's message.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tests/cross/setup.sh
cargo build -q --locked -p bpfgen-cli
gen=target/cross/gen
rm -rf "$gen"
mkdir -p "$gen/bpfel" "$gen/bpfeb"
for endian in bpfel bpfeb; do
    for obj in fixtures/"$endian"/*.bpf.o; do
        name=$(basename "$obj" .bpf.o)
        target/debug/bpfgen "$obj" -o "$gen/$endian/$name.rs"
    done
done
bash tests/cross/run.sh "$gen"
