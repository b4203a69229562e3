//! The load balancer's benchmark (run by `examples/lb/bench.sh`; never in CI; root).
//!
//! Datapath: the kernel's own measurement (`BPF_PROG_TEST_RUN`'s `duration`, one
//! packet per call: repeat 1, as the datapath rewrites the frame) over many calls, for
//! a VIP hit with a conntrack hit, a VIP miss, and a new flow (conntrack miss, Maglev
//! lookup, conntrack insert). Control plane: rebuilding a VIP's 65,537-slot table
//! (Rust Maglev), writing it into a fresh inner map, and the one swap update.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use aya::programs::{TestRun, TestRunOptions};
use lb::net::Flow;
use lb::{maglev, Config, Lb, Service};

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;

fn frame(f: &Flow) -> Vec<u8> {
    // Ethernet + IPv4/IPv6 + TCP (20) + 64 bytes of payload, built by hand here (no
    // dev-dependency in an example binary); the tests build theirs with etherparse.
    let mut v = vec![2, 0, 0, 0, 0xaa, 1, 2, 0, 0, 0, 0xbb, 2];
    let payload = [0x5au8; 64];
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&f.sport.to_be_bytes());
    tcp.extend_from_slice(&f.dport.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(&payload);
    match (f.src, f.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            v.extend_from_slice(&[0x08, 0x00]);
            let tot = (20 + tcp.len()) as u16;
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&tot.to_be_bytes());
            h.extend_from_slice(&[0, 0, 0x40, 0, 64, f.proto, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            v.extend_from_slice(&h);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
            v.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            v.extend_from_slice(&[f.proto, 64]);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
        }
        _ => unreachable!(),
    }
    v.extend_from_slice(&tcp);
    v
}

struct Row {
    case: &'static str,
    calls: usize,
    mean_ns: f64,
    median_ns: u64,
    p99_ns: u64,
    wall_ns: f64,
}

fn run_case(
    lb: &Lb,
    case: &'static str,
    frames: &mut dyn FnMut(usize) -> Vec<u8>,
    calls: usize,
    want: u32,
) -> Row {
    let prog = lb.program().unwrap();
    let mut durs = Vec::with_capacity(calls);
    let mut out = vec![0u8; 512];
    let inputs: Vec<Vec<u8>> = (0..calls).map(&mut *frames).collect();
    let t0 = Instant::now();
    for input in &inputs {
        let r = prog
            .test_run(TestRunOptions {
                data_in: Some(input),
                data_out: Some(&mut out),
                repeat: 1,
                ..Default::default()
            })
            .expect("test run");
        assert_eq!(r.return_value, want, "{case}");
        durs.push(r.duration.as_nanos() as u64);
    }
    let wall = t0.elapsed();
    let mean = durs.iter().sum::<u64>() as f64 / calls as f64;
    durs.sort_unstable();
    Row {
        case,
        calls,
        mean_ns: mean,
        median_ns: durs[calls / 2],
        p99_ns: durs[calls * 99 / 100],
        wall_ns: wall.as_nanos() as f64 / calls as f64,
    }
}

fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; this thread only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn client(i: usize) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::from(
        0xc612_0000 | (i as u32 & 0x1_ffff),
    ))
}

