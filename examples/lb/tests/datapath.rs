//! End-to-end tests of the load balancer in this machine's kernel: the control plane
//! (`lb::Lb`, every map through bpfgen's generated types) sets up VIPs, backends and
//! Maglev tables; frames built with etherparse go through `lb_xdp` with
//! `BPF_PROG_TEST_RUN` (aya's test-run API, repeat 1); every output frame is compared
//! byte for byte with the model of lb.bpf.c's outer headers and checked field by
//! field; every backend with the Rust jhash2 + Maglev prediction; counters exactly.
//!
//! Needs root (or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON): without it every test FAILS
//! with a message saying so. Addresses are documentation/benchmark ranges, and
//! nothing leaves the kernel (test runs transmit nothing).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use common::*;
use lb::bpf::{self, lb_backend_state};
use lb::hash::F_HASH_NO_SPORT;
use lb::net::Flow;
use lb::{maglev, Backend, Lb, Vip};

/// A VIP with backends `(address, weight)`; returns the VIP and its backends.
fn setup(lb: &mut Lb, service: &str, flags: u32, backends: &[(&str, u32)]) -> (Vip, Vec<Backend>) {
    let vip = lb.add_vip(svc(service), flags).unwrap();
    for (addr, w) in backends {
        lb.add_backend(&vip.service, addr.parse().unwrap(), *w)
            .unwrap();
    }
    let bs = lb.backends_of(vip.id).unwrap();
    assert_eq!(bs.len(), backends.len());
    (vip, bs)
}

/// The Maglev table of these backends, computed in Rust.
fn rust_table(bs: &[Backend]) -> Vec<u32> {
    let members: Vec<maglev::Member> = bs
        .iter()
        .filter(|b| b.state == lb_backend_state::LB_BACKEND_ACTIVE)
        .map(|b| maglev::Member {
            id: b.id,
            addr: b.addr,
            weight: b.weight,
        })
        .collect();
    maglev::build(&members)
}

fn vip_stats(lb: &Lb, id: u32) -> bpf::lb_vip_stats {
    lb::stats::sum_vip(&lb.vip_stats_per_cpu(id).unwrap())
}

fn global_stats(lb: &Lb) -> bpf::lb_global_stats {
    lb::stats::sum_global(&lb.global_stats_per_cpu().unwrap())
}

fn backend_stats(lb: &Lb, id: u32) -> bpf::lb_backend_stats {
    lb::stats::sum_backend(&lb.backend_stats_per_cpu(id).unwrap())
}

const D_TRUNCATED: usize = bpf::lb_drop_reason::LB_DROP_TRUNCATED.0 as usize;
const D_MALFORMED: usize = bpf::lb_drop_reason::LB_DROP_MALFORMED.0 as usize;
const D_IP_OPTIONS: usize = bpf::lb_drop_reason::LB_DROP_IP_OPTIONS.0 as usize;
const D_FRAGMENT: usize = bpf::lb_drop_reason::LB_DROP_FRAGMENT.0 as usize;
const D_NO_BACKEND: usize = bpf::lb_drop_reason::LB_DROP_NO_BACKEND.0 as usize;

/// The config is set through the generated `lb_config` before load, and the kernel's
/// `.rodata` holds exactly those bytes; the object's own defaults are what
/// `Config::default()` says; a default-config instance replies to the sender's MAC
/// with TTL 64.
#[test]
fn config_goes_through_the_generated_rodata_struct() {
    use zerocopy::IntoBytes;
    let cfg = config();
    let lb = load(&cfg);
    assert_eq!(lb.config().as_bytes(), cfg.to_bpf().as_bytes());
    assert_eq!(lb::Config::from_bpf(lb.config()), cfg);

    // The object's defaults, read back from a load without any override.
    let plain = bpf::aya_glue::load().expect("load lb.bpf.o");
    let ro = bpf::aya_glue::read_rodata(&plain).unwrap();
    assert_eq!(
        ro.CONFIG.as_bytes(),
        lb::Config::default().to_bpf().as_bytes()
    );

    let dflt = lb::Config::default();
    let mut lb = load(&dflt);
    let (vip, bs) = setup(&mut lb, "198.51.100.5:80/tcp", 0, &[("203.0.113.50", 1)]);
    let f = flow(v4("198.18.0.1"), 1234, vip.service.addr, 80, TCP);
    let input = frame(&f);
    let (verdict, out) = run(&lb, &input);
    assert_eq!(verdict, XDP_TX);
    assert_eq!(&out[0..6], &ROUTER_MAC, "default: back to the sender's MAC");
    assert_eq!(&out[6..12], &LB_MAC);
    assert_eq!(out[14 + 8], 64, "default TTL");
    assert_eq!(hex(&out), hex(&expected_encap(&input, bs[0].addr, &dflt)));
}

