//! Weighted Maglev tables (Eisenbud et al., "Maglev: A Fast and Reliable Software
//! Network Load Balancer", NSDI 2016, with katran's weighting).
//!
//! A table has [`SIZE`] = 65,537 slots (a prime: the inner map's `max_entries`, read
//! from the generated definition); slot *s* names the backend id a new flow whose
//! hash is ≡ *s* (mod 65,537) goes to, 0 meaning "no backend".
//!
//! **Permutation.** Each backend has a preference list over the slots, a function of
//! its *address* only (not of its id, nor of the other backends):
//!
//! ```text
//! w        = the address as four big-endian u32 words (IPv4: address, 0, 0, 0),
//!            then the family (4 or 6): five words
//! offset   = jhash2(w, 5, 0x4d41474c /* "MAGL" */) % 65537
//! skip     = jhash2(w, 5, 0x534b4950 /* "SKIP" */) % 65536 + 1
//! perm[j]  = (offset + j * skip) % 65537,   j = 0, 1, 2, …
//! ```
//!
//! (`jhash2` as in [`crate::hash`].) As 65,537 is prime and 1 ≤ skip < 65,537, `perm`
//! visits every slot exactly once.
//!
//! **Population.** The eligible backends (weight > 0; the caller leaves out draining
//! and removed ones) are ordered by (family, address). Rounds follow one another
//! until every slot is taken; in each round every backend in that order adds its
//! weight to a credit, and while the credit is at least the largest weight, it pays
//! that much and takes its next preferred slot that is still free. A backend of the
//! largest weight so takes one slot per round, one of weight *w* a fraction
//! *w / max* of the rounds: its share of the table is its share of the total weight,
//! exact up to the last, partial round (weights 1, 2, 3 in address order get 10,923 /
//! 21,846 / 32,768 of the 65,537 slots).
//!
//! The table depends only on the set of (address, weight, id) triples: not on the
//! order backends were added in. Adding or removing one backend of *n* moves about
//! 1/*n* of the slots (Maglev's minimal disruption), which conntrack then hides
//! from established flows.

use std::net::IpAddr;

use crate::hash::{addr_words, jhash2};

/// Slots of every table: `LB_MAGLEV_SIZE`, the inner map's `max_entries`.
pub const SIZE: usize = crate::bpf::maps::lb_maglev::inner::DEF.max_entries as usize;

/// Seed of the offset hash (`"MAGL"`).
pub const OFFSET_SEED: u32 = 0x4d41_474c;
/// Seed of the skip hash (`"SKIP"`).
pub const SKIP_SEED: u32 = 0x534b_4950;

/// A backend as the table builder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its backend id (1 ..= 4095): what the slots hold.
    pub id: u32,
    /// Its address: what its permutation is a function of.
    pub addr: IpAddr,
    /// Its weight; 0 leaves it out.
    pub weight: u32,
}

/// The five permutation words of an address.
fn perm_words(addr: IpAddr) -> [u32; 5] {
    let a = addr_words(addr);
    let family = match addr {
        IpAddr::V4(_) => 4,
        IpAddr::V6(_) => 6,
    };
    [a[0], a[1], a[2], a[3], family]
}

/// `(offset, skip)` of an address's permutation.
pub fn permutation(addr: IpAddr) -> (u32, u32) {
    let w = perm_words(addr);
    let m = SIZE as u32;
    (
        jhash2(&w, OFFSET_SEED) % m,
        jhash2(&w, SKIP_SEED) % (m - 1) + 1,
    )
}

/// The (family, address) order of the population rounds.
fn order_key(addr: &IpAddr) -> (u8, [u8; 16]) {
    match addr {
        IpAddr::V4(a) => {
            let mut b = [0; 16];
            b[..4].copy_from_slice(&a.octets());
            (4, b)
        }
        IpAddr::V6(a) => (6, a.octets()),
    }
}

/// Builds the table of a backend set: [`SIZE`] backend ids, all 0 when no member has
/// a weight. Members must have distinct addresses.
pub fn build(members: &[Member]) -> Vec<u32> {
    let mut table = vec![0u32; SIZE];
    let mut ms: Vec<Member> = members.iter().copied().filter(|m| m.weight > 0).collect();
    if ms.is_empty() {
        return table;
    }
    ms.sort_by_key(|m| order_key(&m.addr));
    debug_assert!(
        ms.windows(2).all(|w| w[0].addr != w[1].addr),
        "duplicate backend address"
    );
    let m = SIZE as u64;
    let max_w = u64::from(ms.iter().map(|m| m.weight).max().unwrap_or(1));
    // Per member: next slot of its permutation (as offset + j*skip, kept reduced),
    // its skip, and its weight credit.
    let mut next: Vec<u64> = Vec::with_capacity(ms.len());
    let mut skip: Vec<u64> = Vec::with_capacity(ms.len());
    for mem in &ms {
        let (o, s) = permutation(mem.addr);
        next.push(u64::from(o));
        skip.push(u64::from(s));
    }
    let mut credit = vec![0u64; ms.len()];
    let mut taken = vec![false; SIZE];
    let mut filled = 0usize;
    'rounds: loop {
        for i in 0..ms.len() {
            credit[i] += u64::from(ms[i].weight);
            while credit[i] >= max_w {
                credit[i] -= max_w;
                let mut c = next[i];
                while taken[c as usize] {
                    c = (c + skip[i]) % m;
                }
                taken[c as usize] = true;
                table[c as usize] = ms[i].id;
                next[i] = (c + skip[i]) % m;
                filled += 1;
                if filled == SIZE {
                    break 'rounds;
                }
            }
        }
    }
    table
}

