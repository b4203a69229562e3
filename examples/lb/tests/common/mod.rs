//! Shared by the end-to-end tests: loading (failing loudly without bpf()), one
//! `BPF_PROG_TEST_RUN` call per frame, frames built with etherparse, the expected
//! encapsulated frame (lb.bpf.c, "Outer headers") and an independent check of the
//! outer header.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aya::programs::{TestRun, TestRunOptions};
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IpDscp, IpEcn, IpHeaders,
    IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder,
};
use lb::control::error_chain;
use lb::net::Flow;
use lb::{Config, Error, Lb, Proto, Service};

pub const XDP_ABORTED: u32 = 0;
pub const XDP_DROP: u32 = 1;
pub const XDP_PASS: u32 = 2;
pub const XDP_TX: u32 = 3;

/// The load balancer's interface (destination of received frames).
pub const LB_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xaa, 0x01];
/// Who sent us the frames (a router).
pub const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xbb, 0x02];
/// CONFIG.gw_mac of the test config.
pub const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 0xcc, 0x03];

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;

/// The test config: every field non-default (documentation addresses only).
pub fn config() -> Config {
    Config {
        src_v4: Ipv4Addr::new(192, 0, 2, 1),
        src_v6: "2001:db8:ffff::1".parse().unwrap(),
        hash_seed: 0x5eed_1234,
        gw_mac: GW_MAC,
        outer_ttl: 17,
        udp_timeout: std::time::Duration::from_secs(30),
    }
}

/// Loads the datapath, or panics loudly: a refused bpf() must fail these tests,
/// never skip them.
pub fn load(cfg: &Config) -> Lb {
    match Lb::load(cfg) {
        Ok(lb) => lb,
        Err(e @ Error::Refused(_)) => panic!(
            "{e}\nThe load balancer's end-to-end tests run the datapath in this machine's \
             kernel: run `cargo test` as root. They fail rather than skip, so that a green \
             CI always means they ran."
        ),
        Err(e) => panic!("loading lb.bpf.o failed: {}", error_chain(&e)),
    }
}

/// One `BPF_PROG_TEST_RUN` (repeat 1): the verdict and the frame as the program
/// left it. Any error of the call itself fails the test.
pub fn run(lb: &Lb, frame: &[u8]) -> (u32, Vec<u8>) {
    assert!(
        frame.len() >= 14,
        "test_run needs at least an Ethernet header"
    );
    let prog = lb.program().expect("the program is loaded in this process");
    let mut out = vec![0u8; frame.len() + 128];
    let r = prog
        .test_run(TestRunOptions {
            data_in: Some(frame),
            data_out: Some(&mut out),
            repeat: 1,
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN failed: {}", error_chain(&e)));
    assert_ne!(
        r.return_value,
        XDP_ABORTED,
        "XDP_ABORTED for {}",
        hex(frame)
    );
    out.truncate(r.data_size_out as usize);
    (r.return_value, out)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// splitmix64: a fixed, seeded sequence (no rand dependency).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A client in 198.18.0.0/15 (the benchmarking range).
    pub fn client_v4(&mut self) -> IpAddr {
        let x = self.below(1 << 17) as u32;
        IpAddr::V4(Ipv4Addr::from(0xc612_0000 | x))
    }

    /// A client in 2001:db8:c::/64.
    pub fn client_v6(&mut self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xc,
            0,
            self.below(65536) as u16,
            self.below(65536) as u16,
            self.below(65536) as u16,
            self.below(65535) as u16 + 1,
        ))
    }

    pub fn port(&mut self) -> u16 {
        1024 + self.below(65536 - 1024) as u16
    }
}

pub fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn svc(s: &str) -> Service {
    s.parse().unwrap()
}

pub fn flow(src: IpAddr, sport: u16, dst: IpAddr, dport: u16, proto: u8) -> Flow {
    Flow {
        src,
        dst,
        sport,
        dport,
        proto,
    }
}

/// How a test frame's IP header looks.
#[derive(Clone, Copy, Debug)]
pub struct Ip {
    /// TOS / traffic class.
    pub tos: u8,
    /// IPv4 DF.
    pub df: bool,
}

impl Default for Ip {
    fn default() -> Ip {
        Ip { tos: 0, df: true }
    }
}