/// Scenario 1 of issue 7: TCP/IPv4 to a VIP → XDP_TX; outer header exactly as expected
/// (addresses, protocol 4, lengths, TTL, DF, valid checksum), the inner packet
/// identical, the backend the Rust Maglev + hash predicts — for 300 flows with varied TOS,
/// DF and sizes, and an Ethernet-padded frame. The kernel's table equals the Rust one.
#[test]
fn tcp4_to_a_vip_is_encapsulated_toward_the_predicted_backend() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, bs) = setup(
        &mut lb,
        "198.51.100.10:80/tcp",
        0,
        &[("203.0.113.1", 1), ("203.0.113.2", 1), ("203.0.113.3", 1)],
    );
    let table = rust_table(&bs);
    assert_eq!(
        lb.table(vip.id).unwrap().unwrap(),
        table,
        "kernel table == Rust table"
    );
    assert_eq!(lb.expected_table(vip.id).unwrap(), table);

    let mut rng = Rng::new(1);
    let mut per_backend: BTreeMap<IpAddr, usize> = BTreeMap::new();
    let tos = [0u8, 0x10, 0xb8, 0x03];
    for n in 0..300 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        let payload = vec![n as u8; n % 97];
        let input = frame_with(
            &f,
            &payload,
            Ip {
                tos: tos[n % 4],
                df: n % 3 != 0,
            },
        );
        let backend = send_tx_frame(&lb, &input, &cfg);
        let want = addr_of(&bs, predict(&table, &f, 0, &cfg));
        assert_eq!(backend, want, "flow {n}: backend");
        assert_eq!(lb.predict(&f).unwrap(), Some(id_of(&bs, want)));
        // DF is copied from the inner header; TOS too
        let (verdict, out) = run(&lb, &input);
        assert_eq!(verdict, XDP_TX);
        assert_eq!(out[14 + 6] & 0x40 != 0, n % 3 != 0, "outer DF");
        assert_eq!(out[14 + 1], tos[n % 4], "outer TOS");
        *per_backend.entry(backend).or_default() += 1;
    }
    assert_eq!(
        per_backend.len(),
        3,
        "every backend got flows: {per_backend:?}"
    );

    // A minimum-size frame with Ethernet padding: the outer length comes from the
    // inner IP header, the padding stays after the inner packet.
    let f = flow(v4("198.18.7.7"), 40001, vip.service.addr, 80, TCP);
    let mut padded = frame_with(&f, b"", Ip::default());
    assert_eq!(padded.len(), 54);
    padded.extend_from_slice(&[0; 6]);
    let (verdict, out) = run(&lb, &padded);
    assert_eq!(verdict, XDP_TX);
    let want_backend = addr_of(&bs, predict(&table, &f, 0, &cfg));
    assert_eq!(hex(&out), hex(&expected_encap(&padded, want_backend, &cfg)));
    assert_eq!(
        u16::from_be_bytes([out[16], out[17]]),
        20 + 40,
        "outer total length"
    );
    assert_eq!(out.len(), 60 + 20);
}

/// Scenario 2 of issue 7: an IPv6 VIP → IP6IP6 (next header 41); an IPv4 VIP whose backend
/// is IPv6 → an outer IPv6 header with next header 4; an IPv6 VIP with an IPv4 backend → an
/// outer IPv4 header with protocol 41. Traffic class / TOS copied, hop limit from the
/// config, payload length = the inner packet.
#[test]
fn ipv6_vip_and_mixed_families() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (v6, bs6) = setup(
        &mut lb,
        "[2001:db8::10]:443/tcp",
        0,
        &[
            ("2001:db8:1::1", 1),
            ("2001:db8:1::2", 1),
            ("203.0.113.9", 1),
        ],
    );
    let (v4vip, bs4) = setup(&mut lb, "198.51.100.20:443/tcp", 0, &[("2001:db8:1::7", 1)]);
    let t6 = rust_table(&bs6);
    let mut rng = Rng::new(2);
    let mut outer_families = HashSet::new();
    for n in 0..120 {
        let f = flow(rng.client_v6(), rng.port(), v6.service.addr, 443, TCP);
        let input = frame_with(
            &f,
            &vec![0x66; n],
            Ip {
                tos: [0u8, 0x28, 0xb8][n % 3],
                df: true,
            },
        );
        let backend = send_tx_frame(&lb, &input, &cfg);
        assert_eq!(backend, addr_of(&bs6, predict(&t6, &f, 0, &cfg)));
        let (_, out) = run(&lb, &input);
        match backend {
            IpAddr::V6(_) => {
                assert_eq!(&out[12..14], &[0x86, 0xdd]);
                assert_eq!(out[14 + 6], 41, "IP6IP6: next header 41");
                let tc = ((out[14] & 0x0f) << 4) | (out[15] >> 4);
                assert_eq!(tc, [0u8, 0x28, 0xb8][n % 3], "traffic class copied");
            }
            IpAddr::V4(_) => {
                assert_eq!(&out[12..14], &[0x08, 0x00]);
                assert_eq!(out[14 + 9], 41, "IPv6 in IPv4: protocol 41");
                assert_eq!(out[14 + 6] & 0x40, 0x40, "DF for an IPv6 inner packet");
            }
        }
        outer_families.insert(backend.is_ipv6());
    }
    assert_eq!(outer_families.len(), 2, "both outer families seen");

    for n in 0..40 {
        let f = flow(rng.client_v4(), rng.port(), v4vip.service.addr, 443, TCP);
        let input = frame_with(
            &f,
            b"v4 in v6",
            Ip {
                tos: n as u8 * 4,
                df: n % 2 == 0,
            },
        );
        let backend = send_tx_frame(&lb, &input, &cfg);
        assert_eq!(backend, bs4[0].addr);
        let (_, out) = run(&lb, &input);
        assert_eq!(&out[12..14], &[0x86, 0xdd], "outer IPv6");
        assert_eq!(out[14 + 6], 4, "IPv4 in IPv6: next header 4");
        assert_eq!(out[14 + 7], cfg.outer_ttl, "hop limit");
        assert_eq!(
            usize::from(u16::from_be_bytes([out[18], out[19]])),
            input.len() - 14,
            "payload length = inner IPv4 packet"
        );
    }
}

