// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * lb.bpf.c - the datapath of a katran-style XDP L4 load balancer.
 *
 * One XDP program, `lb_xdp`. Every type it shares with user space is in lb.h;
 * the flow hash is in lb_jhash.h. The control plane (Rust, aya) fills the maps
 * below through types bpfgen generates from this object's BTF.
 *
 * Design
 * ------
 * Virtual services (VIPs) are (address, port, protocol) triples, IPv4 or IPv6,
 * TCP or UDP; port 0 is the wildcard of an address. Traffic to a VIP is
 * forwarded to one backend by encapsulation (direct server return: the backend
 * answers the client itself):
 *   backend IPv4: outer IPv4, protocol 4 (IPIP) or 41 (IPv6 in IPv4)
 *   backend IPv6: outer IPv6, next header 4 (IPv4 in IPv6) or 41 (IP6IP6)
 * The outer header is inserted with bpf_xdp_adjust_head() between the Ethernet
 * header and the untouched inner IP packet, and the frame leaves with XDP_TX.
 *
 * Packet walk (every verdict is XDP_PASS, XDP_TX or XDP_DROP, never ABORTED):
 *   1. Not IPv4/IPv6 (ARP, VLAN-tagged, < 14 bytes)      -> PASS (pass_non_ip)
 *   2. IP header (IPv4: with its options) cut short      -> DROP TRUNCATED
 *      bad version / IPv4 ihl < 5                        -> DROP MALFORMED
 *   3. ICMP frag-needed / ICMPv6 packet-too-big quoting TCP/UDP: the key is
 *      the quoted flow reversed (see lb_parse_icmp4), go on at 6; other ICMP
 *      and every other protocol but TCP/UDP          -> PASS (pass_non_vip)
 *   4. TCP/UDP with IPv4 options or IPv6 extension headers (hop-by-hop,
 *      routing, destination options, fragment; one level is looked at: the
 *      next header must be TCP/UDP or another of these), or an IPv4 fragment
 *      (MF or offset): the ports are not usable, so VIP traffic here means
 *      "the destination is in lb_vip_addrs":
 *        VIP address -> DROP IP_OPTIONS / FRAGMENT; else -> PASS
 *      (an IPv6 extension header shorter than 8 bytes -> DROP TRUNCATED)
 *   5. TCP (20 bytes) / UDP (8 bytes) header cut short   -> DROP TRUNCATED
 *   6. VIP lookup: lb_vips[(dst, dport, proto)], then the wildcard
 *      lb_vips[(dst, 0, proto)]; no VIP                  -> PASS (pass_non_vip)
 *   7. IP length smaller than the headers               -> DROP MALFORMED
 *      frame shorter than the IP length                  -> DROP TRUNCATED
 *   8. Backend choice:
 *        lb_conntrack[flow] names a backend that is ACTIVE or DRAINING (and,
 *        for UDP, was seen within CONFIG.udp_timeout_ns)  -> that backend
 *        (ct_hits; last_seen_ns refreshed). An entry pointing at an ABSENT or
 *        REMOVED backend is counted in ct_stale, an idle UDP entry in
 *        ct_expired; both are re-hashed like a new flow.
 *        Otherwise: slot = flow hash % 65537 in the VIP's Maglev table
 *        (lb_maglev[vip.id]); no table or slot 0        -> DROP NO_BACKEND
 *        backend absent/removed/out of range            -> DROP BACKEND_INVALID
 *        else the flow is recorded in lb_conntrack (new_flows).
 *        ICMP errors (3.) choose the same way but never create or refresh an
 *        entry and count only in icmp_too_big (and packets/bytes).
 *   9. Encapsulate                                       -> TX
 *      bpf_xdp_adjust_head() failed                      -> DROP ENCAP_FAILED
 *   Drops from steps 2-5 are counted globally only (no VIP is known yet);
 *   drops from 7-9 also in the VIP's counters.
 *
 * Maglev tables are built by the control plane (weights, draining) in a fresh
 * inner map and swapped in with one update of lb_maglev, so a half-written
 * table is never live; the datapath only reads table[slot]. Conntrack keeps
 * existing flows on their backend across table changes.
 *
 * Outer headers (exact, so tests can compare bytes):
 *   Ethernet: dst = CONFIG.gw_mac, or the received source MAC if gw_mac is all
 *             zero; src = the received destination MAC; type 0x0800/0x86dd.
 *   IPv4:     45, tos = inner TOS / traffic class, tot_len = 20 + inner IP
 *             length, id 0, frag_off = DF if the inner packet is IPv4 with DF
 *             set or is IPv6, else 0; ttl = CONFIG.outer_ttl; protocol 4 / 41;
 *             RFC 1071 checksum; saddr = CONFIG.src_v4; daddr = backend.
 *   IPv6:     version 6, traffic class = inner TOS / traffic class, flow label
 *             0, payload_len = inner IP length, next header 4 / 41, hop limit =
 *             CONFIG.outer_ttl, saddr = CONFIG.src_v6, daddr = backend.
 *   "Inner IP length" is the length the inner header states (IPv4 tot_len,
 *   IPv6 40 + payload_len); bytes after it (Ethernet padding) stay in place.
 *
 * Counters (per-CPU): see struct lb_vip_stats / lb_backend_stats /
 * lb_global_stats in lb.h for what each one counts.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb.h"
