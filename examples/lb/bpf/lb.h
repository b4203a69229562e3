/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * lb.h - every type the XDP load balancer (lb.bpf.c) shares with user space.
 *
 * The Rust control plane never mirrors these by hand: bpfgen reads them from
 * the BTF of lb.bpf.o. They are written as a real datapath needs them and, on
 * purpose, contain what layout generators get wrong:
 *   - a union of IPv4/IPv6 addresses (`union lb_addr`), nested in keys, values
 *     and the config, and the direct value of a map (`lb_backend_addrs`);
 *   - enum-typed fields: 1-byte packed enums (`enum lb_family`,
 *     `enum lb_backend_state`) and a 4-byte flag enum whose values are OR-ed
 *     (`enum lb_vip_flags`: a field may hold a value that is no enumerator);
 *   - implicit holes (`struct lb_backend`, `struct lb_conn`, `struct lb_config`)
 *     and implicit tail padding in a hash key (`struct lb_flow_key`);
 *   - `__be16`/`__be32` typedefs (network byte order on every host);
 *   - arrays longer than 32 (`len_hist[64]`; Rust's std derives stop at 32);
 *   - per-CPU values (the three *_stats maps);
 *   - a map-in-map inner definition whose value struct is only reachable
 *     through the outer map (anchored by a global, see lb.bpf.c);
 *   - a struct-typed `volatile const` config in .rodata (`CONFIG`).
 *
 * Layout rules every writer (BPF or user space) must follow:
 *   - Keys are compared byte for byte by the kernel, padding included: build
 *     every key from an all-zero value (bpfgen's `Default` does this; in C
 *     use `__builtin_memset`). Unused bytes of `union lb_addr` are zero: an
 *     IPv4 address is `v4` (bytes 0..4) followed by 12 zero bytes.
 *   - `__be16`/`__be32` fields hold network byte order: the port 80 is the
 *     bytes 00 50, the address 10.0.0.1 the bytes 0a 00 00 01.
 *
 * The header includes only <linux/types.h> and also compiles with a host
 * compiler (the x86_64 layout equals the BPF layout); the _Static_asserts at
 * the end pin every size and offset documented below.
 */
#ifndef LB_H
#define LB_H

#include <linux/types.h>

/* ---- limits (also visible to user space as the maps' max_entries) ---- */

/* VIP ids are 0 .. LB_MAX_VIPS-1: the index into lb_maglev and lb_vip_stats. */
#define LB_MAX_VIPS 512
/* Backend ids are 1 .. LB_MAX_BACKENDS-1; id 0 (LB_BACKEND_NONE) means
 * "no backend", so a zero-filled Maglev table is an empty one. */
#define LB_MAX_BACKENDS 4096
#define LB_BACKEND_NONE 0
/* Slots of every Maglev table: a prime (Maglev needs a prime table size). */
#define LB_MAGLEV_SIZE 65537
/* Connection-tracking entries (LRU: the least recently used are evicted). */
#define LB_CONNTRACK_SIZE 65536
/* Buckets of lb_global_stats.len_hist, LB_LEN_HIST_WIDTH bytes wide each. */
#define LB_LEN_HIST_BUCKETS 64
#define LB_LEN_HIST_WIDTH 32

/* ---- enums ---- */

/* Address family of an address, a VIP or a backend. 1 byte (packed). The
 * values are the IP version numbers. */
enum __attribute__((packed)) lb_family {
	LB_FAMILY_NONE = 0,
	LB_FAMILY_V4 = 4,
	LB_FAMILY_V6 = 6,
};

/* State of a backend in lb_backends. 1 byte (packed).
 *  ABSENT   - the id is unused (the zero value of a fresh array entry).
 *  ACTIVE   - receives new flows (through the Maglev table) and old ones.
 *  DRAINING - keeps its tracked flows but gets no new ones: the control plane
 *             leaves it out of new Maglev tables; conntrack entries pointing
 *             at it stay valid. (If a table still names it, it is used.)
 *  REMOVED  - gone: conntrack entries pointing at it are re-hashed (and
 *             counted in ct_stale); a Maglev slot naming it drops the packet
 *             (LB_DROP_BACKEND_INVALID). */
enum __attribute__((packed)) lb_backend_state {
	LB_BACKEND_ABSENT = 0,
	LB_BACKEND_ACTIVE = 1,
	LB_BACKEND_DRAINING = 2,
	LB_BACKEND_REMOVED = 3,
};

/* Flags of a VIP, OR-ed together (4 bytes; a field may hold a combination,
 * which is not an enumerator). */
enum lb_vip_flags {
	LB_VIP_F_NONE = 0,
	/* Hash without the client's source port: every connection of one client
	 * address goes to the same backend (the source port is 0 in the hash
	 * input; conntrack still keys on the full 5-tuple). */
	LB_VIP_F_HASH_NO_SPORT = 1 << 0,
};

/* Why a packet was dropped: the index into the drops[] arrays. The program
 * never returns XDP_ABORTED; every drop is one of these. */
enum lb_drop_reason {
	/* The IPv4/IPv6 header (with IPv4 options), an IPv6 extension header
	 * (8 bytes), or the TCP (20 bytes) / UDP (8 bytes) header is cut short
	 * by the end of the frame, whatever the destination; or, for VIP
	 * traffic, the frame is shorter than the IP total/payload length says. */
	LB_DROP_TRUNCATED = 0,
	/* Bad IP version, IPv4 ihl < 5, an IP length field smaller than the
	 * headers, or an IPv6 jumbogram (payload length 0). */
	LB_DROP_MALFORMED = 1,
	/* TCP/UDP to a VIP address (lb_vip_addrs) with IPv4 options, or with
	 * IPv6 extension headers (hop-by-hop 0, routing 43, destination
	 * options 60). */
	LB_DROP_IP_OPTIONS = 2,
	/* TCP/UDP to a VIP address that is a fragment: IPv4 MF set or a
	 * non-zero fragment offset; IPv6 fragment header (44). */
	LB_DROP_FRAGMENT = 3,
	/* The VIP has no Maglev table in lb_maglev, or the slot is
	 * LB_BACKEND_NONE (a VIP without backends). */
	LB_DROP_NO_BACKEND = 4,
	/* The Maglev slot names a backend id >= LB_MAX_BACKENDS, or one whose
	 * lb_backends entry is ABSENT or REMOVED or has no valid family. */
	LB_DROP_BACKEND_INVALID = 5,
	/* bpf_xdp_adjust_head() refused to grow the headroom. */
	LB_DROP_ENCAP_FAILED = 6,
	LB_DROP__MAX = 7,
};

/* ---- addresses ---- */

/* An IPv4 or IPv6 address in network byte order. 16 bytes, aligned to 4.
 * IPv4: `v4` (bytes 0..4), bytes 4..16 zero. IPv6: `v6` (all 16 bytes).
 * The family is always kept next to it (it is not in the union). */
union lb_addr {
	__be32 v4;
	__be32 v6[4];
	__u8 bytes[16];
};

/* ---- VIPs ---- */

/* Key of lb_vips: one virtual service. 20 bytes, aligned to 4, no padding.
 * `port` 0 is the wildcard of an address: looked up when no VIP matches the
 * destination port exactly. `proto` is IPPROTO_TCP (6) or IPPROTO_UDP (17). */
struct lb_vip_key {
	union lb_addr addr;     /*  0 */
	__be16 port;            /* 16: network byte order; 0 = any port */
	__u8 proto;             /* 18 */
	enum lb_family family;  /* 19 */
};

/* Value of lb_vips. 8 bytes. */
struct lb_vip {
	__u32 id;                  /* 0: index into lb_maglev and lb_vip_stats */
	enum lb_vip_flags flags;   /* 4: OR of LB_VIP_F_* */
};

/* Key of lb_vip_addrs: an address that has at least one VIP. 20 bytes, no
 * implicit padding (`pad` is explicit and must be zero). Used only to decide
 * whether a fragment or a packet with IP options is VIP traffic (such packets
 * carry no usable ports). */
struct lb_addr_key {
	union lb_addr addr;     /*  0 */
	enum lb_family family;  /* 16 */
	__u8 pad[3];            /* 17: zero */
};

/* ---- backends ---- */

/* Value of lb_backends. 8 bytes, with an implicit 2-byte hole at 2.
 * A backend is two entries under one id: its address in lb_backend_addrs and
 * this. Array updates are not atomic for a concurrent reader, so user space
 * writes the address first, then this entry (state ACTIVE) to publish it. */
struct lb_backend {
	enum lb_family family;          /* 0: family of lb_backend_addrs[id] */
	enum lb_backend_state state;    /* 1 */
	/* 2-byte hole */
	__u32 weight;                   /* 4: informational (the control plane's
	                                 *    Maglev weight); unused by the datapath */
};

/* Value of the inner (Maglev) maps of lb_maglev: one slot. 4 bytes. */
struct lb_maglev_slot {
	__u32 backend_id;   /* 0: LB_BACKEND_NONE (0) = no backend */
};

/* ---- connection tracking ---- */

/* Key of lb_conntrack: the flow (as received: client -> VIP). 40 bytes,
 * aligned to 4: 38 bytes of fields, then 2 bytes of implicit TAIL PADDING that
 * are part of the key and must be zero. */
struct lb_flow_key {
	union lb_addr src;      /*  0: client */
	union lb_addr dst;      /* 16: VIP address */
	__be16 sport;           /* 32 */
	__be16 dport;           /* 34: the packet's port, also for a wildcard VIP */
	__u8 proto;             /* 36 */
	enum lb_family family;  /* 37 */
	/* 2 bytes of tail padding */
};

/* Value of lb_conntrack. 16 bytes, with an implicit 4-byte hole at 4. */
struct lb_conn {
	__u32 backend_id;       /* 0 */
	/* 4-byte hole */
	__u64 last_seen_ns;     /* 8: bpf_ktime_get_ns() of the last packet */
};

/* ---- configuration (.rodata, set before load) ---- */

/* The type of the `volatile const` global CONFIG. 40 bytes, aligned to 8,
 * with an implicit 1-byte hole at 31. Frozen at load time; user space sets it
 * in the object before loading. */
struct lb_config {
	__be32 src_v4;          /*  0: outer IPv4 source address */
	union lb_addr src_v6;   /*  4: outer IPv6 source address (`v6`) */
	__u32 hash_seed;        /* 20: jhash initval of the flow hash */
	__u8 gw_mac[6];         /* 24: outer Ethernet destination; all zero = the
	                         *     received frame's source MAC */
	__u8 outer_ttl;         /* 30: outer IPv4 TTL / IPv6 hop limit */
	/* 1-byte hole */
	__u64 udp_timeout_ns;   /* 32: UDP conntrack entries idle longer than
	                         *     this are re-hashed; 0 = never expire */
};

/* ---- counters (per-CPU values: user space sums them over the CPUs) ---- */

/* Value of lb_vip_stats (index: VIP id). 104 bytes. */
struct lb_vip_stats {
	__u64 packets;          /* forwarded (XDP_TX) packets, ICMP errors included */
	__u64 bytes;            /* their frame lengths as received */
	__u64 new_flows;        /* flows placed by the Maglev table (new, stale
	                         * and expired ones: conntrack entries written) */
	__u64 ct_hits;          /* packets forwarded by a conntrack entry */
	__u64 ct_stale;         /* entries whose backend was removed: re-hashed */
	__u64 ct_expired;       /* UDP entries past udp_timeout_ns: re-hashed */
	__u64 drops[LB_DROP__MAX]; /* VIP packets dropped, by reason: only drops
	                            * after the VIP lookup (MALFORMED/TRUNCATED by
	                            * IP length, NO_BACKEND, BACKEND_INVALID,
	                            * ENCAP_FAILED); the others are global only */
};

/* Value of lb_backend_stats (index: backend id). 32 bytes. */
struct lb_backend_stats {
	__u64 packets;          /* packets forwarded to this backend */
	__u64 bytes;            /* their frame lengths as received */
	__u64 new_flows;        /* new flows (and re-hashed ones) placed here */
	__u64 ct_hits;          /* packets sent here by a conntrack entry */
};

/* Value of lb_global_stats (one entry, index 0). 664 bytes. */
struct lb_global_stats {
	__u64 rx_packets;       /* every frame the program saw */
	__u64 rx_bytes;
	__u64 pass_non_ip;      /* XDP_PASS: not IPv4/IPv6 (ARP, VLAN, ...) */
	__u64 pass_non_vip;     /* XDP_PASS: IP, but not VIP traffic */
	__u64 tx_packets;       /* XDP_TX: encapsulated toward a backend */
	__u64 tx_bytes;         /* their frame lengths after encapsulation */
	__u64 new_flows;
	__u64 ct_hits;
	__u64 ct_stale;
	__u64 ct_expired;
	__u64 ct_update_failed; /* lb_conntrack updates that failed (forwarded anyway) */
	__u64 icmp_too_big;     /* ICMP frag-needed / ICMPv6 packet-too-big quoting a
	                         * VIP flow, forwarded to that flow's backend */
	__u64 drops[LB_DROP__MAX];          /* every drop, by reason */
	/* Received frame lengths: bucket min(len / LB_LEN_HIST_WIDTH, 63). */
	__u64 len_hist[LB_LEN_HIST_BUCKETS];
};

/* ---- flow hash and Maglev lookup (the Rust control plane reproduces this) ----
 *
 * A new flow (no valid conntrack entry) is placed as follows:
 *
 *   w[0..4] = the source address as four 32-bit big-endian words
 *             (IPv4: w[0] = the address, w[1] = w[2] = w[3] = 0)
 *   w[4..8] = the destination (VIP) address, the same way
 *   w[8]    = (sport << 16) | dport, the ports as numbers (host values);
 *             sport = 0 when the VIP has LB_VIP_F_HASH_NO_SPORT
 *   w[9]    = the IP protocol number (6 TCP, 17 UDP)
 *   h       = jhash2(w, 10, CONFIG.hash_seed)      (lb_jhash.h)
 *   slot    = h % LB_MAGLEV_SIZE                   (65537)
 *   backend = lb_maglev[vip.id][slot].backend_id
 *
 * "Big-endian word" means the numeric value of the 4 bytes read in network
 * order: 10.0.0.1 is 0x0a000001 on every host (u32::from_be_bytes).
 * jhash2 is the Linux kernel's jhash2() (<linux/jhash.h>), which is Bob
 * Jenkins' lookup3 hashword(): see lb_jhash.h for the exact code.
 * The hash covers new flows only: a tracked flow keeps its conntrack backend.
 *
 * Example: 192.168.1.1:40000 -> 10.0.0.10:80 TCP gives
 *   w = c0a80101 0 0 0  0a00000a 0 0 0  9c400050 00000006
 * Test vectors (smoke.py parses these lines and checks them against its
 * Python model and, where its config matches, against the kernel):
 *   vector 192.168.1.1 40000 -> 10.0.0.10 80 proto 6 seed 0x5eed1234 flags 0: hash 0x53d6a161 slot 19851
 *   vector 192.168.1.1 40000 -> 10.0.0.10 80 proto 6 seed 0x0 flags 0: hash 0x2cfda1fd slot 29952
 *   vector 192.168.9.9 1024 -> 10.0.0.10 53 proto 17 seed 0x5eed1234 flags 1: hash 0xe4e5a580 slot 49308
 *   vector 192.168.9.9 5555 -> 10.0.0.10 53 proto 17 seed 0x5eed1234 flags 1: hash 0xe4e5a580 slot 49308
 *   vector 192.168.9.9 5555 -> 10.0.0.10 53 proto 17 seed 0x5eed1234 flags 0: hash 0x94ac8963 slot 62648
 *   vector 2001:db8::1 12345 -> 2001:db8::10 443 proto 6 seed 0x5eed1234 flags 0: hash 0x9f26bc13 slot 7405
 * ("flags 1" = LB_VIP_F_HASH_NO_SPORT.)
 */

/* ---- layout pins (checked by clang for BPF and by the host compiler) ---- */

#define LB_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), "size of " #t)
#define LB_ASSERT_OFF(t, m, n) \
	_Static_assert(__builtin_offsetof(t, m) == (n), "offset of " #t "." #m)

LB_ASSERT_SIZE(enum lb_family, 1);
LB_ASSERT_SIZE(enum lb_backend_state, 1);
LB_ASSERT_SIZE(enum lb_vip_flags, 4);
LB_ASSERT_SIZE(union lb_addr, 16);
LB_ASSERT_SIZE(struct lb_vip_key, 20);
LB_ASSERT_OFF(struct lb_vip_key, port, 16);
LB_ASSERT_OFF(struct lb_vip_key, proto, 18);
LB_ASSERT_OFF(struct lb_vip_key, family, 19);
LB_ASSERT_SIZE(struct lb_vip, 8);
LB_ASSERT_SIZE(struct lb_addr_key, 20);
LB_ASSERT_SIZE(struct lb_backend, 8);
LB_ASSERT_OFF(struct lb_backend, weight, 4);
LB_ASSERT_SIZE(struct lb_maglev_slot, 4);
LB_ASSERT_SIZE(struct lb_flow_key, 40);
LB_ASSERT_OFF(struct lb_flow_key, dst, 16);
LB_ASSERT_OFF(struct lb_flow_key, sport, 32);
LB_ASSERT_OFF(struct lb_flow_key, dport, 34);
LB_ASSERT_OFF(struct lb_flow_key, proto, 36);
LB_ASSERT_OFF(struct lb_flow_key, family, 37);
LB_ASSERT_SIZE(struct lb_conn, 16);
LB_ASSERT_OFF(struct lb_conn, last_seen_ns, 8);
LB_ASSERT_SIZE(struct lb_config, 40);
LB_ASSERT_OFF(struct lb_config, src_v6, 4);
LB_ASSERT_OFF(struct lb_config, hash_seed, 20);
LB_ASSERT_OFF(struct lb_config, gw_mac, 24);
LB_ASSERT_OFF(struct lb_config, outer_ttl, 30);
LB_ASSERT_OFF(struct lb_config, udp_timeout_ns, 32);
LB_ASSERT_SIZE(struct lb_vip_stats, 104);
LB_ASSERT_SIZE(struct lb_backend_stats, 32);
LB_ASSERT_SIZE(struct lb_global_stats, 664);
LB_ASSERT_OFF(struct lb_global_stats, drops, 96);
LB_ASSERT_OFF(struct lb_global_stats, len_hist, 152);

#endif /* LB_H */
