//! `std::net` addresses to and from the generated key and value types.
//!
//! The datapath compares keys byte for byte, padding included (lb.h, "Layout rules"),
//! so every key here starts from the generated `Default` (all zero) and IPv4
//! addresses fill bytes 0..4 of `union lb_addr`, the other 12 staying zero.
//! `__be16` / `__be32` fields hold network byte order on every host.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::bpf::{__be16, __be32, lb_addr, lb_addr_key, lb_family, lb_flow_key, lb_vip_key};

/// A transport protocol a VIP serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// The IP protocol number (6, 17).
    pub const fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    pub const fn from_number(n: u8) -> Option<Proto> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// A virtual service: address, port (0 = every port of the address: the wildcard)
/// and protocol. Written `198.51.100.10:80/tcp`, `[2001:db8::10]:443/tcp`,
/// `198.51.100.10/udp` (= port 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service {
    pub addr: IpAddr,
    pub port: u16,
    pub proto: Proto,
}

impl Service {
    pub const fn new(addr: IpAddr, port: u16, proto: Proto) -> Service {
        Service { addr, port, proto }
    }

    /// The `lb_vips` key of this service.
    pub fn key(&self) -> lb_vip_key {
        lb_vip_key {
            addr: lb_addr_of(self.addr),
            port: be16(self.port),
            proto: self.proto.number(),
            family: family_of(self.addr),
        }
    }

    /// The service an `lb_vips` key describes (`None` for a key no control plane
    /// writes: unknown family or protocol).
    pub fn from_key(k: &lb_vip_key) -> Option<Service> {
        Some(Service {
            addr: ip_of(&k.addr, k.family)?,
            port: from_be16(k.port),
            proto: Proto::from_number(k.proto)?,
        })
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}/{}", self.port, self.proto.name()),
            IpAddr::V6(a) => write!(f, "[{a}]:{}/{}", self.port, self.proto.name()),
        }
    }
}

/// Why a service did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseServiceError(String);

impl fmt::Display for ParseServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected ADDRESS:PORT/PROTO (198.51.100.10:80/tcp, [2001:db8::10]:443/udp; \
             port 0 or ADDRESS/PROTO = every port)",
            self.0
        )
    }
}

impl std::error::Error for ParseServiceError {}

impl FromStr for Service {
    type Err = ParseServiceError;

    fn from_str(s: &str) -> Result<Service, ParseServiceError> {
        let err = || ParseServiceError(format!("`{s}`"));
        let (addr_port, proto) = s.rsplit_once('/').ok_or_else(err)?;
        let proto = match proto.to_ascii_lowercase().as_str() {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => return Err(err()),
        };
        let (addr, port) = if let Ok(sa) = addr_port.parse::<std::net::SocketAddr>() {
            (sa.ip(), sa.port())
        } else {
            let bare = addr_port.trim_start_matches('[').trim_end_matches(']');
            (bare.parse::<IpAddr>().map_err(|_| err())?, 0)
        };
        Ok(Service { addr, port, proto })
    }
}

/// A flow as the datapath sees it (client → VIP): the conntrack key and the input
/// of the flow hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
}

impl Flow {
    /// The `lb_conntrack` key (40 bytes, the 2 tail-padding bytes zero).
    pub fn key(&self) -> lb_flow_key {
        // `..Default::default()`: the 2 bytes of tail padding are zero.
        lb_flow_key {
            src: lb_addr_of(self.src),
            dst: lb_addr_of(self.dst),
            sport: be16(self.sport),
            dport: be16(self.dport),
            proto: self.proto,
            family: family_of(self.dst),
            ..Default::default()
        }
    }
}

/// An address as `union lb_addr` (IPv4: bytes 0..4, then 12 zero bytes).
pub fn lb_addr_of(ip: IpAddr) -> lb_addr {
    let mut a = lb_addr::default();
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    a.set_bytes(b);
    a
}