#include "lb_jhash.h"

#ifndef IPPROTO_IPV6
#define IPPROTO_IPV6 41
#endif
#define LB_IP_MF 0x2000
#define LB_IP_DF 0x4000
#define LB_IP_OFFSET 0x1fff
#define LB_NEXTHDR_HOP 0
#define LB_NEXTHDR_ROUTING 43
#define LB_NEXTHDR_FRAGMENT 44
#define LB_NEXTHDR_DEST 60

/* ICMP and ICMPv6 share this 8-byte header layout. (<linux/icmp.h> pulls in
 * libc headers, which -target bpf cannot use.) */
struct lb_icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be32 rest; /* frag-needed: unused, next-hop MTU; too-big: MTU */
};
#define LB_ICMP_DEST_UNREACH 3
#define LB_ICMP_FRAG_NEEDED 4
#define LB_ICMPV6_PKT_TOOBIG 2

/* ---- maps ---- */

/* VIPs: (address, port, protocol) -> id and flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct lb_vip_key);
	__type(value, struct lb_vip);
} lb_vips SEC(".maps");

/* Addresses that have at least one VIP -> number of VIPs on them (the
 * datapath only tests presence). Maintained by the control plane. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct lb_addr_key);
	__type(value, __u32);
} lb_vip_addrs SEC(".maps");

/* Backend id -> family and state. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend);
} lb_backends SEC(".maps");

/* Backend id -> address (a union as the direct value of a map). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, union lb_addr);
} lb_backend_addrs SEC(".maps");

/* VIP id -> the VIP's Maglev table: an array of LB_MAGLEV_SIZE slots, each a
 * backend id. User space creates inner maps of exactly this definition
 * (ARRAY, key 4, value 4, 65537 entries, no flags). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, LB_MAGLEV_SIZE);
		__type(key, __u32);
		__type(value, struct lb_maglev_slot);
	});
} lb_maglev SEC(".maps");

/* Connection tracking: flow -> backend id and last-seen time. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_CONNTRACK_SIZE);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_conn);
} lb_conntrack SEC(".maps");

/* Counters, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_vip_stats);
} lb_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend_stats);
} lb_backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_global_stats);
} lb_global_stats SEC(".maps");

/* ---- globals ---- */

/* The configuration, in .rodata: set by user space before load (frozen
 * after). Defaults: no source addresses (set them), seed 0, reply to the
 * sender's MAC, TTL 64, UDP idle timeout 30 s. */
volatile const struct lb_config CONFIG = {
	.outer_ttl = 64,
	.udp_timeout_ns = 30ULL * 1000 * 1000 * 1000,
};

/* BTF anchors (.bss, never used by the program). clang emits BTF only for
 * types reachable from a map definition, a global or a program signature:
 * - the inner map's value type is reached only through a pointer inside the
 *   outer map's definition, where clang emits a FWD (an incomplete struct);
 * - the drop reasons are only used as array indexes.
 * These globals make both complete in the BTF, so bpfgen can generate them. */
struct lb_maglev_slot lb_anchor_maglev_slot;
enum lb_drop_reason lb_anchor_drop_reason;

/* ---- parsing ---- */

enum lb_parse {
	LB_P_FLOW,  /* TCP/UDP flow parsed into struct lb_pkt: look up the VIP */
	LB_P_PASS,  /* not VIP traffic */
	LB_P_DROP,  /* drop, reason in lb_pkt.drop */
};

