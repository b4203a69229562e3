//! The layout oracle at scale: every named struct and union of the running kernel's
//! BTF (`/sys/kernel/btf/vmlinux`), and every enum, against the host C compiler
//! compiling `bpftool btf dump file /sys/kernel/btf/vmlinux format c`.
//!
//! bpfgen's numbers come from `bpfgen_core::report::report` of a `--all` selection,
//! turned into checks by the walk the fixture oracle uses (`src/walk.rs`): `sizeof`,
//! `_Alignof`, the `offsetof` and `sizeof` of every member (recursing into anonymous
//! members with C designators), `__typeof__` size and alignment of anonymous member
//! types, and the bit range of every bitfield (set to -1 in a zeroed object, then
//! scanned). The C program is table-driven: one static array of constant expressions
//! (cheap for the compiler however long) and the bitfield scans split over many small
//! functions.
//!
//! Runs only where `/sys/kernel/btf/vmlinux` exists (it prints loudly that it skipped
//! otherwise); there it needs `bpftool` and `cc` (`.ci/run` installs both).
//!
//! What the dump cannot express is excluded by name, each with its reason, in
//! [`DUPLICATES`] and [`EXCLUDED`]; an exclusion that no longer applies fails the test
//! too, so the lists cannot rot. `BPFGEN_ORACLE_KEEP=DIR` keeps the dump, the C program
//! and the list of mismatches in `DIR`.
//!
//! Also here: the closure of `task_struct` and `sk_buff` compiles, and a module's split
//! BTF on top of vmlinux (`--base`) generates and compiles.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[path = "../src/walk.rs"]
#[allow(dead_code)]
mod walk;

#[path = "../src/btf_builder.rs"]
#[allow(dead_code)]
mod btf_builder;

#[path = "../support/rustc.rs"]
#[allow(dead_code)]
mod rustc;

use bpfgen_core::ir::{Kind, TypeId};
use bpfgen_core::report::TypeReport;
use walk::{CExpr, Check, Expected};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Names the kernel's BTF defines more than once (different definitions of one tag in
/// different compilation units, which pahole keeps apart). bpftool's dump keeps one as
/// `NAME` and renames the others `NAME___2`, `NAME___3`, … in the order it first prints
/// them, not in BTF id order. The test pairs each BTF definition with the dumped
/// definition that has the same member (or enumerator) names, in order; when that is not
/// a one-to-one match the definitions are ambiguous and their name must be listed here:
/// they are then not checked from the top (anonymous types reached only through them are
/// not checked either). (name, reason)
const DUPLICATES: &[(&str, &str)] = &[
    (
        "elf_note_info",
        "fs/binfmt_elf.c and fs/compat_binfmt_elf.c define it with the same member names \
         (`siginfo_t` vs `compat_siginfo_t csigdata`)",
    ),
    (
        "elf_thread_core_info",
        "fs/binfmt_elf.c and fs/compat_binfmt_elf.c define it with the same member names \
         (`struct elf_prstatus` vs `struct compat_elf_prstatus prstatus`)",
    ),
];

/// Why the C dump cannot reproduce a type's BTF layout. Each has a scope (which checks
/// of the type it excuses) and a proof the test verifies for every type listed with it,
/// so an entry cannot hide a bpfgen bug, and an entry that excuses nothing fails the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    /// A 1- or 2-byte enum (`__packed` in the kernel), or a type holding one by value
    /// (through members, arrays, typedefs). bpftool 7.1 (libbpf 1.1) dumps every enum as
    /// a plain C enum, which is 4 bytes, so the enum's size and alignment, the size of
    /// every type holding it, and the offsets after it differ in C. Scope: every check
    /// of the type. Proof: the type is, or holds by value, an enum whose BTF size is not 4.
    /// (Checked once by hand: with the eight enums below marked `__attribute__((packed))`
    /// in the dump, every size, offset and bit range of these types agreed with C.)
    SmallEnum,
    /// A union whose members pahole dropped (BTF: no members, non-zero size); the dump
    /// is an empty union, of size 0 in C. Scope: every check of the type. Proof: the BTF
    /// type is a union with no members and a non-zero size.
    EmptyUnion,
    /// `__attribute__((aligned(N)))` on the type, a member, or a type it holds (e.g.
    /// `____cacheline_aligned`): libbpf 1.1 reproduces the offsets and the size with
    /// explicit padding (`long: 64;`, `long: 0;`) but emits no `aligned` attribute (and
    /// marks some such structs `packed`), so C's `_Alignof` is the natural alignment or
    /// less. Scope: the type's `_Alignof` and the `:typeof:align` of its anonymous member
    /// types; its size and offsets are still checked. Proof: C's alignment is smaller
    /// than bpfgen's (bpfgen's comes from the padding the BTF shows; a bpfgen alignment
    /// below C's is never excused).
    AlignmentLost,
}

/// Types whose checks the C dump cannot reproduce, by C spelling, per [`Loss`]
/// (found with this test on kernel 6.18; a new kernel may need entries added).
struct Exclusion {
    loss: Loss,
    types: &'static [&'static str],
}

