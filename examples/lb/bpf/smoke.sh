#!/usr/bin/env bash
# Kernel smoke test of the load balancer's datapath (examples/lb/bpf/lb.bpf.o):
# loads it with bpftool, fills its maps, runs crafted frames through it with
# BPF_PROG_TEST_RUN (`bpftool prog run`) and checks verdicts, output frames
# (byte for byte) and counters. See smoke.py for what is checked.
#
# Needs root (or CAP_BPF + CAP_SYS_ADMIN + CAP_PERFMON), bpftool, python3, and
# bpffs (mounted at /sys/fs/bpf here if it is not). Uses only private pins
# under /sys/fs/bpf/lb_smoke_<pid>_* and removes them; attaches nothing.
# Environment: BPFTOOL, HOSTCC (gcc: builds lb_jhash.h for a cross-check),
# LB_OBJ (default: lb.bpf.o next to this script).
set -euo pipefail
DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"

die() { echo "examples/lb/bpf/smoke.sh: error: $*" >&2; exit 1; }
command -v "${BPFTOOL:-bpftool}" >/dev/null 2>&1 || die "bpftool not found (apt-get install bpftool)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
[[ $(id -u) == 0 ]] || echo "examples/lb/bpf/smoke.sh: warning: not root; loading will likely fail" >&2

if ! mountpoint -q /sys/fs/bpf; then
	mkdir -p /sys/fs/bpf
	mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs at /sys/fs/bpf"
fi

exec python3 "$DIR/smoke.py" "$@"