/* What the parser learned about a packet. */
struct lb_pkt {
	struct lb_flow_key key; /* zeroed, then filled: the conntrack key */
	__u32 inner_len;        /* inner IP length as its header states */
	__u32 hdr_len;          /* IP header + TCP/UDP header length */
	__u8 tos;               /* inner TOS / traffic class */
	__u8 df;                /* inner IPv4 DF (or IPv6: 1) */
	__u8 drop;              /* enum lb_drop_reason when LB_P_DROP */
	__u8 icmp;              /* an ICMP "too big" error; key = the quoted flow */
};

static __always_inline int lb_drop(struct lb_pkt *p, enum lb_drop_reason r)
{
	p->drop = r;
	return LB_P_DROP;
}

/* Is the destination address (p->key.dst) the address of some VIP? */
static __always_inline int lb_is_vip_addr(const struct lb_pkt *p)
{
	struct lb_addr_key ak;

	__builtin_memset(&ak, 0, sizeof(ak));
	ak.addr = p->key.dst;
	ak.family = p->key.family;
	return bpf_map_lookup_elem(&lb_vip_addrs, &ak) != NULL;
}

/* TCP/UDP ports at l4; the whole TCP/UDP header must be in the frame. */
static __always_inline int lb_parse_ports(struct lb_pkt *p, void *l4, void *data_end)
{
	__u32 l4_len = p->key.proto == IPPROTO_TCP ? sizeof(struct tcphdr)
						    : sizeof(struct udphdr);
	struct udphdr *ports = l4; /* sport, dport: the same 4 bytes in TCP */

	if (p->key.proto == IPPROTO_TCP) {
		if (l4 + sizeof(struct tcphdr) > data_end)
			return lb_drop(p, LB_DROP_TRUNCATED);
	} else {
		if (l4 + sizeof(struct udphdr) > data_end)
			return lb_drop(p, LB_DROP_TRUNCATED);
	}
	p->key.sport = ports->source;
	p->key.dport = ports->dest;
	p->hdr_len += l4_len;
	return LB_P_FLOW;
}

/*
 * ICMP "fragmentation needed" (type 3 code 4) / ICMPv6 "packet too big" (type
 * 2): a router could not forward a packet a backend sent to a client with the
 * VIP as its source (direct server return), and tells the VIP. The error
 * quotes that packet (VIP:port -> client:port); it belongs to the client's
 * flow client:port -> VIP:port, so the key is the quote with source and
 * destination swapped, and the whole ICMP packet goes to that flow's backend.
 * Anything that is not such an error quoting TCP/UDP passes. The quote needs
 * its IP header (IPv4 without options) and 8 bytes of TCP/UDP header.
 */
static __always_inline int lb_parse_icmp4(struct lb_pkt *p, void *l4, void *data_end)
{
	struct lb_icmphdr *icmp = l4;
	struct iphdr *q = (void *)(icmp + 1);
	struct udphdr *qp = (void *)(q + 1); /* the quoted ports (TCP or UDP) */

	if ((void *)(qp + 1) > data_end)
		return LB_P_PASS;
	if (icmp->type != LB_ICMP_DEST_UNREACH || icmp->code != LB_ICMP_FRAG_NEEDED)
		return LB_P_PASS;
	if (*(__u8 *)q != 0x45 || (q->protocol != IPPROTO_TCP && q->protocol != IPPROTO_UDP))
		return LB_P_PASS;
	p->key.family = LB_FAMILY_V4;
	p->key.proto = q->protocol;
	p->key.src.v4 = q->daddr;
	p->key.dst.v4 = q->saddr;
	p->key.sport = qp->dest;
	p->key.dport = qp->source;
	p->icmp = 1;
	p->hdr_len += sizeof(*icmp) + sizeof(*q) + sizeof(*qp);
	return LB_P_FLOW;
}

