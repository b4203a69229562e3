/* A realistic BPF object for the generation benchmark: built against the running
 * kernel's vmlinux.h (bpftool btf dump ... format c), holding common kernel structs
 * by value, as tracing and networking programs do. About 2,000 BTF types. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
struct task_struct g_task; struct sk_buff g_skb; struct sock g_sock; struct net_device g_dev;
struct bpf_prog g_prog; struct file g_file; struct inode g_inode; struct xdp_md g_xdp;
struct tcp_sock g_tcp; struct mm_struct g_mm; struct super_block g_sb; struct bpf_map g_map;
struct cgroup g_cg; struct page g_page; struct request_sock g_req; struct udp_sock g_udp;
struct net g1; struct dentry g2; struct signal_struct g3; struct kmem_cache g4;
struct address_space g5; struct nf_conn g6; struct bpf_verifier_env g7; struct perf_event g8;
struct block_device g9; struct pci_dev g10;
// Seven more, so the object holds just over 2,000 BTF types (2,001 with kernel 6.18).
struct bpf_prog_aux g11; struct socket g12; struct ipv6_pinfo g13; struct bio g14;
struct sched_entity g15; struct seq_file g16; struct fs_context g17;
char LICENSE[] SEC("license") = "GPL";
