//! Counters: the per-CPU values of `lb_global_stats`, `lb_vip_stats` and
//! `lb_backend_stats` (generated types) summed over the CPUs, and their JSON form.

use serde::Serialize;

use crate::bpf::{lb_backend_stats, lb_drop_reason, lb_global_stats, lb_vip_stats};
use crate::control::{Backend, Vip};

/// The drop reasons, in `enum lb_drop_reason` order, with their JSON names.
pub const DROP_REASONS: [(lb_drop_reason, &str); 7] = [
    (lb_drop_reason::LB_DROP_TRUNCATED, "truncated"),
    (lb_drop_reason::LB_DROP_MALFORMED, "malformed"),
    (lb_drop_reason::LB_DROP_IP_OPTIONS, "ip_options"),
    (lb_drop_reason::LB_DROP_FRAGMENT, "fragment"),
    (lb_drop_reason::LB_DROP_NO_BACKEND, "no_backend"),
    (lb_drop_reason::LB_DROP_BACKEND_INVALID, "backend_invalid"),
    (lb_drop_reason::LB_DROP_ENCAP_FAILED, "encap_failed"),
];

const _: () = assert!(lb_drop_reason::LB_DROP__MAX.0 as usize == DROP_REASONS.len());

/// Drops by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Drops {
    pub truncated: u64,
    pub malformed: u64,
    pub ip_options: u64,
    pub fragment: u64,
    pub no_backend: u64,
    pub backend_invalid: u64,
    pub encap_failed: u64,
}

impl Drops {
    /// From a `drops[LB_DROP__MAX]` array, indexed by the generated enum values.
    pub fn from_array(d: &[u64; 7]) -> Drops {
        let at = |r: lb_drop_reason| d[r.0 as usize];
        Drops {
            truncated: at(lb_drop_reason::LB_DROP_TRUNCATED),
            malformed: at(lb_drop_reason::LB_DROP_MALFORMED),
            ip_options: at(lb_drop_reason::LB_DROP_IP_OPTIONS),
            fragment: at(lb_drop_reason::LB_DROP_FRAGMENT),
            no_backend: at(lb_drop_reason::LB_DROP_NO_BACKEND),
            backend_invalid: at(lb_drop_reason::LB_DROP_BACKEND_INVALID),
            encap_failed: at(lb_drop_reason::LB_DROP_ENCAP_FAILED),
        }
    }

    pub fn total(&self) -> u64 {
        self.truncated
            + self.malformed
            + self.ip_options
            + self.fragment
            + self.no_backend
            + self.backend_invalid
            + self.encap_failed
    }
}

fn add_drops(a: &mut [u64; 7], b: &[u64; 7]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// `lb_global_stats` summed over CPUs, field by field.
pub fn sum_global(per_cpu: &[lb_global_stats]) -> lb_global_stats {
    let mut t = lb_global_stats::default();
    for c in per_cpu {
        t.rx_packets += c.rx_packets;
        t.rx_bytes += c.rx_bytes;
        t.pass_non_ip += c.pass_non_ip;
        t.pass_non_vip += c.pass_non_vip;
        t.tx_packets += c.tx_packets;
        t.tx_bytes += c.tx_bytes;
        t.new_flows += c.new_flows;
        t.ct_hits += c.ct_hits;
        t.ct_stale += c.ct_stale;
        t.ct_expired += c.ct_expired;
        t.ct_update_failed += c.ct_update_failed;
        t.icmp_too_big += c.icmp_too_big;
        add_drops(&mut t.drops, &c.drops);
        for (x, y) in t.len_hist.iter_mut().zip(&c.len_hist) {
            *x += y;
        }
    }
    t
}

/// `lb_vip_stats` summed over CPUs, field by field.
pub fn sum_vip(per_cpu: &[lb_vip_stats]) -> lb_vip_stats {
    let mut t = lb_vip_stats::default();
    for c in per_cpu {
        t.packets += c.packets;
        t.bytes += c.bytes;
        t.new_flows += c.new_flows;
        t.ct_hits += c.ct_hits;
        t.ct_stale += c.ct_stale;
        t.ct_expired += c.ct_expired;
        add_drops(&mut t.drops, &c.drops);
    }
    t
}

/// `lb_backend_stats` summed over CPUs, field by field.
pub fn sum_backend(per_cpu: &[lb_backend_stats]) -> lb_backend_stats {
    let mut t = lb_backend_stats::default();
    for c in per_cpu {
        t.packets += c.packets;
        t.bytes += c.bytes;
        t.new_flows += c.new_flows;
        t.ct_hits += c.ct_hits;
    }
    t
}

/// Global counters (summed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GlobalStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub pass_non_ip: u64,
    pub pass_non_vip: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub new_flows: u64,
    pub ct_hits: u64,
    pub ct_stale: u64,
    pub ct_expired: u64,
    pub ct_update_failed: u64,
    pub icmp_too_big: u64,
    pub drops: Drops,
    /// Received frame lengths: bucket i counts lengths 32·i .. 32·i+31 (the last, ≥ 2016).
    pub len_hist: Vec<u64>,
}

impl GlobalStats {
    pub fn new(s: &lb_global_stats) -> GlobalStats {
        GlobalStats {
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            pass_non_ip: s.pass_non_ip,
            pass_non_vip: s.pass_non_vip,
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            new_flows: s.new_flows,
            ct_hits: s.ct_hits,
            ct_stale: s.ct_stale,
            ct_expired: s.ct_expired,
            ct_update_failed: s.ct_update_failed,
            icmp_too_big: s.icmp_too_big,
            drops: Drops::from_array(&s.drops),
            len_hist: s.len_hist.to_vec(),
        }
    }
}