const EXCLUDED: &[Exclusion] = &[
    Exclusion {
        loss: Loss::SmallEnum,
        types: &[
            "enum _cache_table_type",
            "enum _tlb_table_type",
            "enum blk_integrity_checksum",
            "enum btrfs_delayed_ref_action",
            "enum btrfs_ref_type",
            "enum rw_hint",
            "enum xfs_group_type",
            "enum xfs_metafile_type",
            "struct bdev_inode",
            "struct bio",
            "struct blk_integrity",
            "struct blkdev_dio",
            "struct btrfs_bio",
            "struct btrfs_device",
            "struct btrfs_dio_private",
            "struct btrfs_fs_info",
            "struct btrfs_inode",
            "struct btrfs_ref",
            "struct compressed_bio",
            "struct dax_device",
            "struct debugfs_inode_info",
            "struct erofs_fileio_rq",
            "struct erofs_inode",
            "struct ext4_inode_info",
            "struct fuse_inode",
            "struct hugetlbfs_inode_info",
            "struct inode",
            "struct iomap_ioend",
            "struct leaf_0x2_table",
            "struct mqueue_inode_info",
            "struct ovl_inode",
            "struct proc_inode",
            "struct queue_limits",
            "struct request_queue",
            "struct shmem_inode_info",
            "struct socket_alloc",
            "struct squashfs_inode_info",
            "struct trace_event_raw_xfs_bmap_deferred_class",
            "struct trace_event_raw_xfs_calc_atomic_write_unit_max",
            "struct trace_event_raw_xfs_discard_class",
            "struct trace_event_raw_xfs_extent_busy_class",
            "struct trace_event_raw_xfs_extent_busy_trim",
            "struct trace_event_raw_xfs_free_extent_deferred_class",
            "struct trace_event_raw_xfs_group_class",
            "struct trace_event_raw_xfs_group_corrupt_class",
            "struct trace_event_raw_xfs_refcount_class",
            "struct trace_event_raw_xfs_refcount_deferred_class",
            "struct trace_event_raw_xfs_refcount_double_extent_at_class",
            "struct trace_event_raw_xfs_refcount_double_extent_class",
            "struct trace_event_raw_xfs_refcount_extent_at_class",
            "struct trace_event_raw_xfs_refcount_extent_class",
            "struct trace_event_raw_xfs_refcount_lookup",
            "struct trace_event_raw_xfs_refcount_triple_extent_class",
            "struct trace_event_raw_xfs_rmap_class",
            "struct trace_event_raw_xfs_rmap_convert_state",
            "struct trace_event_raw_xfs_rmap_deferred_class",
            "struct trace_event_raw_xfs_rmapbt_class",
            "struct tracefs_inode",
            "struct xfs_group",
            "struct xfs_inode",
            "struct xfs_metadir_update",
            "struct xfs_open_zone",
            "struct xlog_in_core",
        ],
    },
    Exclusion {
        loss: Loss::EmptyUnion,
        types: &["release_pages_arg"],
    },
    Exclusion {
        loss: Loss::AlignmentLost,
        types: &[
            "irq_cpustat_t",
            "struct Qdisc",
            "struct bgl_lock",
            "struct bitmap_ipmac_elem",
            "struct blk_mq_ctx",
            "struct blk_mq_hw_ctx",
            "struct blockgroup_lock",
            "struct bpf_binary_header",
            "struct bpf_common_lru",
            "struct bpf_htab",
            "struct bpf_iter_task_vma_kern_data",
            "struct bpf_local_storage_elem",
            "struct bpf_lru",
            "struct bpf_lru_list",
            "struct bpf_prog_stats",
            "struct bpf_raw_event_map",
            "struct bpf_ringbuf",
            "struct bpf_struct_ops_bpf_dummy_ops",
            "struct bpf_struct_ops_map",
            "struct bpf_struct_ops_tcp_congestion_ops",
            "struct bpf_struct_ops_value",
            "struct bpf_trace_sample_data",
            "struct bts_ctx",
            "struct bucket_table",
            "struct cfs_rq",
            "struct cgroup",
            "struct cgroup_root",
            "struct clock_event_device",
            "struct compat_blk_user_trace_setup",
            "struct cpu_entry_area",
            "struct debug_store",
            "struct dentry_operations",
            "struct dql",
            "struct dst_ops",
            "struct ethtool_rxfh_context",
            "struct ext4_sb_info",
            "struct files_struct",
            "struct flow_keys",
            "struct fpstate",
            "struct fpu",
            "struct fqdir",
            "struct futex_hash_bucket",
            "struct futex_private_hash",
            "struct gdt_page",
            "struct gen_cookie",
            "struct hpet_channel",
            "struct hrtimer_clock_base",
            "struct hrtimer_cpu_base",
            "struct htb_class",
            "struct hugetlb_cgroup",
            "struct ifb_q_private",
            "struct inet_hashinfo",
            "struct inet_timewait_death_row",
            "struct inode_operations",
            "struct io_hash_bucket",
            "struct io_ring_ctx",
            "struct io_rings",
            "struct io_uring_task",
            "struct io_zcrx_area",
            "struct io_zcrx_ifq",
            "struct irq_desc",
            "struct irqaction",
            "struct k_itimer",
            "struct kern_ipc_perm",
            "struct kioctx",
            "struct kvm",
            "struct kvm_arch",
            "struct kvm_mmu_gate",
            "struct kvm_pvm",
            "struct kyber_ctx_queue",
            "struct list_lru_node",
            "struct mem_cgroup",
            "struct mem_cgroup_per_node",
            "struct memcg_vmstats_percpu",
            "struct mm_struct",
            "struct module",
            "struct mptcp_pm_ops",
            "struct mptcp_sched_ops",
            "struct msg_queue",
            "struct nd_lane",
            "struct net",
            "struct net_aligned_data",
            "struct net_bridge_fdb_entry",
            "struct net_device",
            "struct netdev_queue",
            "struct netdev_rx_queue",
            "struct netns_ipv4",
            "struct netns_ipv6",
            "struct netns_xfrm",
            "struct nf_ct_ext",
            "struct nfqnl_instance",
            "struct nft_flowtable",
            "struct nft_object",
            "struct nft_pipapo_elem",
            "struct nft_set",
            "struct nft_set_elem_expr",
            "struct nft_set_ext",
            "struct numa_drop_counters",
            "struct old_timex32",
            "struct operand",
            "struct packet_fanout",
            "struct packet_rollover",
            "struct packet_sock",
            "struct page_counter",
            "struct page_pool",
            "struct page_snapshot",
            "struct pcpu_chunk",
            "struct pcpu_dstats",
            "struct perf_sample_data",
            "struct pfifo_fast_priv",
            "struct pglist_data",
            "struct pool_workqueue",
            "struct psi_group_cpu",
            "struct ptr_ring",
            "struct pvclock_vsyscall_time_info",
            "struct pvm_tramp_ctl",
            "struct pvm_tramp_ro",
            "struct raw6_sock",
            "struct raw_hashinfo",
            "struct raw_sock",
            "struct rchan_buf",
            "struct rcu_data",
            "struct rcu_node",
            "struct rcu_state",
            "struct receive_queue",
            "struct return_instance",
            "struct rps_sock_flow_table",
            "struct rq",
            "struct sbitmap_word",
            "struct sbq_wait_state",
            "struct sctp_paddrparams",
            "struct sem_array",
            "struct shmid_kernel",
            "struct skb_array",
            "struct skb_defer_node",
            "struct socket",
            "struct socket_wq",
            "struct softnet_data",
            "struct srcu_data",
            "struct super_block",
            "struct tap_queue",
            "struct task_group",
            "struct task_struct",
            "struct tc_action",
            "struct tcf_mirred",
            "struct tcf_pedit",
            "struct tcp6_sock",
            "struct tcp_congestion_ops",
            "struct tcp_sock",
            "struct timer_base",
            "struct tss_struct",
            "struct tun_file",
            "struct tun_flow_entry",
            "struct udp6_sock",
            "struct udp_hslot_main",
            "struct udp_prod_queue",
            "struct udp_sock",
            "struct unix_sock",
            "struct va_alignment",
            "struct vcpu_pvm",
            "struct vdso_time_data",
            "struct veth_rq",
            "struct virtio_blk_vq",
            "struct virtio_vsock",
            "struct vm_area_struct",
            "struct workqueue_struct",
            "struct x86_emulate_ctxt",
            "struct x86_perf_task_context_arch_lbr_xsave",
            "struct xdp_buff_xsk",
            "struct xdp_ring",
            "struct xdp_rxq_info",
            "struct xdp_rxtx_ring",
            "struct xdp_sock",
            "struct xdp_test_data",
            "struct xdp_umem_ring",
            "struct xfs_cil",
            "struct xfs_mount",
            "struct xlog",
            "struct xlog_grant_head",
            "struct xsk_buff_pool",
            "struct xt_rateest",
            "struct xt_statistic_priv",
            "struct zone",
        ],
    },
];