fn ip_headers(f: &Flow, ip: Ip) -> IpHeaders {
    match (f.src, f.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = Ipv4Header::new(0, 64, IpNumber(f.proto), s.octets(), d.octets()).unwrap();
            h.dscp = IpDscp::try_new(ip.tos >> 2).unwrap();
            h.ecn = IpEcn::try_new(ip.tos & 3).unwrap();
            h.dont_fragment = ip.df;
            h.identification = 0x1234;
            IpHeaders::Ipv4(h, Default::default())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: ip.tos,
                flow_label: Ipv6FlowLabel::try_new(0x1_2345).unwrap(),
                payload_length: 0,
                next_header: IpNumber(f.proto),
                hop_limit: 64,
                source: s.octets(),
                destination: d.octets(),
            },
            Default::default(),
        ),
        _ => panic!("mixed families in {f:?}"),
    }
}

/// An Ethernet frame (router → LB) carrying `f` with `payload`.
pub fn frame_with(f: &Flow, payload: &[u8], ip: Ip) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(ROUTER_MAC, LB_MAC).ip(ip_headers(f, ip));
    let mut v = Vec::new();
    match f.proto {
        TCP => b
            .tcp(f.sport, f.dport, 0x0102_0304, 65535)
            .write(&mut v, payload)
            .unwrap(),
        UDP => b.udp(f.sport, f.dport).write(&mut v, payload).unwrap(),
        p => panic!("protocol {p}"),
    }
    v
}

pub fn frame(f: &Flow) -> Vec<u8> {
    frame_with(f, b"hello, backend", Ip::default())
}

/// An ARP request (not IP).
pub fn arp_frame() -> Vec<u8> {
    let arp = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REQUEST,
        &ROUTER_MAC,
        &[198, 51, 100, 1],
        &[0; 6],
        &[198, 51, 100, 2],
    )
    .unwrap();
    let mut v = Vec::new();
    PacketBuilder::ethernet2(ROUTER_MAC, [0xff; 6])
        .arp(arp)
        .write(&mut v)
        .unwrap();
    v
}

/// An ICMP echo request.
pub fn icmp_echo(src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let mut v = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ethernet2(ROUTER_MAC, LB_MAC)
            .ipv4(s.octets(), d.octets(), 64)
            .icmpv4_echo_request(7, 1)
            .write(&mut v, b"ping")
            .unwrap(),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ethernet2(ROUTER_MAC, LB_MAC)
            .ipv6(s.octets(), d.octets(), 64)
            .icmpv6_echo_request(7, 1)
            .write(&mut v, b"ping")
            .unwrap(),
        _ => panic!("mixed families"),
    }
    v
}

/// The frame lb_xdp must produce for `input` sent to `backend` (lb.bpf.c, "Outer
/// headers"), built with etherparse's header types.
pub fn expected_encap(input: &[u8], backend: IpAddr, cfg: &Config) -> Vec<u8> {
    let inner = &input[14..];
    let (inner_len, tos, df, proto) = match u16::from_be_bytes([input[12], input[13]]) {
        0x0800 => (
            usize::from(u16::from_be_bytes([inner[2], inner[3]])),
            inner[1],
            inner[6] & 0x40 != 0,
            IpNumber::IPV4,
        ),
        0x86dd => (
            40 + usize::from(u16::from_be_bytes([inner[4], inner[5]])),
            ((inner[0] & 0x0f) << 4) | (inner[1] >> 4),
            true,
            IpNumber::IPV6,
        ),
        t => panic!("ethertype {t:#x}"),
    };
    let dst_mac: [u8; 6] = if cfg.gw_mac != [0; 6] {
        cfg.gw_mac
    } else {
        input[6..12].try_into().unwrap()
    };
    let src_mac: [u8; 6] = input[0..6].try_into().unwrap();
    let mut out = Vec::new();
    match backend {
        IpAddr::V4(b) => {
            Ethernet2Header {
                destination: dst_mac,
                source: src_mac,
                ether_type: EtherType::IPV4,
            }
            .write(&mut out)
            .unwrap();
            let mut h = Ipv4Header::new(
                inner_len as u16,
                cfg.outer_ttl,
                proto,
                cfg.src_v4.octets(),
                b.octets(),
            )
            .unwrap();
            h.dscp = IpDscp::try_new(tos >> 2).unwrap();
            h.ecn = IpEcn::try_new(tos & 3).unwrap();
            h.identification = 0;
            h.dont_fragment = df;
            h.header_checksum = h.calc_header_checksum();
            h.write(&mut out).unwrap();
        }
        IpAddr::V6(b) => {
            Ethernet2Header {
                destination: dst_mac,
                source: src_mac,
                ether_type: EtherType::IPV6,
            }
            .write(&mut out)
            .unwrap();
            Ipv6Header {
                traffic_class: tos,
                flow_label: Ipv6FlowLabel::ZERO,
                payload_length: inner_len as u16,
                next_header: proto,
                hop_limit: cfg.outer_ttl,
                source: cfg.src_v6.octets(),
                destination: b.octets(),
            }
            .write(&mut out)
            .unwrap();
        }
    }
    out.extend_from_slice(inner);
    out
}

