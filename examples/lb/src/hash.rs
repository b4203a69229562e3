//! The datapath's flow hash, bit for bit (lb.h, "flow hash and Maglev lookup";
//! lb_jhash.h): the Linux kernel's `jhash2()` (Bob Jenkins' lookup3 `hashword()`)
//! over ten 32-bit words.

use std::net::IpAddr;

use crate::net::Flow;

/// `JHASH_INITVAL` of `<linux/jhash.h>`.
pub const JHASH_INITVAL: u32 = 0xdead_beef;

/// `LB_VIP_F_HASH_NO_SPORT` (the generated `lb_vip_flags` constant).
pub const F_HASH_NO_SPORT: u32 = crate::bpf::lb_vip_flags::LB_VIP_F_HASH_NO_SPORT.0;

#[inline(always)]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

#[inline(always)]
fn final_(a: &mut u32, b: &mut u32, c: &mut u32) {
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(14));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(11));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(25));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(16));
    *a ^= *c;
    *a = a.wrapping_sub(c.rotate_left(4));
    *b ^= *a;
    *b = b.wrapping_sub(a.rotate_left(14));
    *c ^= *b;
    *c = c.wrapping_sub(b.rotate_left(24));
}

/// The kernel's `jhash2(k, k.len(), initval)`.
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    let n = k.len() as u32;
    let mut a = JHASH_INITVAL.wrapping_add(n << 2).wrapping_add(initval);
    let (mut b, mut c) = (a, a);
    let mut rest = k;
    while rest.len() > 3 {
        a = a.wrapping_add(rest[0]);
        b = b.wrapping_add(rest[1]);
        c = c.wrapping_add(rest[2]);
        mix(&mut a, &mut b, &mut c);
        rest = &rest[3..];
    }
    match rest.len() {
        3 => {
            c = c.wrapping_add(rest[2]);
            b = b.wrapping_add(rest[1]);
            a = a.wrapping_add(rest[0]);
        }
        2 => {
            b = b.wrapping_add(rest[1]);
            a = a.wrapping_add(rest[0]);
        }
        1 => a = a.wrapping_add(rest[0]),
        _ => return c,
    }
    final_(&mut a, &mut b, &mut c);
    c
}

/// An address as four big-endian 32-bit words (IPv4: the address, then 0, 0, 0).
pub fn addr_words(ip: IpAddr) -> [u32; 4] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// The ten hash input words of a flow (lb.h).
pub fn flow_words(flow: &Flow, vip_flags: u32) -> [u32; 10] {
    let s = addr_words(flow.src);
    let d = addr_words(flow.dst);
    let sport = if vip_flags & F_HASH_NO_SPORT != 0 {
        0
    } else {
        u32::from(flow.sport)
    };
    [
        s[0],
        s[1],
        s[2],
        s[3],
        d[0],
        d[1],
        d[2],
        d[3],
        (sport << 16) | u32::from(flow.dport),
        u32::from(flow.proto),
    ]
}

/// The datapath's flow hash: `jhash2(words, 10, CONFIG.hash_seed)`.
pub fn flow_hash(flow: &Flow, vip_flags: u32, seed: u32) -> u32 {
    jhash2(&flow_words(flow, vip_flags), seed)
}

/// The Maglev slot of a new flow: `flow_hash % 65537`.
pub fn flow_slot(flow: &Flow, vip_flags: u32, seed: u32) -> usize {
    (flow_hash(flow, vip_flags, seed) % crate::maglev::SIZE as u32) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lookup3's `hashlittle()` over bytes (what the kernel's `jhash()` is): only to
    /// check `mix`/`final_` against lookup3's published self-test vector.
    fn hashlittle(data: &[u8], initval: u32) -> u32 {
        let mut a = JHASH_INITVAL
            .wrapping_add(data.len() as u32)
            .wrapping_add(initval);
        let (mut b, mut c) = (a, a);
        let word = |s: &[u8]| u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        let mut rest = data;
        while rest.len() > 12 {
            a = a.wrapping_add(word(&rest[0..]));
            b = b.wrapping_add(word(&rest[4..]));
            c = c.wrapping_add(word(&rest[8..]));
            mix(&mut a, &mut b, &mut c);
            rest = &rest[12..];
        }
        if rest.is_empty() {
            return c;
        }
        let mut tail = [0u8; 12];
        tail[..rest.len()].copy_from_slice(rest);
        a = a.wrapping_add(word(&tail[0..]));
        b = b.wrapping_add(word(&tail[4..]));
        c = c.wrapping_add(word(&tail[8..]));
        final_(&mut a, &mut b, &mut c);
        c
    }

    #[test]
    fn lookup3_published_vectors() {
        let s = b"Four score and seven years ago";
        assert_eq!(hashlittle(s, 0), 0x1777_0551);
        assert_eq!(hashlittle(s, 1), 0xcd62_8161);
        // hashword over n words == hashlittle over their 4n little-endian bytes
        let mut x = 0x1234_5678_9abc_def0u64;
        for n in 1..=12 {
            let mut words = Vec::new();
            for _ in 0..=n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                words.push(x as u32);
            }
            let seed = words.pop().unwrap();
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert_eq!(jhash2(&words, seed), hashlittle(&bytes, seed), "{n} words");
        }
    }

    #[test]
    fn lb_jhash_h_vectors() {
        assert_eq!(jhash2(&[0; 10], 0), 0xc0fe_d4b2);
        assert_eq!(jhash2(&[0; 10], 0x5eed_1234), 0x5a58_f16e);
    }

    /// Every `vector` line of lb.h (parsed from the header itself, as smoke.py does).
    #[test]
    fn lb_h_flow_vectors() {
        let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/lb.h")).unwrap();
        let mut n = 0;
        for line in h.lines() {
            let Some(v) = line.trim().strip_prefix("*   vector ") else {
                continue;
            };
            // 192.168.1.1 40000 -> 10.0.0.10 80 proto 6 seed 0x5eed1234 flags 0:
            //     hash 0x53d6a161 slot 19851
            let t: Vec<&str> = v.split_whitespace().collect();
            let flow = Flow {
                src: t[0].parse().unwrap(),
                sport: t[1].parse().unwrap(),
                dst: t[3].parse().unwrap(),
                dport: t[4].parse().unwrap(),
                proto: t[6].parse().unwrap(),
            };
            let seed = u32::from_str_radix(t[8].trim_start_matches("0x"), 16).unwrap();
            let flags: u32 = t[10].trim_end_matches(':').parse().unwrap();
            let hash = u32::from_str_radix(t[12].trim_start_matches("0x"), 16).unwrap();
            let slot: usize = t[14].parse().unwrap();
            assert_eq!(flow_hash(&flow, flags, seed), hash, "{line}");
            assert_eq!(flow_slot(&flow, flags, seed), slot, "{line}");
            n += 1;
        }
        assert_eq!(n, 6, "lb.h documents six flow vectors");
    }

    #[test]
    fn words_of_the_documented_example() {
        let flow = Flow {
            src: "192.168.1.1".parse().unwrap(),
            dst: "10.0.0.10".parse().unwrap(),
            sport: 40000,
            dport: 80,
            proto: 6,
        };
        assert_eq!(
            flow_words(&flow, 0),
            [0xc0a80101, 0, 0, 0, 0x0a00000a, 0, 0, 0, 0x9c400050, 6]
        );
        assert_eq!(flow_words(&flow, F_HASH_NO_SPORT)[8], 0x0000_0050);
    }
}