fn main() {
    let calls: usize = std::env::var("LB_BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    pin_to_cpu(1);
    let cfg = Config {
        src_v4: "192.0.2.1".parse().unwrap(),
        src_v6: "2001:db8:ffff::1".parse().unwrap(),
        hash_seed: 0x5eed_1234,
        ..Config::default()
    };
    let mut lb = Lb::load(&cfg).unwrap_or_else(|e| panic!("load: {e} (run as root)"));
    let vip: Service = "198.51.100.10:80/tcp".parse().unwrap();
    let vip6: Service = "[2001:db8::10]:80/tcp".parse().unwrap();
    lb.add_vip(vip, 0).unwrap();
    lb.add_vip(vip6, 0).unwrap();
    for i in 1..=10u8 {
        lb.add_backend(&vip, format!("203.0.113.{i}").parse().unwrap(), 1)
            .unwrap();
        lb.add_backend(&vip6, format!("2001:db8:1::{i}").parse().unwrap(), 1)
            .unwrap();
    }
    let f0 = Flow {
        src: client(1),
        dst: vip.addr,
        sport: 40000,
        dport: 80,
        proto: 6,
    };
    let f6 = Flow {
        src: "2001:db8:c::1".parse().unwrap(),
        dst: vip6.addr,
        sport: 40000,
        dport: 80,
        proto: 6,
    };
    let miss = Flow {
        dst: "198.51.100.99".parse().unwrap(),
        ..f0
    };
    let new_calls = calls.min(60_000); // distinct flows, below the LRU's 65,536
    let mut rows = Vec::new();
    // warm up (and create the tracked flows)
    run_case(&lb, "warm-up", &mut |_| frame(&f0), 1000, XDP_TX);
    run_case(&lb, "warm-up", &mut |_| frame(&f6), 10, XDP_TX);
    rows.push(run_case(
        &lb,
        "VIP hit, conntrack hit (TCP/IPv4 → IPIP)",
        &mut |_| frame(&f0),
        calls,
        XDP_TX,
    ));
    rows.push(run_case(
        &lb,
        "VIP hit, conntrack hit (TCP/IPv6 → IP6IP6)",
        &mut |_| frame(&f6),
        calls,
        XDP_TX,
    ));
    rows.push(run_case(
        &lb,
        "VIP miss (TCP/IPv4, XDP_PASS)",
        &mut |_| frame(&miss),
        calls,
        XDP_PASS,
    ));
    rows.push(run_case(
        &lb,
        "new flow (conntrack miss + Maglev + insert)",
        &mut |i| {
            frame(&Flow {
                src: client(1000 + i),
                sport: 1024 + (i % 60_000) as u16,
                ..f0
            })
        },
        new_calls,
        XDP_TX,
    ));

    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!(
        "datapath: BPF_PROG_TEST_RUN, repeat 1, one 118/138-byte frame per call, \
         pinned to CPU 1, kernel {}",
        kernel.trim()
    );
    println!();
    println!("| case | calls | mean ns/packet | median | p99 | wall per call (syscall incl.) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {:.0} |",
            r.case, r.calls, r.mean_ns, r.median_ns, r.p99_ns, r.wall_ns
        );
    }

    // Control plane: rebuild + swap of one VIP's table.
    println!();
    println!(
        "control plane: rebuild and swap a {}-slot Maglev table (median of 15, min in parentheses)",
        maglev::SIZE
    );
    println!();
    println!(
        "| backends | compute (Rust Maglev) | fill fresh inner map | swap (1 update) | total |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for (k, n) in [10usize, 100, 1000].into_iter().enumerate() {
        let svc: Service = format!("198.51.100.{}:443/tcp", 100 + k).parse().unwrap();
        let vip = lb.add_vip(svc, 0).unwrap();
        let members: Vec<maglev::Member> = (0..n)
            .map(|i| maglev::Member {
                id: 100 + i as u32,
                addr: IpAddr::V4(std::net::Ipv4Addr::from(0xcb00_7100u32 + i as u32)),
                weight: 1 + (i % 3) as u32,
            })
            .collect();
        let mut samples = Vec::new();
        for _ in 0..15 {
            let t0 = Instant::now();
            let table = maglev::build(&members);
            let compute = t0.elapsed();
            let mut t = lb.install_table(vip.id, &table).unwrap();
            t.compute = compute;
            samples.push(t);
        }
        let med = |f: &dyn Fn(&lb::control::RebuildTimes) -> Duration| {
            let mut v: Vec<Duration> = samples.iter().map(f).collect();
            v.sort();
            (v[v.len() / 2], v[0])
        };
        let ms = |d: (Duration, Duration)| {
            format!(
                "{:.2} ms ({:.2})",
                d.0.as_secs_f64() * 1e3,
                d.1.as_secs_f64() * 1e3
            )
        };
        let us = |d: (Duration, Duration)| {
            format!(
                "{:.1} µs ({:.1})",
                d.0.as_secs_f64() * 1e6,
                d.1.as_secs_f64() * 1e6
            )
        };
        println!(
            "| {n} | {} | {} | {} | {} |",
            ms(med(&|t| t.compute)),
            ms(med(&|t| t.fill)),
            us(med(&|t| t.swap)),
            ms(med(&|t| t.total())),
        );
    }
}