/// Scenario 3 of issue 7: a UDP wildcard VIP (port 0) hashing without the source port:
/// every source port of a client goes to one backend per destination port, the one
/// predicted with sport 0. Without the flag, one client's source ports spread.
#[test]
fn udp_without_source_port() {
    let cfg = config();
    let mut lb = load(&cfg);
    let backends = [
        ("203.0.113.31", 1),
        ("203.0.113.32", 1),
        ("203.0.113.33", 1),
        ("2001:db8:1::34", 1),
    ];
    let (vip, bs) = setup(&mut lb, "198.51.100.30/udp", F_HASH_NO_SPORT, &backends);
    let (plain, bs_plain) = setup(&mut lb, "198.51.100.31:53/udp", 0, &backends);
    let table = rust_table(&bs);
    let mut rng = Rng::new(3);
    let mut chosen = HashSet::new();
    for _client in 0..8 {
        let src = rng.client_v4();
        for dport in [53u16, 5353] {
            let mut seen = HashSet::new();
            for i in 0..20u16 {
                let f = flow(src, 1024 + 97 * i, vip.service.addr, dport, UDP);
                let b = send_tx(&lb, &f, &cfg);
                assert_eq!(b, addr_of(&bs, predict(&table, &f, F_HASH_NO_SPORT, &cfg)));
                let mut no_sport = f;
                no_sport.sport = 0;
                assert_eq!(
                    b,
                    addr_of(&bs, predict(&table, &no_sport, 0, &cfg)),
                    "the hash is the one of source port 0"
                );
                seen.insert(b);
            }
            assert_eq!(seen.len(), 1, "one backend for {src} -> :{dport}");
            chosen.extend(seen);
        }
    }
    assert!(chosen.len() >= 2, "clients spread over backends");
    let src = rng.client_v4();
    let t_plain = rust_table(&bs_plain);
    let mut seen = HashSet::new();
    for i in 0..20u16 {
        let f = flow(src, 1024 + 97 * i, plain.service.addr, 53, UDP);
        let b = send_tx(&lb, &f, &cfg);
        assert_eq!(b, addr_of(&bs_plain, predict(&t_plain, &f, 0, &cfg)));
        seen.insert(b);
    }
    assert!(
        seen.len() >= 2,
        "with the source port in the hash, ports spread"
    );
}