/// What C printed for one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CValue {
    Num(u64),
    Bits {
        lo: u64,
        width: u64,
        contiguous: bool,
    },
    NoBits,
}

fn skip(test: &str, why: &str) {
    let line = "!".repeat(88);
    eprintln!("{line}\n!!! {test} SKIPPED: {why}\n{line}");
    println!("{test} SKIPPED: {why}");
}

/// The C program: prints one line per check, in check order (numbers first, then bit
/// scans), so no keys need to be printed or parsed.
fn c_program(checks: &[Check]) -> String {
    let mut s = String::with_capacity(checks.len() * 80);
    s.push_str("#include \"vmlinux.h\"\n#define offsetof(T, M) __builtin_offsetof(T, M)\n\n");
    // No libc headers: they could clash with kernel type names.
    // The sizes of the types the bit scans use: the scan buffer is as large as the largest.
    let scanned = checks
        .iter()
        .filter_map(|c| match &c.c {
            CExpr::BitScan { ctype, .. } => Some(ctype.as_str()),
            CExpr::Num(_) => None,
        })
        .collect::<BTreeSet<_>>();
    s.push_str("static const unsigned long bpfgen_sizes[] = {\n");
    for t in &scanned {
        writeln!(s, "\tsizeof({t}),").unwrap();
    }
    s.push_str("\t0\n};\n");
    s.push_str("static const unsigned long bpfgen_nums[] = {\n");
    for c in checks {
        if let CExpr::Num(e) = &c.c {
            writeln!(s, "\t{e},").unwrap();
        }
    }
    s.push_str("\t0\n};\n");
    s.push_str(
        r#"static unsigned char *bpfgen_buf;
static void bpfgen_scan(unsigned long n)
{
	long lo = -1, hi = -1, cnt = 0;
	for (unsigned long i = 0; i < n; i++) {
		unsigned char b = bpfgen_buf[i];
		if (!b)
			continue;
		for (int j = 0; j < 8; j++)
			if ((b >> j) & 1) {
				long bit = (long)(i * 8 + j);
				if (lo < 0)
					lo = bit;
				hi = bit;
				cnt++;
			}
	}
	__builtin_printf("b %ld %ld %d\n", lo, cnt, lo >= 0 && hi - lo + 1 == cnt);
}
"#,
    );
    let scans: Vec<(&str, &str)> = checks
        .iter()
        .filter_map(|c| match &c.c {
            CExpr::BitScan { ctype, desig } => Some((ctype.as_str(), desig.as_str())),
            CExpr::Num(_) => None,
        })
        .collect();
    // Many small functions: gcc's time grows faster than linearly with function size.
    let chunks: Vec<_> = scans.chunks(500).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        writeln!(s, "static void bpfgen_bits_{i}(void)\n{{").unwrap();
        for (ctype, desig) in *chunk {
            writeln!(
                s,
                "\t{{ {ctype} *v = (void *)bpfgen_buf; __builtin_memset(v, 0, sizeof *v); v->{desig} = -1; bpfgen_scan(sizeof *v); }}"
            )
            .unwrap();
        }
        s.push_str("}\n");
    }
    s.push_str(
        r#"int main(void)
{
	unsigned long max = 1;
	for (unsigned long i = 0; i < sizeof bpfgen_sizes / sizeof bpfgen_sizes[0]; i++)
		if (bpfgen_sizes[i] > max)
			max = bpfgen_sizes[i];
	unsigned char *p = __builtin_malloc(max + 4096);
	if (!p)
		return 1;
	bpfgen_buf = (unsigned char *)(((unsigned long)p + 4095) & ~4095UL);
	for (unsigned long i = 0; i + 1 < sizeof bpfgen_nums / sizeof bpfgen_nums[0]; i++)
		__builtin_printf("n %lu\n", bpfgen_nums[i]);
"#,
    );
    for i in 0..chunks.len() {
        writeln!(s, "\tbpfgen_bits_{i}();").unwrap();
    }
    s.push_str("\treturn 0;\n}\n");
    s
}

