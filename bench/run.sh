#!/usr/bin/env bash
# Generation speed of bpfgen. Prints a table; never run in CI.
#   bash bench/run.sh
# Needs: clang-19 (for the synthetic object), /usr/bin/time, a readable
# /sys/kernel/btf/vmlinux for the kernel row.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p bpfgen-cli
BIN=target/release/bpfgen
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

python3 bench/gen_types.py 2000 > "$W/types2000.bpf.c"
clang-19 -g -O2 -target bpfel -I/usr/include/x86_64-linux-gnu -c "$W/types2000.bpf.c" -o "$W/types2000.bpf.o"
if [[ -r /sys/kernel/btf/vmlinux ]]; then
    bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$W/vmlinux.h"
    clang-19 -g -O2 -target bpfel -I"$W" -c bench/kernel_types.bpf.c -o "$W/kernel_types.bpf.o"
fi

# best-of-N wall time (ms) and the peak RSS (MB) of that run
measure() { # measure RUNS ARGS...
    local runs=$1; shift
    local best="" rss=""
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$W/t" "$BIN" "$@" -o "$W/out.rs" 2>/dev/null
        read -r s kb < "$W/t"
        local ms; ms=$(python3 -c "print(round($s*1000))")
        if [[ -z $best || $ms -lt $best ]]; then best=$ms; rss=$((kb / 1024)); fi
    done
    local lines; lines=$(wc -l < "$W/out.rs")
    local types; types=$(grep -cE '^pub (struct|type) ' "$W/out.rs" || true)
    printf '| %-44s | %8s | %7s | %9s | %7s |\n' "$LABEL" "$best" "$rss" "$lines" "$types"
}

echo "bpfgen $(git describe --always --dirty 2>/dev/null || echo '?') on $(nproc) cores, $(uname -r)"
printf '| %-44s | %8s | %7s | %9s | %7s |\n' "input" "wall ms" "RSS MB" "lines" "items"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "----------" "---------" "-----------" "---------"
LABEL="synthetic 2,000-C-type object (best of 10)" measure 10 "$W/types2000.bpf.o"
if [[ -r /sys/kernel/btf/vmlinux ]]; then
    btf_types=$(bpftool btf dump file "$W/kernel_types.bpf.o" | grep -c '^\[')
    LABEL="vmlinux.h object, $btf_types BTF types (best of 10)" measure 10 "$W/kernel_types.bpf.o"
    LABEL="vmlinux --type task_struct (best of 5)" measure 5 /sys/kernel/btf/vmlinux --type task_struct
    LABEL="vmlinux --all (best of 5)" measure 5 /sys/kernel/btf/vmlinux --all
fi