static __always_inline int lb_parse_icmp6(struct lb_pkt *p, void *l4, void *data_end)
{
	struct lb_icmphdr *icmp6 = l4;
	struct ipv6hdr *q = (void *)(icmp6 + 1);
	struct udphdr *qp = (void *)(q + 1);

	if ((void *)(qp + 1) > data_end)
		return LB_P_PASS;
	if (icmp6->type != LB_ICMPV6_PKT_TOOBIG || icmp6->code != 0)
		return LB_P_PASS;
	if ((*(__u8 *)q >> 4) != 6 || (q->nexthdr != IPPROTO_TCP && q->nexthdr != IPPROTO_UDP))
		return LB_P_PASS;
	p->key.family = LB_FAMILY_V6;
	p->key.proto = q->nexthdr;
	__builtin_memcpy(p->key.src.bytes, &q->daddr, 16);
	__builtin_memcpy(p->key.dst.bytes, &q->saddr, 16);
	p->key.sport = qp->dest;
	p->key.dport = qp->source;
	p->icmp = 1;
	p->hdr_len += sizeof(*icmp6) + sizeof(*q) + sizeof(*qp);
	return LB_P_FLOW;
}

static __always_inline int lb_parse_ipv4(struct lb_pkt *p, void *l3, void *data_end)
{
	struct iphdr *ip = l3;
	__u32 ihl_bytes;
	__u16 frag;
	__u8 vihl;

	if ((void *)(ip + 1) > data_end)
		return lb_drop(p, LB_DROP_TRUNCATED);
	/* Version and ihl by hand: the bitfields of <linux/ip.h> follow the
	 * byte order of the *host* headers, not of the BPF target. */
	vihl = *(__u8 *)ip;
	if ((vihl >> 4) != 4 || (vihl & 0x0f) < 5)
		return lb_drop(p, LB_DROP_MALFORMED);
	ihl_bytes = (vihl & 0x0f) * 4; /* 20 .. 60 */
	if (l3 + ihl_bytes > data_end)
		return lb_drop(p, LB_DROP_TRUNCATED);
	frag = bpf_ntohs(ip->frag_off);
	if (ip->protocol == IPPROTO_ICMP) {
		if (ihl_bytes != sizeof(struct iphdr) || (frag & (LB_IP_MF | LB_IP_OFFSET)))
			return LB_P_PASS;
		p->inner_len = bpf_ntohs(ip->tot_len);
		p->hdr_len = sizeof(struct iphdr);
		p->tos = ip->tos;
		p->df = (frag & LB_IP_DF) ? 1 : 0;
		return lb_parse_icmp4(p, l3 + sizeof(struct iphdr), data_end);
	}
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return LB_P_PASS;

	p->key.family = LB_FAMILY_V4;
	p->key.proto = ip->protocol;
	p->key.src.v4 = ip->saddr;
	p->key.dst.v4 = ip->daddr;
	if (ihl_bytes != sizeof(struct iphdr))
		return lb_is_vip_addr(p) ? lb_drop(p, LB_DROP_IP_OPTIONS) : LB_P_PASS;
	if (frag & (LB_IP_MF | LB_IP_OFFSET))
		return lb_is_vip_addr(p) ? lb_drop(p, LB_DROP_FRAGMENT) : LB_P_PASS;

	p->inner_len = bpf_ntohs(ip->tot_len);
	p->hdr_len = sizeof(struct iphdr);
	p->tos = ip->tos;
	p->df = (frag & LB_IP_DF) ? 1 : 0;
	return lb_parse_ports(p, l3 + sizeof(struct iphdr), data_end);
}