/// Scenario 4 of issue 7: 10,000 flows (a fixed, seeded set): every flow's backend and the
/// per-backend counts equal the Rust prediction exactly; with weights 1:2:3 the shares are
/// within 1 percentage point of 1/6, 2/6, 3/6 (the table's slot shares within 3 slots of
/// them); the kernel's per-backend counters equal the counts.
#[test]
fn ten_thousand_flows_follow_the_weights() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, bs) = setup(
        &mut lb,
        "198.51.100.40:80/tcp",
        0,
        &[
            ("203.0.113.41", 1),
            ("203.0.113.42", 2),
            ("203.0.113.43", 3),
        ],
    );
    let table = rust_table(&bs);
    assert_eq!(lb.table(vip.id).unwrap().unwrap(), table);
    let slots: HashMap<u32, usize> = maglev::slot_counts(&table).into_iter().collect();
    for b in &bs {
        let want = maglev::SIZE * b.weight as usize / 6;
        assert!(slots[&b.id].abs_diff(want) <= 3, "slots {slots:?}");
    }

    let mut rng = Rng::new(2024);
    let mut flows = HashSet::new();
    let mut predicted: HashMap<u32, u64> = HashMap::new();
    let mut got: HashMap<u32, u64> = HashMap::new();
    while flows.len() < 10_000 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        if !flows.insert((f.src, f.sport)) {
            continue;
        }
        let want = predict(&table, &f, 0, &cfg);
        *predicted.entry(want).or_default() += 1;
        let b = id_of(&bs, send_tx(&lb, &f, &cfg));
        assert_eq!(b, want, "flow {f:?}");
        *got.entry(b).or_default() += 1;
    }
    assert_eq!(got, predicted);
    let mut shares = Vec::new();
    for b in &bs {
        let share = got[&b.id] as f64 / 10_000.0;
        let want = f64::from(b.weight) / 6.0;
        shares.push((b.weight, got[&b.id], share));
        assert!(
            (share - want).abs() < 0.01,
            "weight {}: share {share:.4}, want {want:.4} ± 0.01",
            b.weight
        );
        let s = backend_stats(&lb, b.id);
        assert_eq!((s.new_flows, s.packets), (got[&b.id], got[&b.id]));
    }
    println!("weights 1:2:3 over 10,000 flows: {shares:?}");
    let v = vip_stats(&lb, vip.id);
    assert_eq!((v.packets, v.new_flows, v.ct_hits), (10_000, 10_000, 0));
}

/// Scenario 5 of issue 7, stickiness: after a backend is added (a new table, built in a
/// fresh inner map and swapped in with one update), every tracked flow stays on its backend
/// (conntrack hits counted) — also the ones the new table would send elsewhere — while new
/// flows follow the new table. The replaced inner map is unchanged: the new table was never
/// written into the live one.
#[test]
fn flows_stick_across_a_table_change() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, bs) = setup(
        &mut lb,
        "198.51.100.50:80/tcp",
        0,
        &[("203.0.113.51", 1), ("203.0.113.52", 1)],
    );
    let old_table = rust_table(&bs);
    let mut rng = Rng::new(5);
    let mut tracked = Vec::new();
    for _ in 0..300 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        let b = send_tx(&lb, &f, &cfg);
        assert_eq!(b, addr_of(&bs, predict(&old_table, &f, 0, &cfg)));
        assert_eq!(lb.conntrack(&f).unwrap().unwrap().backend_id, id_of(&bs, b));
        tracked.push((f, b));
    }
    let before = vip_stats(&lb, vip.id);
    assert_eq!((before.new_flows, before.ct_hits), (300, 0));

    let old_handle = lb.table_handle(vip.id).unwrap();
    let added = lb.add_backend(&vip.service, v4("203.0.113.53"), 1).unwrap();
    let bs2 = lb.backends_of(vip.id).unwrap();
    let new_table = rust_table(&bs2);
    assert_ne!(old_table, new_table);
    assert_eq!(
        lb::control::table_of(&old_handle).unwrap(),
        old_table,
        "the replaced inner map is untouched"
    );
    assert_eq!(
        lb.table(vip.id).unwrap().unwrap(),
        new_table,
        "the live table is the new one"
    );

    let mut would_move = 0;
    for (f, b) in &tracked {
        if addr_of(&bs2, predict(&new_table, f, 0, &cfg)) != *b {
            would_move += 1;
        }
        assert_eq!(send_tx(&lb, f, &cfg), *b, "tracked flow {f:?} stays");
    }
    assert!(
        would_move > 50,
        "the new table moves many of these flows ({would_move})"
    );
    let after = vip_stats(&lb, vip.id);
    assert_eq!(
        (after.new_flows, after.ct_hits),
        (300, 300),
        "conntrack hits counted"
    );

    let mut on_new = 0;
    for _ in 0..300 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        let b = send_tx(&lb, &f, &cfg);
        assert_eq!(b, addr_of(&bs2, predict(&new_table, &f, 0, &cfg)));
        on_new += usize::from(b == added.addr);
    }
    assert!(on_new > 50, "new flows reach the new backend ({on_new})");
    println!(
        "stickiness: {would_move} of 300 tracked flows stayed although the new table \
         moves them; {on_new} of 300 new flows on the new backend"
    );
}

