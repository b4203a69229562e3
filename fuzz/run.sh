#!/usr/bin/env bash
# Fuzz bpfgen for a bounded time per target, seeded from the fixtures: `object` (files
# into the whole pipeline, with the CLI's options, the layout report and check's
# regeneration), `btf` (raw BTF), `split` (split BTF over a base), `structured` (a
# generator of deep and wide well-formed BTF); then compile a sample of what was
# accepted.
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
mkdir -p corpus/object corpus/btf corpus/split corpus/structured
# `object` reads its options from the first byte (bit 0 --all, 1 --aya, 2 no zerocopy,
# 3 --embed): each fixture is seeded with a few of them.
for o in ../fixtures/bpfel/*.bpf.o ../fixtures/bpfeb/*.bpf.o; do
    for mode in 0 3 6 9; do
        { printf "\\$(printf '%03o' "$mode")"; cat "$o"; } \
            > "corpus/object/$mode-$(basename "$(dirname "$o")")-$(basename "$o")"
    done
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
# `split` reads a base and a split blob (the first two bytes: the base's length):
# seeded with each fixture's BTF as the base and the layout fixture's on top.
for b in corpus/btf/*.btf; do
    python3 - "$b" corpus/btf/layout.btf "corpus/split/$(basename "$b")" <<'PY'
import struct, sys
base, split = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
open(sys.argv[3], 'wb').write(struct.pack('<H', len(base) & 0xffff) + base + split)
PY
done
status=0
for target in object btf split structured; do
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

# Every input bpfgen accepts must give code that compiles: the CLI on a sample of the
# object corpus (mode byte dropped, --all, no zerocopy so plain rustc needs no crates),
# each accepted output compiled as a no_std library with #![deny(warnings)].
echo "=== compile a sample of accepted outputs"
(cd .. && cargo build -q --release -p bpfgen-cli)
BPFGEN=../target/release/bpfgen
S=$(mktemp -d); trap 'rm -rf "$S"' EXIT
accepted=0; tried=0
for f in $(ls -S corpus/object | head -400); do
    ((accepted >= ${SAMPLE:-25})) && break
    tried=$((tried + 1))
    tail -c +2 "corpus/object/$f" > "$S/in.o"
    timeout 20 "$BPFGEN" "$S/in.o" --all --no-zerocopy -o "$S/gen.rs" 2>/dev/null || continue
    # A big-endian object's code refuses this little-endian host by design (its guard).
    grep -q 'cfg(not(target_endian = "little"))' "$S/gen.rs" || continue
    accepted=$((accepted + 1))
    printf '#![no_std]\n#![deny(warnings)]\npub mod gen {\ninclude!("gen.rs");\n}\n' > "$S/lib.rs"
    if ! rustc --edition 2021 --crate-type lib --emit metadata -o "$S/lib.rmeta" "$S/lib.rs" 2> "$S/err"; then
        echo "fuzz: accepted input corpus/object/$f gives code that does not compile:" >&2
        head -20 "$S/err" >&2
        mkdir -p artifacts/compile && cp "corpus/object/$f" artifacts/compile/
        status=1
    fi
done
echo "compiled the outputs of $accepted accepted inputs (of $tried tried)"
exit $status