/// C's value for every check, in check order.
fn parse_c(out: &str, checks: &[Check]) -> Vec<CValue> {
    let mut nums = Vec::new();
    let mut bits = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["n", v] => nums.push(CValue::Num(v.parse().unwrap())),
            ["b", lo, cnt, contig] => {
                let lo: i64 = lo.parse().unwrap();
                bits.push(if lo < 0 {
                    CValue::NoBits
                } else {
                    CValue::Bits {
                        lo: lo as u64,
                        width: cnt.parse().unwrap(),
                        contiguous: *contig == "1",
                    }
                });
            }
            _ => panic!("unexpected C output line `{line}`"),
        }
    }
    let (mut n, mut b) = (nums.into_iter(), bits.into_iter());
    let out: Vec<CValue> = checks
        .iter()
        .map(|c| {
            match &c.c {
                CExpr::Num(_) => n.next(),
                CExpr::BitScan { .. } => b.next(),
            }
            .expect("the C program printed fewer lines than there are checks")
        })
        .collect();
    assert!(
        n.next().is_none() && b.next().is_none(),
        "the C program printed more lines than there are checks"
    );
    out
}

/// `NAME` of a dumped `NAME___N`.
fn base_name(n: &str) -> &str {
    match n.rsplit_once("___") {
        Some((b, k)) if k.parse::<u32>().is_ok() => b,
        _ => n,
    }
}