static __always_inline int lb_parse_ipv6(struct lb_pkt *p, void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	__u8 nh, vtc;

	if ((void *)(ip6 + 1) > data_end)
		return lb_drop(p, LB_DROP_TRUNCATED);
	vtc = *(__u8 *)ip6; /* version, high nibble of the traffic class */
	if ((vtc >> 4) != 6)
		return lb_drop(p, LB_DROP_MALFORMED);

	nh = ip6->nexthdr;
	p->inner_len = sizeof(struct ipv6hdr) + bpf_ntohs(ip6->payload_len);
	p->hdr_len = sizeof(struct ipv6hdr);
	p->tos = ((vtc & 0x0f) << 4) | (ip6->flow_lbl[0] >> 4);
	p->df = 1;
	if (nh == IPPROTO_ICMPV6)
		return lb_parse_icmp6(p, l3 + sizeof(struct ipv6hdr), data_end);
	p->key.family = LB_FAMILY_V6;
	p->key.proto = nh;
	__builtin_memcpy(p->key.src.bytes, &ip6->saddr, 16);
	__builtin_memcpy(p->key.dst.bytes, &ip6->daddr, 16);
	switch (nh) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		break;
	case LB_NEXTHDR_FRAGMENT:
	case LB_NEXTHDR_HOP:
	case LB_NEXTHDR_ROUTING:
	case LB_NEXTHDR_DEST: {
		/* One level: the extension header's first byte is the next
		 * header. VIP traffic if that is TCP/UDP or another extension
		 * header (a chain we do not walk). Every extension header is
		 * at least 8 bytes. */
		__u8 *ext = l3 + sizeof(struct ipv6hdr);
		__u8 next;

		if ((void *)(ext + 8) > data_end)
			return lb_drop(p, LB_DROP_TRUNCATED);
		next = ext[0];
		if (next != IPPROTO_TCP && next != IPPROTO_UDP && next != LB_NEXTHDR_HOP &&
		    next != LB_NEXTHDR_ROUTING && next != LB_NEXTHDR_FRAGMENT &&
		    next != LB_NEXTHDR_DEST)
			return LB_P_PASS;
		if (!lb_is_vip_addr(p))
			return LB_P_PASS;
		return lb_drop(p, nh == LB_NEXTHDR_FRAGMENT ? LB_DROP_FRAGMENT
							     : LB_DROP_IP_OPTIONS);
	}
	default:
		return LB_P_PASS;
	}
	return lb_parse_ports(p, l3 + sizeof(struct ipv6hdr), data_end);
}

/* ---- hashing and backends ---- */

/* The flow hash (lb.h, "flow hash and Maglev lookup"). */
static __always_inline __u32 lb_flow_hash(const struct lb_flow_key *k, __u32 vip_flags)
{
	__u32 w[LB_HASH_WORDS];
	__u32 sport = (vip_flags & LB_VIP_F_HASH_NO_SPORT) ? 0 : bpf_ntohs(k->sport);

#pragma unroll
	for (int i = 0; i < 4; i++) {
		w[i] = bpf_ntohl(k->src.v6[i]);
		w[4 + i] = bpf_ntohl(k->dst.v6[i]);
	}
	w[8] = (sport << 16) | bpf_ntohs(k->dport);
	w[9] = k->proto;
	return lb_jhash_10words(w, CONFIG.hash_seed);
}

/* A usable backend: id in range, ACTIVE or DRAINING, a valid family. */
static __always_inline struct lb_backend *lb_backend_get(__u32 id, union lb_addr **addr)
{
	struct lb_backend *be;

	if (id == LB_BACKEND_NONE || id >= LB_MAX_BACKENDS)
		return NULL;
	be = bpf_map_lookup_elem(&lb_backends, &id);
	if (!be)
		return NULL;
	if (be->state != LB_BACKEND_ACTIVE && be->state != LB_BACKEND_DRAINING)
		return NULL;
	if (be->family != LB_FAMILY_V4 && be->family != LB_FAMILY_V6)
		return NULL;
	*addr = bpf_map_lookup_elem(&lb_backend_addrs, &id);
	return *addr ? be : NULL;
}

/* ---- encapsulation ---- */

