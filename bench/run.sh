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

# wall time over RUNS runs (min and median, ms, timed in-process by python for
# sub-millisecond resolution) and the peak RSS (MB) of one more run
measure() { # measure RUNS ARGS...
    local runs=$1; shift
    local t; t=$(python3 - "$runs" "$BIN" "$@" -o "$W/out.rs" <<'PY'
import statistics, subprocess, sys, time
runs, args = int(sys.argv[1]), sys.argv[2:]
ts = []
for _ in range(runs):
    t = time.perf_counter()
    subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
    ts.append((time.perf_counter() - t) * 1000)
print(f"{min(ts):.0f} / {statistics.median(ts):.0f}")
PY
)
    /usr/bin/time -f "%M" -o "$W/t" "$BIN" "$@" -o "$W/out.rs" 2>/dev/null
    local rss=$(( $(cat "$W/t") / 1024 ))
    local lines; lines=$(wc -l < "$W/out.rs")
    local types; types=$(grep -cE '^pub (struct|type) ' "$W/out.rs" || true)
    printf '| %-44s | %12s | %7s | %9s | %7s |\n' "$LABEL" "$t" "$rss" "$lines" "$types"
}

echo "bpfgen $(git describe --always --dirty 2>/dev/null || echo '?') on $(nproc) cores, $(uname -r)"
printf '| %-44s | %12s | %7s | %9s | %7s |\n' "input" "ms min / med" "RSS MB" "lines" "items"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..46})" "--------------" "---------" "-----------" "---------"
LABEL="synthetic 2,000-C-type object (30 runs)" measure 30 "$W/types2000.bpf.o"
if [[ -r /sys/kernel/btf/vmlinux ]]; then
    btf_types=$(bpftool btf dump file "$W/kernel_types.bpf.o" | grep -c '^\[')
    LABEL="vmlinux.h object, $btf_types BTF types (30 runs)" measure 30 "$W/kernel_types.bpf.o"
    LABEL="vmlinux --type task_struct (5 runs)" measure 5 /sys/kernel/btf/vmlinux --type task_struct
    LABEL="vmlinux --all (5 runs)" measure 5 /sys/kernel/btf/vmlinux --all
fi