/// The member names of a BTF struct/union (named members only) or the enumerator
/// names of an enum, in order.
fn member_names(ir: &bpfgen_core::ir::Ir, id: TypeId) -> Vec<String> {
    match &ir.get(id).kind {
        Kind::Struct(c) | Kind::Union(c) => {
            c.members.iter().filter_map(|m| m.name.clone()).collect()
        }
        Kind::Enum(e) => e.values.iter().map(|v| v.0.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The top-level definitions in bpftool's dump of the tags in `wanted` (and their
/// `___N` renames): `(struct|union|enum, name)` → the names of its members (named
/// members at the outermost level, the names of named members of anonymous
/// struct/union members excluded, as in [`member_names`]) or enumerators, in order.
/// bpftool writes one declaration per line, tab-indented by depth.
fn dump_definitions(
    dump: &str,
    wanted: &BTreeSet<&str>,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    let mut lines = dump.lines();
    while let Some(line) = lines.next() {
        let Some(head) = line.strip_suffix(" {") else {
            continue;
        };
        let Some((word, name)) = head.split_once(' ') else {
            continue;
        };
        if !matches!(word, "struct" | "union" | "enum") || !wanted.contains(base_name(name)) {
            continue;
        }
        let mut names = Vec::new();
        let mut depth = 1usize;
        for l in lines.by_ref() {
            let t = l.trim();
            let (opens, closes) = (t.matches('{').count(), t.matches('}').count());
            if word == "enum" {
                if t.starts_with('}') {
                    break;
                }
                let n: String = t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.push(n);
                continue;
            }
            if depth == 1 && opens == 0 && closes == 0 {
                names.extend(decl_name(t));
            } else if closes > 0 && depth + opens == 1 + closes && t.starts_with('}') {
                // `} name;` closing an anonymous struct/union member (or `};`).
                names.extend(decl_name(t.trim_start_matches('}')));
            }
            depth = (depth + opens).saturating_sub(closes);
            if depth == 0 {
                break;
            }
        }
        out.insert((word.to_string(), name.to_string()), names);
    }
    out
}

/// The declared name of one dumped member declaration (`u64 x[4];`, `void (*f)(int);`,
/// `unsigned int b: 3;`), or `None` for padding (`long: 64;`) and `;`.
fn decl_name(decl: &str) -> Option<String> {
    let d = decl.trim().trim_end_matches(';').trim();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(p) = d.find("(*") {
        let n = ident(d[p..].trim_start_matches(['(', '*', ' ']));
        return (!n.is_empty()).then_some(n);
    }
    let (d, bitfield) = match d.rsplit_once(':') {
        Some((a, b)) if b.trim().parse::<u32>().is_ok() => (a.trim(), true),
        _ => (d, false),
    };
    let d = d.split('[').next().unwrap_or(d).trim();
    let last = d
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    let padding = bitfield && matches!(last, "long" | "int" | "short" | "char");
    (!last.is_empty() && !padding).then(|| last.to_string())
}

/// Whether type `id` is, or holds by value (through members, arrays, typedefs and
/// qualifiers), an enum whose size is not 4 bytes.
fn holds_small_enum(ir: &bpfgen_core::ir::Ir, id: TypeId) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![id];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        match &ir.get(id).kind {
            Kind::Enum(e) if e.size != 4 => return true,
            Kind::Struct(c) | Kind::Union(c) => stack.extend(c.members.iter().map(|m| m.ty)),
            Kind::Array { elem: t, .. }
            | Kind::Typedef { target: t }
            | Kind::Qual { target: t } => stack.push(*t),
            _ => {}
        }
    }
    false
}

fn matches(expected: Expected, got: CValue) -> bool {
    match (expected, got) {
        (Expected::Num(want), CValue::Num(got)) => want == got,
        (
            Expected::Bits { bit_offset, bits },
            CValue::Bits {
                lo,
                width,
                contiguous,
            },
        ) => contiguous && lo == bit_offset && width == bits,
        _ => false,
    }
}

/// The listed type whose [`Loss`] excuses the mismatch of check `key` (bpfgen says
/// `expected`, C says `got`), if any.
fn excuse<'a>(
    loss_of: &BTreeMap<&'a str, Loss>,
    key: &str,
    expected: Expected,
    got: CValue,
) -> Option<&'a str> {
    let (ty, what) = key.split_once('|')?;
    let (t, loss) = loss_of.get_key_value(ty)?;
    let excused = match loss {
        Loss::SmallEnum | Loss::EmptyUnion => true,
        Loss::AlignmentLost => {
            (what == "_Alignof" || what.ends_with(":typeof:align"))
                && matches!((expected, got), (Expected::Num(b), CValue::Num(c)) if c < b)
        }
    };
    excused.then_some(*t)
}

/// The C spellings bpfgen's reports give, resolved against the dump's renames of
/// duplicated names (see [`DUPLICATES`]). Returns (resolved `name = BTF id` lines,
/// names listed in DUPLICATES that were met, unlisted ambiguous names, the number of
/// types left unchecked).
fn resolve_duplicates(
    model: &bpfgen_core::Model,
    reports: &mut [TypeReport],
    dump: &str,
) -> (Vec<String>, BTreeSet<String>, Vec<String>, usize) {
    // Structs, unions and enums share C's tag namespace; typedef names (of anonymous
    // types) are apart.
    let mut by_c: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        if let Some(c) = &r.c_type {
            let key = match ["struct ", "union ", "enum "]
                .iter()
                .find_map(|w| c.strip_prefix(w))
            {
                Some(t) => format!("tag {t}"),
                None => format!("typedef {c}"),
            };
            by_c.entry(key).or_default().push(i);
        }
    }
    let dup_names: BTreeSet<&str> = by_c
        .iter()
        .filter(|(_, idx)| idx.len() > 1)
        .filter_map(|(k, _)| k.strip_prefix("tag "))
        .collect();
    let dumped = dump_definitions(dump, &dup_names);
    let (mut resolved, mut listed, mut unlisted, mut unchecked) =
        (Vec::new(), BTreeSet::new(), Vec::new(), 0);
    for (c, idx) in by_c.iter().filter(|(_, idx)| idx.len() > 1) {
        let bare = c.split_once(' ').map_or(c.as_str(), |x| x.1);
        // Each BTF definition pairs with the one dumped definition of its member names.
        let pairs: Option<Vec<(usize, String)>> = idx
            .iter()
            .map(|&i| {
                let (word, names) = (reports[i].kind, member_names(&model.ir, reports[i].id));
                let mut found = dumped
                    .iter()
                    .filter(|((w, n), m)| w == word && base_name(n) == bare && **m == names)
                    .map(|((w, n), _)| format!("{w} {n}"));
                match (found.next(), found.next()) {
                    (Some(one), None) => Some((i, one)),
                    _ => None,
                }
            })
            .collect();
        let one_to_one = pairs
            .as_ref()
            .is_some_and(|p| p.iter().map(|(_, n)| n).collect::<BTreeSet<_>>().len() == p.len());
        match pairs {
            Some(pairs) if one_to_one => {
                for (i, name) in pairs {
                    resolved.push(format!("{name} = BTF id {}", reports[i].id));
                    reports[i].c_type = Some(name);
                }
            }
            _ => {
                if DUPLICATES.iter().any(|d| d.0 == bare) {
                    listed.insert(bare.to_string());
                } else {
                    unlisted.push(format!("`{c}` ({} definitions)", idx.len()));
                }
                for &i in idx {
                    reports[i].c_type = None;
                    unchecked += 1;
                }
            }
        }
    }
    (resolved, listed, unlisted, unchecked)
}