/// How many slots each backend id holds, ordered by id (id 0 = empty slots).
pub fn slot_counts(table: &[u32]) -> Vec<(u32, usize)> {
    let mut counts = std::collections::BTreeMap::new();
    for &id in table {
        *counts.entry(id).or_insert(0usize) += 1;
    }
    counts.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(i: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, i))
    }

    fn members(n: u8) -> Vec<Member> {
        (1..=n)
            .map(|i| Member {
                id: u32::from(i),
                addr: v4(i),
                weight: 1,
            })
            .collect()
    }

    #[test]
    fn size_is_the_inner_map_size() {
        assert_eq!(SIZE, 65537);
        assert_eq!(crate::bpf::maps::lb_maglev::inner::DEF.value_size, 4);
    }

    #[test]
    fn permutation_is_a_permutation() {
        let (o, s) = permutation(v4(1));
        assert!((o as usize) < SIZE && s >= 1 && (s as usize) < SIZE);
        let mut seen = vec![false; SIZE];
        let mut c = u64::from(o);
        for _ in 0..SIZE {
            assert!(!seen[c as usize]);
            seen[c as usize] = true;
            c = (c + u64::from(s)) % SIZE as u64;
        }
        // a documented value, so other implementations can check theirs
        assert_eq!(
            permutation("203.0.113.1".parse().unwrap()),
            (
                jhash2(&[0xcb00_7101, 0, 0, 0, 4], 0x4d41_474c) % 65537,
                jhash2(&[0xcb00_7101, 0, 0, 0, 4], 0x534b_4950) % 65536 + 1
            )
        );
    }

    #[test]
    fn empty_and_zero_weight_give_an_empty_table() {
        assert!(build(&[]).iter().all(|&b| b == 0));
        let mut ms = members(2);
        ms[0].weight = 0;
        ms[1].weight = 0;
        assert!(build(&ms).iter().all(|&b| b == 0));
    }

    #[test]
    fn deterministic_and_independent_of_order() {
        let ms = members(7);
        let t1 = build(&ms);
        let mut rev = ms.clone();
        rev.reverse();
        assert_eq!(t1, build(&rev));
        assert!(t1.iter().all(|&b| (1..=7).contains(&b)));
    }

    #[test]
    fn equal_weights_share_equally() {
        let counts = slot_counts(&build(&members(5)));
        assert_eq!(counts.len(), 5);
        for (_, n) in counts {
            assert!(n.abs_diff(SIZE / 5) <= 1, "{n}");
        }
    }

    #[test]
    fn weights_1_2_3_share_exactly() {
        let mut ms = members(3);
        for (m, w) in ms.iter_mut().zip([1, 2, 3]) {
            m.weight = w;
        }
        let counts = slot_counts(&build(&ms));
        let got: Vec<usize> = counts.iter().map(|&(_, n)| n).collect();
        // 65537 = 6 * 10922 + 5: 10922 full rounds of 1+2+3, then the last partial
        for (n, w) in got.iter().zip([1usize, 2, 3]) {
            assert!(n.abs_diff(SIZE * w / 6) <= 3, "{got:?}");
        }
        assert_eq!(got.iter().sum::<usize>(), SIZE);
        // as the module documentation says: 10922 rounds of 1 + 2 + 3, then 5 slots
        assert_eq!(got, [10_923, 21_846, 32_768]);
    }

    #[test]
    fn minimal_disruption() {
        let ms = members(10);
        let before = build(&ms);
        let mut more = ms.clone();
        more.push(Member {
            id: 11,
            addr: v4(11),
            weight: 1,
        });
        let after = build(&more);
        let moved = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        let to_new = after.iter().filter(|&&b| b == 11).count();
        println!("10 -> 11 backends: {moved} slots moved, {to_new} to the new one");
        // ideal: exactly the 1/11 the new backend takes; Maglev moves a little more
        assert!(to_new.abs_diff(SIZE / 11) <= 1);
        assert!(moved < SIZE * 2 / 11, "moved {moved} of {SIZE}");
        // removing one backend of 10 moves its slots, and few others
        let fewer = &ms[1..];
        let t = build(fewer);
        let moved = before.iter().zip(&t).filter(|(a, b)| a != b).count();
        assert!(moved < SIZE * 2 / 10, "moved {moved}");
        assert!(t.iter().all(|&b| b != 1));
    }

    #[test]
    fn ids_only_label_slots() {
        let ms = members(4);
        let mut relabeled = ms.clone();
        for m in &mut relabeled {
            m.id += 100;
        }
        let a = build(&ms);
        let b = build(&relabeled);
        assert!(a.iter().zip(&b).all(|(x, y)| x + 100 == *y));
    }
}