/// The `enum lb_family` of an address.
pub fn family_of(ip: IpAddr) -> lb_family {
    match ip {
        IpAddr::V4(_) => lb_family::LB_FAMILY_V4,
        IpAddr::V6(_) => lb_family::LB_FAMILY_V6,
    }
}

/// The address `union lb_addr` holds for `family` (`None` for no valid family).
pub fn ip_of(a: &lb_addr, family: lb_family) -> Option<IpAddr> {
    let b = a.bytes();
    match family {
        lb_family::LB_FAMILY_V4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        lb_family::LB_FAMILY_V6 => Some(IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

/// The `lb_vip_addrs` key of an address.
pub fn addr_key_of(ip: IpAddr) -> lb_addr_key {
    // `..Default::default()`: `pad` is zero.
    lb_addr_key {
        addr: lb_addr_of(ip),
        family: family_of(ip),
        ..Default::default()
    }
}

/// A port in network byte order, as a `__be16` field holds it (80 is the bytes 00 50).
pub fn be16(port: u16) -> __be16 {
    u16::from_ne_bytes(port.to_be_bytes())
}

/// The port a `__be16` field holds.
pub fn from_be16(v: __be16) -> u16 {
    u16::from_be_bytes(v.to_ne_bytes())
}

/// An IPv4 address as a `__be32` field holds it (10.0.0.1 is the bytes 0a 00 00 01).
pub fn be32(ip: Ipv4Addr) -> __be32 {
    u32::from_ne_bytes(ip.octets())
}

/// The IPv4 address a `__be32` field holds.
pub fn from_be32(v: __be32) -> Ipv4Addr {
    Ipv4Addr::from(v.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::IntoBytes;

    #[test]
    fn services_parse_and_print() {
        for (s, want) in [
            ("198.51.100.10:80/tcp", "198.51.100.10:80/tcp"),
            ("198.51.100.10/UDP", "198.51.100.10:0/udp"),
            ("[2001:db8::10]:443/tcp", "[2001:db8::10]:443/tcp"),
            ("2001:db8::10/udp", "[2001:db8::10]:0/udp"),
            ("[2001:db8::10]/udp", "[2001:db8::10]:0/udp"),
        ] {
            let svc: Service = s.parse().unwrap();
            assert_eq!(svc.to_string(), want);
            assert_eq!(Service::from_key(&svc.key()), Some(svc));
        }
        for bad in [
            "198.51.100.10:80",
            "198.51.100.10:80/icmp",
            "x:1/tcp",
            "1.2.3.4:99999/tcp",
        ] {
            assert!(bad.parse::<Service>().is_err(), "{bad}");
        }
    }

    /// The key bytes are exactly what lb.h documents (and smoke.py packs by hand).
    #[test]
    fn keys_have_the_documented_bytes() {
        let svc: Service = "10.0.0.1:80/tcp".parse().unwrap();
        let mut want = vec![10, 0, 0, 1];
        want.extend([0; 12]);
        want.extend([0x00, 0x50, 6, 4]);
        assert_eq!(svc.key().as_bytes(), &want[..]);

        let flow = Flow {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::10".parse().unwrap(),
            sport: 0x1234,
            dport: 443,
            proto: 6,
        };
        let k = flow.key();
        let b = k.as_bytes();
        assert_eq!(b.len(), 40);
        assert_eq!(&b[32..40], &[0x12, 0x34, 0x01, 0xbb, 6, 6, 0, 0]);
        assert_eq!(b[15], 1);
        assert_eq!(b[31], 0x10);

        let ak = addr_key_of("192.0.2.7".parse().unwrap());
        assert_eq!(&ak.as_bytes()[..4], &[192, 0, 2, 7]);
        assert_eq!(
            &ak.as_bytes()[4..],
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0]
        );
        assert_eq!(
            be32(Ipv4Addr::new(10, 0, 0, 1)).to_ne_bytes(),
            [10, 0, 0, 1]
        );
        assert_eq!(
            from_be32(be32(Ipv4Addr::new(10, 0, 0, 1))),
            Ipv4Addr::new(10, 0, 0, 1)
        );
    }
}