/// One VIP's counters (summed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VipStats {
    pub id: u32,
    pub vip: String,
    pub flags: u32,
    pub packets: u64,
    pub bytes: u64,
    pub new_flows: u64,
    pub ct_hits: u64,
    pub ct_stale: u64,
    pub ct_expired: u64,
    pub drops: Drops,
}

impl VipStats {
    pub fn new(v: &Vip, s: &lb_vip_stats) -> VipStats {
        VipStats {
            id: v.id,
            vip: v.service.to_string(),
            flags: v.flags,
            packets: s.packets,
            bytes: s.bytes,
            new_flows: s.new_flows,
            ct_hits: s.ct_hits,
            ct_stale: s.ct_stale,
            ct_expired: s.ct_expired,
            drops: Drops::from_array(&s.drops),
        }
    }
}

/// One backend's counters (summed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackendStats {
    pub id: u32,
    pub vip_id: u32,
    pub addr: String,
    pub state: &'static str,
    pub weight: u32,
    pub packets: u64,
    pub bytes: u64,
    pub new_flows: u64,
    pub ct_hits: u64,
}

impl BackendStats {
    pub fn new(b: &Backend, s: &lb_backend_stats) -> BackendStats {
        BackendStats {
            id: b.id,
            vip_id: b.vip_id,
            addr: b.addr.to_string(),
            state: b.state_name(),
            weight: b.weight,
            packets: s.packets,
            bytes: s.bytes,
            new_flows: s.new_flows,
            ct_hits: s.ct_hits,
        }
    }
}

/// Every counter of a load balancer, summed over `cpus` CPUs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub cpus: usize,
    pub global: GlobalStats,
    pub vips: Vec<VipStats>,
    pub backends: Vec<BackendStats>,
}

impl Stats {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("stats serialise")
    }

    /// A human-readable table.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let g = &self.global;
        let mut s = String::new();
        let _ = writeln!(s, "global (summed over {} CPUs)", self.cpus);
        let _ = writeln!(
            s,
            "  rx {} packets {} bytes; tx {} packets {} bytes; pass: non-IP {}, non-VIP {}",
            g.rx_packets, g.rx_bytes, g.tx_packets, g.tx_bytes, g.pass_non_ip, g.pass_non_vip
        );
        let _ = writeln!(
            s,
            "  flows: new {}, conntrack hits {}, stale {}, expired {}, update failed {}; \
             ICMP too-big {}",
            g.new_flows, g.ct_hits, g.ct_stale, g.ct_expired, g.ct_update_failed, g.icmp_too_big
        );
        let _ = writeln!(s, "  drops: {}", drops_text(&g.drops));
        let _ = writeln!(
            s,
            "{:>4}  {:<28} {:>10} {:>12} {:>9} {:>9} {:>6} {:>7}  drops",
            "vip", "service", "packets", "bytes", "new", "ct_hits", "stale", "expired"
        );
        for v in &self.vips {
            let _ = writeln!(
                s,
                "{:>4}  {:<28} {:>10} {:>12} {:>9} {:>9} {:>6} {:>7}  {}",
                v.id,
                v.vip,
                v.packets,
                v.bytes,
                v.new_flows,
                v.ct_hits,
                v.ct_stale,
                v.ct_expired,
                drops_text(&v.drops)
            );
        }
        let _ = writeln!(
            s,
            "{:>4}  {:>4}  {:<28} {:<9} {:>6} {:>10} {:>12} {:>9} {:>9}",
            "be", "vip", "address", "state", "weight", "packets", "bytes", "new", "ct_hits"
        );
        for b in &self.backends {
            let _ = writeln!(
                s,
                "{:>4}  {:>4}  {:<28} {:<9} {:>6} {:>10} {:>12} {:>9} {:>9}",
                b.id,
                b.vip_id,
                b.addr,
                b.state,
                b.weight,
                b.packets,
                b.bytes,
                b.new_flows,
                b.ct_hits
            );
        }
        s
    }
}

fn drops_text(d: &Drops) -> String {
    let v = [
        ("truncated", d.truncated),
        ("malformed", d.malformed),
        ("ip_options", d.ip_options),
        ("fragment", d.fragment),
        ("no_backend", d.no_backend),
        ("backend_invalid", d.backend_invalid),
        ("encap_failed", d.encap_failed),
    ];
    let parts: Vec<String> = v
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_every_field_over_cpus() {
        let mut a = lb_global_stats::default();
        let mut b = lb_global_stats::default();
        a.rx_packets = 3;
        b.rx_packets = 4;
        a.drops[lb_drop_reason::LB_DROP_FRAGMENT.0 as usize] = 2;
        b.drops[lb_drop_reason::LB_DROP_FRAGMENT.0 as usize] = 5;
        a.len_hist[63] = 1;
        b.len_hist[63] = 1;
        b.icmp_too_big = 9;
        let t = sum_global(&[a, b]);
        assert_eq!(t.rx_packets, 7);
        assert_eq!(t.icmp_too_big, 9);
        assert_eq!(t.len_hist[63], 2);
        assert_eq!(Drops::from_array(&t.drops).fragment, 7);
        assert_eq!(Drops::from_array(&t.drops).total(), 7);
        let mut v = lb_vip_stats {
            ct_expired: 1,
            ..Default::default()
        };
        v.drops[4] = 3;
        let s = sum_vip(&[v, v, v]);
        assert_eq!((s.ct_expired, s.drops[4]), (3, 9));
        let be = lb_backend_stats {
            bytes: 10,
            ..Default::default()
        };
        assert_eq!(sum_backend(&[be, be]).bytes, 20);
    }
}
