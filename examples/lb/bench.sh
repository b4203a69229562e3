#!/usr/bin/env bash
# The load balancer's benchmark (not run in CI). Needs root (it loads lb_xdp).
#   bash examples/lb/bench.sh            # 200,000 test runs per datapath case
#   LB_BENCH_CALLS=50000 bash examples/lb/bench.sh
# Prints two tables:
#   - datapath ns/packet: the kernel's BPF_PROG_TEST_RUN `duration`, one packet per
#     call (repeat 1), for a VIP hit with a conntrack hit (IPv4 and IPv6), a VIP miss,
#     and new flows (each call a new 5-tuple: conntrack miss, Maglev, insert);
#   - control plane: computing a 65,537-slot weighted Maglev table in Rust, writing it
#     into a fresh inner map (65,537 map updates), and the one lb_maglev update that
#     swaps it in, for 10, 100 and 1,000 backends.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $(id -u) != 0 ]]; then
    echo "examples/lb/bench.sh: warning: not root; loading the program will likely fail" >&2
fi
if ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf bpf /sys/fs/bpf
fi
cargo build --release -q -p lb --example bench
echo "host: $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
exec target/release/examples/bench
