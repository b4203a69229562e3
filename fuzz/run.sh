#!/usr/bin/env bash
# Fuzz bpfgen for a bounded time per target, seeded from the fixtures.
#   bash fuzz/run.sh [SECONDS_PER_TARGET]     (default 60; CI uses a short smoke run)
# Uses cargo-fuzz (libFuzzer) on the stable toolchain with RUSTC_BOOTSTRAP=1 (cargo
# fuzz needs nightly-only flags such as -Zsanitizer). Installs cargo-fuzz when absent.
# A crash leaves its input under fuzz/artifacts/<target>/ and fails the script: turn
# each into a regression test (bpfgen-cli/tests/hostile.rs) before fixing it.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/object corpus/btf
for o in ../fixtures/bpfel/*.bpf.o ../fixtures/bpfeb/*.bpf.o; do
    cp -f "$o" "corpus/object/$(basename "$(dirname "$o")")-$(basename "$o")"
done
# Raw BTF seeds: the .BTF section of each little-endian fixture.
for o in ../fixtures/bpfel/*.bpf.o; do
    n=$(basename "$o" .bpf.o)
    python3 - "$o" "corpus/btf/$n.btf" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
shoff, = struct.unpack_from('<Q', data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3a)
def sh(i):
    return struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize)
strtab = sh(shstrndx)
for i in range(shnum):
    s = sh(i)
    name = data[strtab[4] + s[0]:].split(b'\0', 1)[0]
    if name == b'.BTF':
        open(sys.argv[2], 'wb').write(data[s[4]:s[4] + s[5]])
PY
done
status=0
for target in object btf; do
    echo "=== fuzz $target for ${SECS}s"
    # -rss_limit_mb: the memory bound bpfgen promises is max(20x input, 200 MB); a
    # fuzz input is small, so anything near 2 GB is a bug.
    if ! cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
        grep -E "^(#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|Test unit written|ERROR)"; then
        :
    fi
    if [[ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]]; then
        echo "fuzz: $target found crashes: $(ls "artifacts/$target")" >&2
        status=1
    fi
done
exit $status