/// Runs `cmd`, panicking with its stderr (first lines) when it fails.
fn run(what: &str, cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
    out.stdout
}

#[test]
fn vmlinux_layout_oracle() {
    if !Path::new(VMLINUX).exists() {
        skip(
            "vmlinux_layout_oracle",
            &format!("{VMLINUX} does not exist on this host"),
        );
        return;
    }
    let t_all = Instant::now();
    // Where to keep the C program, the dump and the mismatches (for debugging).
    let keep = std::env::var_os("BPFGEN_ORACLE_KEEP").map(std::path::PathBuf::from);

    // bpfgen's side.
    let t = Instant::now();
    let opts = bpfgen_core::Options {
        all: true,
        ..Default::default()
    };
    let model = bpfgen_core::load(Path::new(VMLINUX), &opts).unwrap_or_else(|e| panic!("{e}"));
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let mut reports =
        bpfgen_core::report::report(&model, &items).unwrap_or_else(|e| panic!("report: {e:?}"));
    let t_bpfgen = t.elapsed();

    // The dump.
    let t = Instant::now();
    let dump = run(
        "bpftool btf dump (apt-get install bpftool)",
        Command::new("bpftool").args(["btf", "dump", "file", VMLINUX, "format", "c"]),
    );
    let t_dump = t.elapsed();
    let (dup_resolved, dup_listed, dup_unlisted, dup_unchecked) =
        resolve_duplicates(&model, &mut reports, &String::from_utf8_lossy(&dump));
    let n_struct_union = reports
        .iter()
        .filter(|r| r.kind != "enum" && model.ir.get(r.id).name.is_some())
        .count();
    let w = walk::walk_reports(&model, &reports, "", "crate::vmlinux");

    // The C side.
    let dir = tempfile::tempdir().unwrap();
    let dir = keep.as_deref().unwrap_or(dir.path());
    std::fs::write(dir.join("vmlinux.h"), &dump).unwrap();
    let src = c_program(&w.checks);
    std::fs::write(dir.join("oracle.c"), &src).unwrap();
    let t = Instant::now();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    run(
        &format!("the C compiler `{cc}` on the oracle program"),
        Command::new(&cc)
            .args(["-std=gnu11", "-O0", "-w", "-o"])
            .arg(dir.join("oracle"))
            .arg(dir.join("oracle.c")),
    );
    let t_cc = t.elapsed();
    let t = Instant::now();
    let out = run(
        "the C oracle program",
        &mut Command::new(dir.join("oracle")),
    );
    let c = parse_c(&String::from_utf8(out).unwrap(), &w.checks);
    let t_run = t.elapsed();

    // Compare.
    let mut loss_of: BTreeMap<&str, Loss> = BTreeMap::new();
    for e in EXCLUDED {
        for t in e.types {
            assert!(
                loss_of.insert(t, e.loss).is_none(),
                "`{t}` is listed twice in EXCLUDED"
            );
        }
    }
    let mut bad = Vec::new();
    let mut excused: BTreeMap<&str, usize> = BTreeMap::new();
    for (ch, got) in w.checks.iter().zip(&c) {
        if matches(ch.expected, *got) {
            continue;
        }
        match excuse(&loss_of, &ch.key, ch.expected, *got) {
            Some(t) => *excused.entry(t).or_default() += 1,
            None => bad.push(format!(
                "`{}`: bpfgen says {:?}, C says {:?}",
                ch.key, ch.expected, got
            )),
        }
    }
    if let Some(k) = &keep {
        std::fs::write(k.join("mismatches.txt"), bad.join("\n")).unwrap();
    }
    // Every exclusion must excuse something, and its proof must hold.
    let mut stale = Vec::new();
    for (t, loss) in &loss_of {
        let Some(r) = reports.iter().find(|r| r.c_type.as_deref() == Some(*t)) else {
            stale.push(format!("`{t}` ({loss:?}): not a type of this kernel"));
            continue;
        };
        if !excused.contains_key(t) {
            stale.push(format!("`{t}` ({loss:?}): no mismatch to excuse"));
        }
        let proof = match loss {
            Loss::SmallEnum => holds_small_enum(&model.ir, r.id),
            Loss::EmptyUnion => matches!(
                &model.ir.get(r.id).kind,
                Kind::Union(c) if c.members.is_empty() && c.size > 0
            ),
            Loss::AlignmentLost => true, // checked per mismatch, in `excuse`
        };
        if !proof {
            stale.push(format!("`{t}` ({loss:?}): the BTF does not show that loss"));
        }
    }
    for d in DUPLICATES.iter().filter(|d| !dup_listed.contains(d.0)) {
        stale.push(format!("duplicate `{}`: not ambiguous here", d.0));
    }

    let n_bits = w
        .checks
        .iter()
        .filter(|c| matches!(c.expected, Expected::Bits { .. }))
        .count();
    let direct = w.reached.values().filter(|h| *h == "direct").count();
    println!(
        "vmlinux: {} report types ({n_struct_union} named structs and unions); {direct} checked \
         by C name, {} anonymous through their parents; {} members; {} checks against C \
         ({n_bits} bitfield bit ranges): {} mismatches, {} more excused by EXCLUDED ({} types); \
         {} definitions of duplicated names matched to bpftool's renames, {dup_unchecked} \
         definitions of {} ambiguous names not checked",
        reports.len(),
        w.reached.len() - direct,
        w.members_checked,
        w.checks.len(),
        bad.len(),
        excused.values().sum::<usize>(),
        excused.len(),
        dup_resolved.len(),
        dup_listed.len() + dup_unlisted.len(),
    );
    println!(
        "times: bpfgen load+select+report {t_bpfgen:.2?}, bpftool dump {t_dump:.2?}, \
         cc {t_cc:.2?} ({} KiB of C), run {t_run:.2?}, total {:.2?}",
        src.len() / 1024,
        t_all.elapsed()
    );
    for d in &dup_resolved {
        println!("  duplicate: {d}");
    }
    for u in &w.unreached {
        println!("  not checked: {u}");
    }
    assert!(
        w.checks.len() > 100_000 && n_struct_union > 5_000,
        "suspiciously few checks"
    );
    assert!(
        dup_unlisted.is_empty(),
        "names defined more than once in the BTF whose definitions the dump's member names \
         do not tell apart, and not in DUPLICATES: {}",
        dup_unlisted.join(", ")
    );
    assert!(
        stale.is_empty(),
        "exclusions that do not apply (remove them):\n{}",
        stale.join("\n")
    );
    assert!(
        bad.is_empty(),
        "{} layout mismatches between bpfgen and C (first 50):\n{}",
        bad.len(),
        bad.iter().take(50).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// `--type task_struct --type sk_buff` (their closure: a few hundred types) compiles
/// with every layout assertion and `#![deny(warnings)]`, zerocopy off (as for raw BTF
/// by default), as the body of a module of a `no_std` library. (`--all` compiles too,
/// but takes about 40 s and 4 GB: a benchmark, not a test.)
#[test]
fn vmlinux_closure_compiles() {
    if !Path::new(VMLINUX).exists() {
        skip(
            "vmlinux_closure_compiles",
            &format!("{VMLINUX} does not exist on this host"),
        );
        return;
    }
    let t = Instant::now();
    let opts = bpfgen_core::Options {
        types: vec!["task_struct".into(), "sk_buff".into()],
        ..Default::default()
    };
    let model = bpfgen_core::load(Path::new(VMLINUX), &opts).unwrap_or_else(|e| panic!("{e}"));
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let code = model.generate(&opts).unwrap_or_else(|e| panic!("{e}"));
    let t_gen = t.elapsed();
    assert!(
        code.contains("pub struct task_struct {") && code.contains("pub struct sk_buff {"),
        "the roots are missing"
    );
    assert!(
        !code.contains("::zerocopy::"),
        "raw BTF generates without zerocopy by default"
    );

    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    run(
        "rustc on the generated closure of task_struct and sk_buff",
        &mut rustc::check_no_std_command(dir.path(), &code),
    );
    println!(
        "task_struct + sk_buff: {} items, {} lines, generated in {t_gen:.2?}, rustc --emit=metadata {:.2?}",
        items.len(),
        code.lines().count(),
        t.elapsed()
    );
}

/// A kernel module's split BTF on top of the running kernel's (this kernel has no module
/// BTF files, so the module is built here): `--base vmlinux module --all` generates the
/// module's types and, from vmlinux, only what they hold by value, and that compiles.
#[test]
fn vmlinux_split_module_btf() {
    if !Path::new(VMLINUX).exists() {
        skip(
            "vmlinux_split_module_btf",
            &format!("{VMLINUX} does not exist on this host"),
        );
        return;
    }
    let base = std::fs::read(VMLINUX).unwrap();
    let vmlinux = bpfgen_core::load_bytes(&base, VMLINUX, None).unwrap_or_else(|e| panic!("{e}"));
    let ir = &vmlinux.ir;
    let find = |name: &str, want: fn(&Kind) -> bool| -> u32 {
        (0..ir.types.len() as u32)
            .find(|&id| ir.name(id) == Some(name) && want(&ir.get(id).kind))
            .unwrap_or_else(|| panic!("vmlinux has no `{name}`"))
    };
    let list_head = find("list_head", |k| matches!(k, Kind::Struct(_)));
    let task_struct = find("task_struct", |k| matches!(k, Kind::Struct(_)));
    let u32_td = find("u32", |k| matches!(k, Kind::Typedef { .. }));
    let last = ir.types.len() as u32 - 1;

    let mut b = btf_builder::Btf::split(&base, last);
    let task_ptr = b.ptr(task_struct);
    let module_type = b.structure(
        "bpfgen_mod_state",
        32,
        &[
            btf_builder::m("link", list_head, 0),
            btf_builder::m("owner", task_ptr, 16),
            btf_builder::m("count", u32_td, 24),
            btf_builder::bf("armed", u32_td, 224, 1),
            btf_builder::bf("mode", u32_td, 225, 3),
        ],
    );
    let split = b.blob();
    let model = bpfgen_core::load_bytes(&split, "bpfgen_mod.btf", Some((&base, VMLINUX)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.ir.first_id, last + 1);
    let opts = bpfgen_core::Options {
        all: true,
        ..Default::default()
    };
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = items
        .iter()
        .filter_map(|&id| model.names.item(id))
        .collect();
    assert!(items.contains(&module_type), "{names:?}");
    for want in ["bpfgen_mod_state", "list_head", "u32", "__u32"] {
        assert!(names.contains(&want), "`{want}` not generated: {names:?}");
    }
    assert!(
        !names.contains(&"task_struct"),
        "a pointer's target is not held by value: {names:?}"
    );
    let code = model.generate(&opts).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    run(
        "rustc on the generated module types",
        &mut rustc::check_no_std_command(dir.path(), &code),
    );
    println!("split BTF on vmlinux: {} items: {names:?}", items.len());
}

// --- the oracle's own machinery ------------------------------------------------------

#[test]
fn exclusions_are_narrow() {
    let loss_of: BTreeMap<&str, Loss> = [
        ("struct a", Loss::AlignmentLost),
        ("struct e", Loss::SmallEnum),
        ("union u", Loss::EmptyUnion),
    ]
    .into_iter()
    .collect();
    let n = CValue::Num;
    let e = Expected::Num;
    // Alignment losses excuse only a bpfgen alignment above C's.
    assert_eq!(
        excuse(&loss_of, "struct a|_Alignof", e(64), n(8)),
        Some("struct a")
    );
    assert_eq!(
        excuse(&loss_of, "struct a|m:typeof:align", e(16), n(8)),
        Some("struct a")
    );
    assert_eq!(excuse(&loss_of, "struct a|_Alignof", e(4), n(8)), None);
    assert_eq!(excuse(&loss_of, "struct a|sizeof", e(64), n(72)), None);
    assert_eq!(excuse(&loss_of, "struct a|m", e(8), n(16)), None);
    assert_eq!(
        excuse(&loss_of, "struct a|m:typeof:size", e(8), n(16)),
        None
    );
    let bits = Expected::Bits {
        bit_offset: 3,
        bits: 2,
    };
    assert_eq!(excuse(&loss_of, "struct a|b", bits, CValue::NoBits), None);
    // Whole-type losses excuse any check of that type, and only of that type.
    assert_eq!(
        excuse(&loss_of, "struct e|m", e(8), n(16)),
        Some("struct e")
    );
    assert_eq!(
        excuse(&loss_of, "union u|sizeof", e(8), n(0)),
        Some("union u")
    );
    assert_eq!(excuse(&loss_of, "struct ea|sizeof", e(8), n(0)), None);
    assert_eq!(excuse(&loss_of, "struct b|_Alignof", e(64), n(8)), None);
    // And a mismatch is one.
    assert!(!matches(e(8), n(16)));
    assert!(!matches(
        bits,
        CValue::Bits {
            lo: 3,
            width: 2,
            contiguous: false
        }
    ));
    assert!(matches(
        bits,
        CValue::Bits {
            lo: 3,
            width: 2,
            contiguous: true
        }
    ));
}

#[test]
fn dump_member_names() {
    let dump = "\
struct other {
\tint x;
};

struct dup {
\tstruct list_head list;
\tvoid (*write)(struct dup *, const char *, unsigned int);
\tint (*(*getter)(void))[4];
\tunsigned int a: 3;
\tlong: 61;
\tunion {
\t\tint u1;
\t\tstruct {
\t\t\tint deep;
\t\t} inner;
\t};
\tstruct {
\t\tint y;
\t} named;
\tchar data[0];
} __attribute__((packed));

enum dup___2 {
\tDUP_A = 0,
\tDUP_B = 1,
};
";
    let wanted: BTreeSet<&str> = ["dup"].into_iter().collect();
    let d = dump_definitions(dump, &wanted);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(
        d[&("struct".to_string(), "dup".to_string())],
        ["list", "write", "getter", "a", "named", "data"]
    );
    assert_eq!(
        d[&("enum".to_string(), "dup___2".to_string())],
        ["DUP_A", "DUP_B"]
    );
    assert_eq!(base_name("workspace___4"), "workspace");
    assert_eq!(base_name("a___b"), "a___b");
    assert_eq!(decl_name("unsigned int: 4;"), None);
    assert_eq!(decl_name("u64 x[2][3];").as_deref(), Some("x"));
    assert_eq!(decl_name("struct a *const p;").as_deref(), Some("p"));
}