/* RFC 1071 checksum of a 20-byte IPv4 header (its check field zero). */
static __always_inline __u16 lb_ipv4_csum(const void *hdr)
{
	const __u16 *w = hdr;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Insert the outer header; returns the new frame length, or 0 on failure. */
static __always_inline __u32 lb_encap(struct xdp_md *ctx, const struct lb_pkt *p,
				      enum lb_family outer, const union lb_addr *dst)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 old_src[ETH_ALEN], old_dst[ETH_ALEN], gw[ETH_ALEN];
	__u8 inner_proto = p->key.family == LB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	int gw_set = 0;

	if ((void *)(eth + 1) > data_end)
		return 0;
	__builtin_memcpy(old_src, eth->h_source, ETH_ALEN);
	__builtin_memcpy(old_dst, eth->h_dest, ETH_ALEN);
#pragma unroll
	for (int i = 0; i < ETH_ALEN; i++) {
		gw[i] = CONFIG.gw_mac[i];
		gw_set |= gw[i];
	}

	if (outer == LB_FAMILY_V4) {
		struct iphdr *ip;

		if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
			return 0;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		eth = data;
		ip = data + sizeof(struct ethhdr);
		if ((void *)(ip + 1) > data_end)
			return 0;
		eth->h_proto = bpf_htons(ETH_P_IP);
		*(__u8 *)ip = 0x45; /* version 4, ihl 5 (no bitfields: see above) */
		ip->tos = p->tos;
		ip->tot_len = bpf_htons(sizeof(struct iphdr) + p->inner_len);
		ip->id = 0;
		ip->frag_off = p->df ? bpf_htons(LB_IP_DF) : 0;
		ip->ttl = CONFIG.outer_ttl;
		ip->protocol = inner_proto;
		ip->check = 0;
		ip->saddr = CONFIG.src_v4;
		ip->daddr = dst->v4;
		ip->check = lb_ipv4_csum(ip);
	} else {
		struct ipv6hdr *ip6;

		if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct ipv6hdr)))
			return 0;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		eth = data;
		ip6 = data + sizeof(struct ethhdr);
		if ((void *)(ip6 + 1) > data_end)
			return 0;
		eth->h_proto = bpf_htons(ETH_P_IPV6);
		*(__u8 *)ip6 = 0x60 | (p->tos >> 4); /* version 6, traffic class */
		ip6->flow_lbl[0] = (p->tos & 0x0f) << 4;
		ip6->flow_lbl[1] = 0;
		ip6->flow_lbl[2] = 0;
		ip6->payload_len = bpf_htons(p->inner_len);
		ip6->nexthdr = inner_proto;
		ip6->hop_limit = CONFIG.outer_ttl;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			ip6->saddr.in6_u.u6_addr32[i] = CONFIG.src_v6.v6[i];
			ip6->daddr.in6_u.u6_addr32[i] = dst->v6[i];
		}
	}
	__builtin_memcpy(eth->h_dest, gw_set ? gw : old_src, ETH_ALEN);
	__builtin_memcpy(eth->h_source, old_dst, ETH_ALEN);
	return data_end - data;
}

/* ---- the program ---- */

/* What conntrack said about a packet's flow. */
enum lb_ct_state {
	LB_CT_NONE,     /* no entry */
	LB_CT_HIT,      /* an entry with a usable backend */
	LB_CT_STALE,    /* an entry whose backend is absent or removed */
	LB_CT_EXPIRED,  /* a UDP entry idle longer than CONFIG.udp_timeout_ns */
};

static __always_inline void lb_count_drop(struct lb_global_stats *gs,
					  struct lb_vip_stats *vs, __u32 reason)
{
	if (reason >= LB_DROP__MAX)
		return;
	gs->drops[reason]++;
	if (vs)
		vs->drops[reason]++;
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 frame_len = data_end - data;
	struct ethhdr *eth = data;
	struct lb_global_stats *gs;
	struct lb_vip_stats *vs = NULL;
	struct lb_backend_stats *bs;
	struct lb_backend *be = NULL;
	union lb_addr *baddr = NULL;
	struct lb_vip_key vk;
	struct lb_vip *vip;
	struct lb_conn *ct;
	struct lb_pkt p;
	__u32 zero = 0, vip_id, vip_flags, backend_id = 0, bucket, tx_len;
	enum lb_ct_state ct_state = LB_CT_NONE;
	void *table;
	__u64 now;
	int res;

	gs = bpf_map_lookup_elem(&lb_global_stats, &zero);
	if (!gs) /* cannot happen: a one-entry array */
		return XDP_PASS;
	gs->rx_packets++;
	gs->rx_bytes += frame_len;
	bucket = frame_len / LB_LEN_HIST_WIDTH;
	if (bucket >= LB_LEN_HIST_BUCKETS)
		bucket = LB_LEN_HIST_BUCKETS - 1;
	gs->len_hist[bucket]++;