/// Scenario 6 of issue 7. Drain: tracked flows keep their backend; no new flow lands on it.
/// Remove: its flows move (to the prediction without it) and `ct_stale` rises by their
/// number, then they stick to their new backend.
#[test]
fn drain_then_remove() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, bs) = setup(
        &mut lb,
        "198.51.100.60:80/tcp",
        0,
        &[
            ("203.0.113.61", 1),
            ("203.0.113.62", 1),
            ("203.0.113.63", 1),
        ],
    );
    let table = rust_table(&bs);
    let mut rng = Rng::new(6);
    let mut tracked = Vec::new();
    for _ in 0..300 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        let b = send_tx(&lb, &f, &cfg);
        assert_eq!(b, addr_of(&bs, predict(&table, &f, 0, &cfg)));
        tracked.push((f, b));
    }
    let victim = bs[1].addr;
    let on_victim: Vec<Flow> = tracked
        .iter()
        .filter(|(_, b)| *b == victim)
        .map(|(f, _)| *f)
        .collect();
    assert!(on_victim.len() > 50);

    lb.drain_backend(&vip.service, victim).unwrap();
    let drained = lb.backends_of(vip.id).unwrap();
    assert_eq!(
        drained.iter().find(|b| b.addr == victim).unwrap().state,
        lb_backend_state::LB_BACKEND_DRAINING
    );
    let t_drain = rust_table(&drained);
    assert!(
        t_drain.iter().all(|&id| id != bs[1].id),
        "drained: out of the table"
    );
    assert_eq!(lb.table(vip.id).unwrap().unwrap(), t_drain);
    for (f, b) in &tracked {
        assert_eq!(send_tx(&lb, f, &cfg), *b, "old flows keep their backend");
    }
    for _ in 0..500 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        let b = send_tx(&lb, &f, &cfg);
        assert_ne!(b, victim, "a new flow landed on the draining backend");
        assert_eq!(b, addr_of(&drained, predict(&t_drain, &f, 0, &cfg)));
    }
    let v = vip_stats(&lb, vip.id);
    assert_eq!((v.new_flows, v.ct_hits, v.ct_stale), (800, 300, 0));

    lb.del_backend(&vip.service, victim).unwrap();
    let left = lb.backends_of(vip.id).unwrap();
    assert_eq!(left.len(), 2);
    let t_left = rust_table(&left);
    assert_eq!(lb.table(vip.id).unwrap().unwrap(), t_left);
    for f in &on_victim {
        let b = send_tx(&lb, f, &cfg);
        assert_ne!(b, victim);
        assert_eq!(b, addr_of(&left, predict(&t_left, f, 0, &cfg)), "re-hashed");
    }
    let v = vip_stats(&lb, vip.id);
    assert_eq!(
        v.ct_stale,
        on_victim.len() as u64,
        "stale counter = moved flows"
    );
    assert_eq!(global_stats(&lb).ct_stale, on_victim.len() as u64);
    for f in &on_victim {
        send_tx(&lb, f, &cfg);
    }
    let v2 = vip_stats(&lb, vip.id);
    assert_eq!(
        v2.ct_hits,
        v.ct_hits + on_victim.len() as u64,
        "then they stick"
    );
    assert_eq!(v2.ct_stale, v.ct_stale);
    println!(
        "drain/remove: {} flows moved off the removed backend",
        on_victim.len()
    );
}

/// Scenario 7 of issue 7: a VIP without backends drops (NO_BACKEND, counted for the VIP and
/// globally), also after its last backend is removed. Non-VIP TCP, a VIP address on another
/// port, ARP, ICMP and ICMPv6 echo pass with the frame unchanged, counted.
#[test]
fn no_backend_drops_and_non_vip_passes() {
    let cfg = config();
    let mut lb = load(&cfg);
    let vip = lb.add_vip(svc("198.51.100.70:80/tcp"), 0).unwrap();
    let v6 = lb.add_vip(svc("[2001:db8::70]:80/tcp"), 0).unwrap();
    let mut rng = Rng::new(7);
    for _ in 0..5 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        assert_eq!(run(&lb, &frame(&f)).0, XDP_DROP);
    }
    lb.add_backend(&vip.service, v4("203.0.113.71"), 1).unwrap();
    let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
    send_tx(&lb, &f, &cfg);
    lb.del_backend(&vip.service, v4("203.0.113.71")).unwrap();
    assert!(lb.table(vip.id).unwrap().unwrap().iter().all(|&b| b == 0));
    for _ in 0..3 {
        let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
        assert_eq!(run(&lb, &frame(&f)).0, XDP_DROP);
    }
    let f6 = flow(rng.client_v6(), rng.port(), v6.service.addr, 80, TCP);
    assert_eq!(run(&lb, &frame(&f6)).0, XDP_DROP);
    let v = vip_stats(&lb, vip.id);
    assert_eq!(v.drops[D_NO_BACKEND], 8);
    assert_eq!(vip_stats(&lb, v6.id).drops[D_NO_BACKEND], 1);
    let g0 = global_stats(&lb);
    assert_eq!(g0.drops[D_NO_BACKEND], 9);

    let passes: Vec<(Vec<u8>, bool)> = vec![
        (
            frame(&flow(v4("198.18.0.9"), 999, v4("198.51.100.99"), 80, TCP)),
            false,
        ),
        (
            frame(&flow(v4("198.18.0.9"), 999, vip.service.addr, 81, TCP)),
            false,
        ),
        (
            frame(&flow(v4("198.18.0.9"), 999, vip.service.addr, 80, UDP)),
            false,
        ),
        (icmp_echo(v4("198.18.0.9"), vip.service.addr), false),
        (
            icmp_echo("2001:db8:c::9".parse().unwrap(), v6.service.addr),
            false,
        ),
        (arp_frame(), true),
    ];
    for (input, _) in &passes {
        let (verdict, out) = run(&lb, input);
        assert_eq!(verdict, XDP_PASS, "{}", hex(input));
        assert_eq!(&out, input, "XDP_PASS leaves the frame unchanged");
    }
    let g = global_stats(&lb);
    assert_eq!(g.pass_non_ip - g0.pass_non_ip, 1, "ARP");
    assert_eq!(g.pass_non_vip - g0.pass_non_vip, 5);
    assert_eq!(g.tx_packets, 1);
}