/// RFC 1071 sum of 16-bit words (0xffff over a valid header).
pub fn ones_sum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Checks the outer header of `out` field by field, independently of
/// [`expected_encap`], and returns the backend address it is sent to.
pub fn check_outer(input: &[u8], out: &[u8], cfg: &Config) -> IpAddr {
    let (eth, rest) = Ethernet2Header::from_slice(out).expect("outer Ethernet");
    let want_dst = if cfg.gw_mac != [0; 6] {
        cfg.gw_mac
    } else {
        input[6..12].try_into().unwrap()
    };
    assert_eq!(eth.destination, want_dst, "outer Ethernet destination");
    assert_eq!(&eth.source[..], &input[0..6], "outer Ethernet source");
    let inner_v4 = input[12..14] == [0x08, 0x00];
    let inner_proto = if inner_v4 { 4 } else { 41 };
    match eth.ether_type {
        EtherType::IPV4 => {
            let (h, payload) = Ipv4Header::from_slice(rest).expect("outer IPv4");
            assert_eq!(h.ihl(), 5, "no options");
            assert_eq!(
                ones_sum(&rest[..20]),
                0xffff,
                "outer IPv4 checksum (RFC 1071)"
            );
            assert_eq!(h.header_checksum, h.calc_header_checksum());
            assert_eq!(h.protocol, IpNumber(inner_proto), "outer protocol");
            assert_eq!(h.time_to_live, cfg.outer_ttl, "outer TTL");
            assert_eq!(h.source, cfg.src_v4.octets(), "outer source");
            assert_eq!(
                usize::from(h.total_len),
                out.len() - 14,
                "outer total length"
            );
            assert_eq!(h.identification, 0);
            assert!(!h.more_fragments && h.fragment_offset.value() == 0);
            assert_eq!(payload, &input[14..], "inner packet untouched");
            IpAddr::V4(Ipv4Addr::from(h.destination))
        }
        EtherType::IPV6 => {
            let (h, payload) = Ipv6Header::from_slice(rest).expect("outer IPv6");
            assert_eq!(h.next_header, IpNumber(inner_proto), "outer next header");
            assert_eq!(h.hop_limit, cfg.outer_ttl, "outer hop limit");
            assert_eq!(h.source, cfg.src_v6.octets(), "outer source");
            assert_eq!(h.flow_label.value(), 0);
            assert_eq!(
                usize::from(h.payload_length),
                out.len() - 54,
                "outer payload length"
            );
            assert_eq!(payload, &input[14..], "inner packet untouched");
            IpAddr::V6(Ipv6Addr::from(h.destination))
        }
        t => panic!("outer ethertype {t:?}"),
    }
}

/// Sends `f` (a new or tracked flow); asserts XDP_TX, the frame byte for byte, the
/// outer header field by field; returns the backend address.
pub fn send_tx(lb: &Lb, f: &Flow, cfg: &Config) -> IpAddr {
    send_tx_frame(lb, &frame(f), cfg)
}

pub fn send_tx_frame(lb: &Lb, input: &[u8], cfg: &Config) -> IpAddr {
    let (verdict, out) = run(lb, input);
    assert_eq!(verdict, XDP_TX, "verdict for {}", hex(input));
    let backend = check_outer(input, &out, cfg);
    let want = expected_encap(input, backend, cfg);
    assert_eq!(
        hex(&out),
        hex(&want),
        "encapsulated frame differs from the model"
    );
    backend
}

/// Backend id → address for a set of backends.
pub fn addr_of(backends: &[lb::Backend], id: u32) -> IpAddr {
    backends
        .iter()
        .find(|b| b.id == id)
        .unwrap_or_else(|| panic!("no backend {id}"))
        .addr
}

/// Backend address → id.
pub fn id_of(backends: &[lb::Backend], addr: IpAddr) -> u32 {
    backends
        .iter()
        .find(|b| b.addr == addr)
        .unwrap_or_else(|| panic!("no backend {addr}"))
        .id
}

/// The Rust prediction of a new flow's backend id: the Maglev table of the VIP's
/// members (computed here, not read from the kernel) at the flow's hash slot.
pub fn predict(table: &[u32], f: &Flow, vip_flags: u32, cfg: &Config) -> u32 {
    table[lb::hash::flow_slot(f, vip_flags, cfg.hash_seed)]
}

pub fn proto_of(p: u8) -> Proto {
    Proto::from_number(p).unwrap()
}