	if ((void *)(eth + 1) > data_end) {
		gs->pass_non_ip++;
		return XDP_PASS;
	}
	__builtin_memset(&p, 0, sizeof(p));
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		res = lb_parse_ipv4(&p, data + sizeof(*eth), data_end);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		res = lb_parse_ipv6(&p, data + sizeof(*eth), data_end);
	} else {
		gs->pass_non_ip++;
		return XDP_PASS;
	}
	if (res == LB_P_DROP) {
		lb_count_drop(gs, NULL, p.drop);
		return XDP_DROP;
	}
	if (res != LB_P_FLOW) {
		gs->pass_non_vip++;
		return XDP_PASS;
	}

	/* The VIP: exact port first, then the address's wildcard. */
	__builtin_memset(&vk, 0, sizeof(vk));
	vk.addr = p.key.dst;
	vk.port = p.key.dport;
	vk.proto = p.key.proto;
	vk.family = p.key.family;
	vip = bpf_map_lookup_elem(&lb_vips, &vk);
	if (!vip) {
		vk.port = 0;
		vip = bpf_map_lookup_elem(&lb_vips, &vk);
	}
	if (!vip) {
		gs->pass_non_vip++;
		return XDP_PASS;
	}
	vip_id = vip->id;
	vip_flags = vip->flags;
	vs = bpf_map_lookup_elem(&lb_vip_stats, &vip_id);

	if (p.inner_len < p.hdr_len) {
		lb_count_drop(gs, vs, LB_DROP_MALFORMED);
		return XDP_DROP;
	}
	if (sizeof(struct ethhdr) + p.inner_len > frame_len) {
		lb_count_drop(gs, vs, LB_DROP_TRUNCATED);
		return XDP_DROP;
	}

	/* Conntrack: an existing flow keeps its backend while it is usable.
	 * An ICMP error gets the backend its flow has or would get, but leaves
	 * no trace: no entry is created or refreshed and no flow counter moves
	 * (lb_global_stats.icmp_too_big counts it). */
	now = bpf_ktime_get_ns();
	ct = bpf_map_lookup_elem(&lb_conntrack, &p.key);
	if (ct) {
		__u64 timeout = CONFIG.udp_timeout_ns;

		if (p.key.proto == IPPROTO_UDP && timeout && now - ct->last_seen_ns > timeout) {
			ct_state = LB_CT_EXPIRED;
		} else {
			backend_id = ct->backend_id;
			be = lb_backend_get(backend_id, &baddr);
			ct_state = be ? LB_CT_HIT : LB_CT_STALE;
		}
	}

	/* New (or re-hashed) flow: the VIP's Maglev table decides. */
	if (!be) {
		struct lb_maglev_slot *slot;
		__u32 idx;

		table = bpf_map_lookup_elem(&lb_maglev, &vip_id);
		if (!table) {
			lb_count_drop(gs, vs, LB_DROP_NO_BACKEND);
			return XDP_DROP;
		}
		idx = lb_flow_hash(&p.key, vip_flags) % LB_MAGLEV_SIZE;
		slot = bpf_map_lookup_elem(table, &idx);
		if (!slot || slot->backend_id == LB_BACKEND_NONE) {
			lb_count_drop(gs, vs, LB_DROP_NO_BACKEND);
			return XDP_DROP;
		}
		backend_id = slot->backend_id;
		be = lb_backend_get(backend_id, &baddr);
		if (!be) {
			lb_count_drop(gs, vs, LB_DROP_BACKEND_INVALID);
			return XDP_DROP;
		}
	}

	bs = bpf_map_lookup_elem(&lb_backend_stats, &backend_id);
	if (p.icmp) {
		gs->icmp_too_big++;
	} else if (ct && ct_state == LB_CT_HIT) {
		ct->last_seen_ns = now;
		gs->ct_hits++;
		if (vs)
			vs->ct_hits++;
		if (bs)
			bs->ct_hits++;
	} else {
		struct lb_conn conn;

		if (ct_state == LB_CT_STALE) {
			gs->ct_stale++;
			if (vs)
				vs->ct_stale++;
		} else if (ct_state == LB_CT_EXPIRED) {
			gs->ct_expired++;
			if (vs)
				vs->ct_expired++;
		}
		__builtin_memset(&conn, 0, sizeof(conn));
		conn.backend_id = backend_id;
		conn.last_seen_ns = now;
		if (bpf_map_update_elem(&lb_conntrack, &p.key, &conn, BPF_ANY))
			gs->ct_update_failed++;
		gs->new_flows++;
		if (vs)
			vs->new_flows++;
		if (bs)
			bs->new_flows++;
	}

	tx_len = lb_encap(ctx, &p, be->family, baddr);
	if (!tx_len) {
		lb_count_drop(gs, vs, LB_DROP_ENCAP_FAILED);
		return XDP_DROP;
	}
	gs->tx_packets++;
	gs->tx_bytes += tx_len;
	if (vs) {
		vs->packets++;
		vs->bytes += frame_len;
	}
	if (bs) {
		bs->packets++;
		bs->bytes += frame_len;
	}
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