/// Removing VIPs: `lb_vip_addrs` counts the VIPs of an address (fragments to it drop
/// while one is left, pass once the last is gone); a removed VIP's traffic passes as
/// non-VIP, its backends are REMOVED and its table emptied; its id is reused.
#[test]
fn vip_removal_maintains_lb_vip_addrs() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (web, _) = setup(&mut lb, "198.51.100.85:80/tcp", 0, &[("203.0.113.85", 1)]);
    let (dns, _) = setup(&mut lb, "198.51.100.85:53/udp", 0, &[("203.0.113.86", 1)]);
    let addr = web.service.addr;
    assert_eq!(lb.vip_addr_count(addr).unwrap(), 2);
    let f = flow(v4("198.18.2.2"), 2000, addr, 80, TCP);
    let mut fragment = frame(&f);
    fragment[20..22].copy_from_slice(&0x2000u16.to_be_bytes()); // MF
    fix_ipv4_checksum(&mut fragment);
    assert_eq!(run(&lb, &fragment).0, XDP_DROP);
    send_tx(&lb, &f, &cfg);

    lb.del_vip(&web.service).unwrap();
    assert_eq!(lb.vip_addr_count(addr).unwrap(), 1);
    assert!(lb.vip(&web.service).unwrap().is_none());
    assert!(lb.backends_of(web.id).unwrap().is_empty());
    assert!(lb.table(web.id).unwrap().unwrap().iter().all(|&b| b == 0));
    let (verdict, out) = run(&lb, &frame(&f));
    assert_eq!(
        (verdict, out),
        (XDP_PASS, frame(&f)),
        "no VIP: passes unchanged"
    );
    assert_eq!(
        run(&lb, &fragment).0,
        XDP_DROP,
        "still a VIP address (53/udp)"
    );

    lb.del_vip(&dns.service).unwrap();
    assert_eq!(
        lb.vip_addr_count(addr).unwrap(),
        0,
        "the entry goes with the last VIP"
    );
    assert_eq!(run(&lb, &fragment).0, XDP_PASS, "no longer a VIP address");
    assert!(lb.vips().unwrap().is_empty());
    assert!(lb.del_vip(&dns.service).is_err());

    let again = lb.add_vip(svc("198.51.100.86:80/tcp"), 0).unwrap();
    assert_eq!(again.id, 0, "the lowest free id is reused");
    assert_eq!(vip_stats(&lb, again.id).packets, 0, "with zeroed counters");
    let f2 = flow(v4("198.18.2.3"), 2001, again.service.addr, 80, TCP);
    assert_eq!(
        run(&lb, &frame(&f2)).0,
        XDP_DROP,
        "and an empty table: no backend"
    );
}

/// `add_backend` on a backend the VIP has changes its weight (same id) and re-activates
/// a draining one; every table installed equals the Rust table of the new set.
#[test]
fn weight_change_and_reactivation() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, bs) = setup(
        &mut lb,
        "198.51.100.87:80/tcp",
        0,
        &[("203.0.113.87", 1), ("203.0.113.88", 1)],
    );
    let share = |lb: &Lb, id: u32| {
        let t = lb.table(vip.id).unwrap().unwrap();
        t.iter().filter(|&&b| b == id).count() as f64 / maglev::SIZE as f64
    };
    assert!((share(&lb, bs[1].id) - 0.5).abs() < 1e-3);
    let b = lb.add_backend(&vip.service, bs[1].addr, 3).unwrap();
    assert_eq!(b.id, bs[1].id, "same backend, new weight");
    assert!((share(&lb, bs[1].id) - 0.75).abs() < 1e-3);
    assert_eq!(
        lb.table(vip.id).unwrap().unwrap(),
        rust_table(&lb.backends_of(vip.id).unwrap())
    );
    lb.drain_backend(&vip.service, bs[1].addr).unwrap();
    assert_eq!(share(&lb, bs[1].id), 0.0);
    let b = lb.add_backend(&vip.service, bs[1].addr, 1).unwrap();
    assert_eq!(
        (b.id, b.state),
        (bs[1].id, lb_backend_state::LB_BACKEND_ACTIVE)
    );
    assert_eq!(lb.table(vip.id).unwrap().unwrap(), rust_table(&bs));
}

/// Scenario 8 of issue 7: truncated frames of every length from 14 up to a full header
/// (TCP/IPv4, TCP/IPv6, UDP/IPv4, IPv4 with options), IPv4 options, IPv4 and IPv6
/// fragments, IPv6 hop-by-hop, malformed and over-long IP lengths: all XDP_DROP with the
/// right reason counted, never XDP_ABORTED, and never an error from the test run.
#[test]
fn truncated_options_and_fragments_drop() {
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, _) = setup(&mut lb, "198.51.100.80:80/tcp", 0, &[("203.0.113.81", 1)]);
    let (v6, _) = setup(
        &mut lb,
        "[2001:db8::80]:80/tcp",
        0,
        &[("2001:db8:1::81", 1)],
    );
    let (udp, _) = setup(&mut lb, "198.51.100.80:53/udp", 0, &[("203.0.113.82", 1)]);
    let c4 = v4("198.18.1.1");
    let c6: IpAddr = "2001:db8:c::1".parse().unwrap();
    let mut want = [0u64; 7];
    let drop = |lb: &Lb, input: &[u8], reason: usize, want: &mut [u64; 7]| {
        let (verdict, _) = run(lb, input);
        assert_eq!(verdict, XDP_DROP, "reason {reason}: {}", hex(input));
        want[reason] += 1;
    };

    let full4 = frame_with(
        &flow(c4, 1000, vip.service.addr, 80, TCP),
        b"",
        Ip::default(),
    );
    assert_eq!(full4.len(), 54);
    for n in 14..full4.len() {
        drop(&lb, &full4[..n], D_TRUNCATED, &mut want);
    }
    let full6 = frame_with(
        &flow(c6, 1000, v6.service.addr, 80, TCP),
        b"",
        Ip::default(),
    );
    assert_eq!(full6.len(), 74);
    for n in 14..full6.len() {
        drop(&lb, &full6[..n], D_TRUNCATED, &mut want);
    }
    let udp4 = frame_with(
        &flow(c4, 1000, udp.service.addr, 53, UDP),
        b"",
        Ip::default(),
    );
    assert_eq!(udp4.len(), 42);
    for n in 14..udp4.len() {
        drop(&lb, &udp4[..n], D_TRUNCATED, &mut want);
    }

    // IPv4 options (ihl 7): cut inside the options -> TRUNCATED; whole -> IP_OPTIONS
    let mut opt = full4.clone();
    opt.splice(34..34, [1u8, 1, 1, 1, 1, 1, 1, 0]);
    opt[14] = 0x47;
    let tot = u16::from_be_bytes([opt[16], opt[17]]) + 8;
    opt[16..18].copy_from_slice(&tot.to_be_bytes());
    fix_ipv4_checksum(&mut opt);
    for n in 34..42 {
        drop(&lb, &opt[..n], D_TRUNCATED, &mut want);
    }
    drop(&lb, &opt, D_IP_OPTIONS, &mut want);

    // fragments: MF, an offset (TCP and UDP)
    for (frag, proto_frame) in [(0x2000u16, &full4), (0x0010, &full4), (0x0010, &udp4)] {
        let mut fr = proto_frame.clone();
        fr[20..22].copy_from_slice(&frag.to_be_bytes());
        fix_ipv4_checksum(&mut fr);
        drop(&lb, &fr, D_FRAGMENT, &mut want);
    }
    // IPv6 fragment header (44) and hop-by-hop (0) before TCP
    for (nh, reason) in [(44u8, D_FRAGMENT), (0u8, D_IP_OPTIONS)] {
        let mut fr = full6.clone();
        let ext = if nh == 44 {
            [6u8, 0, 0, 1, 0, 0, 0xab, 0xcd]
        } else {
            [6u8, 0, 1, 4, 0, 0, 0, 0]
        };
        fr.splice(54..54, ext);
        fr[14 + 6] = nh;
        let plen = u16::from_be_bytes([fr[18], fr[19]]) + 8;
        fr[18..20].copy_from_slice(&plen.to_be_bytes());
        drop(&lb, &fr, reason, &mut want);
    }
    // malformed: ihl 4; IPv4 total length below the headers (counted for the VIP)
    let mut ihl4 = full4.clone();
    ihl4[14] = 0x44;
    drop(&lb, &ihl4, D_MALFORMED, &mut want);
    let mut short_len = full4.clone();
    short_len[16..18].copy_from_slice(&39u16.to_be_bytes());
    fix_ipv4_checksum(&mut short_len);
    drop(&lb, &short_len, D_MALFORMED, &mut want);
    // the IP length says more than the frame holds (VIP traffic)
    let mut long_len = full4.clone();
    long_len[16..18].copy_from_slice(&200u16.to_be_bytes());
    fix_ipv4_checksum(&mut long_len);
    drop(&lb, &long_len, D_TRUNCATED, &mut want);

    let g = global_stats(&lb);
    assert_eq!(g.drops, want, "global drops by reason");
    assert_eq!(g.tx_packets, 0);
    assert_eq!(g.rx_packets, want.iter().sum::<u64>());
    let v = vip_stats(&lb, vip.id);
    assert_eq!(
        v.drops[D_MALFORMED], 1,
        "only after the VIP lookup: per-VIP"
    );
    assert_eq!(v.drops[D_TRUNCATED], 1);
    println!("drops by reason: {want:?} (40 + 60 + 28 truncated lengths)");
}

fn fix_ipv4_checksum(fr: &mut [u8]) {
    let ihl = usize::from(fr[14] & 0x0f) * 4;
    fr[24..26].copy_from_slice(&[0, 0]);
    let c = !ones_sum(&fr[14..14 + ihl]);
    fr[24..26].copy_from_slice(&c.to_be_bytes());
}

/// Pins the calling thread to one CPU.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity(0) act on
    // this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity({cpu}): {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Scenario 9 of issue 7, counters: frames sent from CPU 0 and from CPU 1 land in those
/// CPUs' per-CPU values; the sums (global, VIP, backend; packets, bytes, tx bytes, the
/// length histogram) equal what was sent, and so does the JSON `lbctl stats --json`
/// prints (`Stats::to_json`).
#[test]
fn counters_are_summed_over_cpus() {
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        online >= 2,
        "this test needs 2 CPUs (it checks per-CPU sums)"
    );
    let cfg = config();
    let mut lb = load(&cfg);
    let (vip, bs) = setup(
        &mut lb,
        "198.51.100.90:80/tcp",
        0,
        &[("203.0.113.91", 1), ("2001:db8:1::92", 1)],
    );
    let table = rust_table(&bs);
    // cargo runs each test on a thread of its own: pinning it moves only this test.
    let mut rng = Rng::new(9);
    let mut sent = Vec::new();
    for (cpu, n) in [(0usize, 37u64), (1, 53)] {
        pin_to_cpu(cpu);
        let (mut bytes, mut tx_bytes) = (0u64, 0u64);
        for i in 0..n as usize {
            let f = flow(rng.client_v4(), rng.port(), vip.service.addr, 80, TCP);
            let input = frame_with(&f, &vec![1; (i * 37) % 1500], Ip::default());
            let (verdict, out) = run(&lb, &input);
            assert_eq!(verdict, XDP_TX);
            let backend = addr_of(&bs, predict(&table, &f, 0, &cfg));
            assert_eq!(hex(&out), hex(&expected_encap(&input, backend, &cfg)));
            bytes += input.len() as u64;
            tx_bytes += out.len() as u64;
        }
        sent.push((cpu, n, bytes, tx_bytes));
    }
    let g = lb.global_stats_per_cpu().unwrap();
    let v = lb.vip_stats_per_cpu(vip.id).unwrap();
    assert_eq!(g.len(), lb::control::possible_cpus().unwrap());
    for &(cpu, n, bytes, tx_bytes) in &sent {
        assert_eq!(
            (g[cpu].rx_packets, g[cpu].rx_bytes),
            (n, bytes),
            "CPU {cpu}"
        );
        assert_eq!(
            (g[cpu].tx_packets, g[cpu].tx_bytes),
            (n, tx_bytes),
            "CPU {cpu}"
        );
        assert_eq!((v[cpu].packets, v[cpu].bytes), (n, bytes), "VIP, CPU {cpu}");
    }
    let total: u64 = sent.iter().map(|s| s.1).sum();
    let bytes: u64 = sent.iter().map(|s| s.2).sum();
    let tx_bytes: u64 = sent.iter().map(|s| s.3).sum();
    let stats = lb.stats().unwrap();
    assert_eq!(stats.global.rx_packets, total);
    assert_eq!(stats.global.rx_bytes, bytes);
    assert_eq!(stats.global.tx_bytes, tx_bytes);
    assert_eq!(stats.global.len_hist.iter().sum::<u64>(), total);
    assert_eq!(stats.vips[0].packets, total);
    assert_eq!(stats.vips[0].bytes, bytes);
    assert_eq!(stats.vips[0].new_flows, total);
    assert_eq!(stats.backends.iter().map(|b| b.packets).sum::<u64>(), total);
    assert_eq!(stats.backends.iter().map(|b| b.bytes).sum::<u64>(), bytes);
    let json: serde_json::Value = serde_json::from_str(&stats.to_json()).unwrap();
    assert_eq!(json["global"]["rx_packets"], total);
    assert_eq!(json["vips"][0]["bytes"], bytes);
    assert_eq!(json["vips"][0]["vip"], "198.51.100.90:80/tcp");
    println!("per-CPU: {sent:?}; summed {total} packets, {bytes} bytes, {tx_bytes} tx bytes");
}
