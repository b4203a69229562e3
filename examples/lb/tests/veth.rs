//! Scenario 10 of issue 7: the load balancer on a real interface: a veth pair between two
//! network namespaces this test creates (and deletes), `lbctl` (the binary) loading lb_xdp
//! in generic (skb) mode on one end and configuring it through its pinned maps, real frames
//! sent from the other namespace with an AF_PACKET socket, and the encapsulated frames
//! XDP_TX sends back captured there and checked byte for byte.
//!
//! Bounded: 50 VIP frames and 5 others, a 5-second capture deadline. The namespaces have no
//! IP addresses and no routes; nothing leaves them. Needs root.

mod common;

use std::ffi::CString;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use lb::{maglev, Lb};

const LBCTL: &str = env!("CARGO_BIN_EXE_lbctl");

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]));
    assert!(
        out.status.success(),
        "`{}` failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The test's namespaces and pins; removed on drop, also when the test fails.
struct Env {
    ns_lb: String,
    ns_cl: String,
    if_lb: String,
    if_cl: String,
    pins: PathBuf,
}

impl Env {
    fn lbctl(&self, args: &[&str]) -> String {
        let pin = self.pins.to_str().unwrap();
        let mut all = vec![LBCTL, "--pin-dir", pin];
        all.extend_from_slice(args);
        sh(&all)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = Command::new(LBCTL)
            .args(["--pin-dir", self.pins.to_str().unwrap(), "unload"])
            .output();
        for ns in [&self.ns_lb, &self.ns_cl] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

fn mac(m: [u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

/// In namespace `ns`, on interface `iface`: sends `frames` with an AF_PACKET socket,
/// then returns every frame received (not our own outgoing ones) until `want` have
/// arrived and 300 ms passed without another, or 5 s passed.
fn send_and_capture(ns: &str, iface: &str, frames: Vec<Vec<u8>>, want: usize) -> Vec<Vec<u8>> {
    let ns = ns.to_string();
    let iface = iface.to_string();
    std::thread::spawn(move || {
        let nsf = std::fs::File::open(format!("/run/netns/{ns}")).unwrap();
        // SAFETY: plain syscalls on descriptors this thread owns; setns moves only
        // this thread, which ends here.
        unsafe {
            assert_eq!(libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET), 0, "setns");
            let proto = (libc::ETH_P_ALL as u16).to_be();
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto));
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let sock = OwnedFd::from_raw_fd(fd);
            let name = CString::new(iface.clone()).unwrap();
            let ifindex = libc::if_nametoindex(name.as_ptr());
            assert!(ifindex > 0, "no interface {iface} in {ns}");
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = ifindex as i32;
            let r = libc::bind(
                sock.as_raw_fd(),
                std::ptr::from_ref(&sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            );
            assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            };
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&tv).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
            for f in &frames {
                let n = libc::send(sock.as_raw_fd(), f.as_ptr().cast(), f.len(), 0);
                assert_eq!(
                    n,
                    f.len() as isize,
                    "send: {}",
                    std::io::Error::last_os_error()
                );
            }
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(5);
            let mut last = Instant::now();
            let mut buf = vec![0u8; 4096];
            while Instant::now() < deadline {
                if got.len() >= want && last.elapsed() > Duration::from_millis(300) {
                    break;
                }
                let mut from: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    sock.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    std::ptr::from_mut(&mut from).cast(),
                    &mut len,
                );
                if n < 0 {
                    continue; // timeout: look at the deadline again
                }
                if from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                got.push(buf[..n as usize].to_vec());
                last = Instant::now();
            }
            got
        }
    })
    .join()
    .unwrap()
}

#[test]
fn veth_pair_between_two_namespaces_skb_mode() {
    let id = std::process::id();
    let env = Env {
        ns_lb: format!("lbtest{id}l"),
        ns_cl: format!("lbtest{id}c"),
        if_lb: format!("lbt{id}a"),
        if_cl: format!("lbt{id}b"),
        pins: PathBuf::from(format!("/sys/fs/bpf/lbtest_veth_{id}")),
    };
    sh(&["ip", "netns", "add", &env.ns_lb]);
    sh(&["ip", "netns", "add", &env.ns_cl]);
    // No IPv6 in either namespace (set before the veth exists, so it inherits it): no
    // neighbour discovery or MLD frames, so every frame on the pair is one we sent.
    for ns in [&env.ns_lb, &env.ns_cl] {
        sh(&[
            "ip",
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && \
             echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
        ]);
    }
    sh(&[
        "ip", "link", "add", &env.if_lb, "netns", &env.ns_lb, "type", "veth", "peer", "name",
        &env.if_cl, "netns", &env.ns_cl,
    ]);
    sh(&[
        "ip",
        "-n",
        &env.ns_lb,
        "link",
        "set",
        &env.if_lb,
        "address",
        &mac(LB_MAC),
        "up",
    ]);
    sh(&[
        "ip",
        "-n",
        &env.ns_cl,
        "link",
        "set",
        &env.if_cl,
        "address",
        &mac(ROUTER_MAC),
        "up",
    ]);

    let cfg = config();
    let out = env.lbctl(&[
        "load",
        "--iface",
        &env.if_lb,
        "--netns",
        &env.ns_lb,
        "--skb",
        "--src-v4",
        "192.0.2.1",
        "--src-v6",
        "2001:db8:ffff::1",
        "--seed",
        "0x5eed1234",
        "--gw-mac",
        &mac(GW_MAC),
        "--ttl",
        "17",
    ]);
    assert!(out.contains("skb mode"), "{out}");
    let link = sh(&["ip", "-n", &env.ns_lb, "link", "show", &env.if_lb]);
    assert!(
        link.contains("xdpgeneric") && link.contains("lb_xdp"),
        "{link}"
    );

    env.lbctl(&["vip", "add", "198.51.100.110:80/tcp"]);
    env.lbctl(&["vip", "add", "[2001:db8::110]:443/tcp"]);
    for (addr, w) in [
        ("203.0.113.111", "1"),
        ("203.0.113.112", "2"),
        ("2001:db8:1::113", "1"),
    ] {
        env.lbctl(&[
            "backend",
            "add",
            "198.51.100.110:80/tcp",
            addr,
            "--weight",
            w,
        ]);
    }
    env.lbctl(&[
        "backend",
        "add",
        "[2001:db8::110]:443/tcp",
        "2001:db8:1::114",
    ]);
    let show = env.lbctl(&["show"]);
    assert!(
        show.contains("seed 0x5eed1234") && show.contains("ttl 17"),
        "{show}"
    );

    // The state lbctl left in the pins, through the library.
    let lb = Lb::open(&env.pins).unwrap();
    assert_eq!(
        zerocopy::IntoBytes::as_bytes(lb.config()),
        zerocopy::IntoBytes::as_bytes(&cfg.to_bpf()),
        "the pinned .rodata holds the config given to lbctl load"
    );
    let vips = lb.vips().unwrap();
    assert_eq!(vips.len(), 2);
    let backends = lb.backends().unwrap();
    let dump: serde_json::Value =
        serde_json::from_str(&env.lbctl(&["maglev", "dump", "198.51.100.110:80/tcp", "--json"]))
            .unwrap();
    let t4 = lb.expected_table(vips[0].id).unwrap();
    assert_eq!(dump["size"], maglev::SIZE);
    assert_eq!(dump["slots"].as_array().unwrap().len(), maglev::SIZE);
    assert!(dump["slots"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&t4)
        .all(|(a, b)| a.as_u64() == Some(u64::from(*b))));
    let t6 = lb.expected_table(vips[1].id).unwrap();

    // 40 IPv4 and 10 IPv6 flows to the VIPs, 5 TCP frames to another address.
    let mut rng = Rng::new(10);
    let mut frames = Vec::new();
    let mut expected = Vec::new();
    for i in 0..50 {
        let (f, table) = if i < 40 {
            (
                flow(rng.client_v4(), rng.port(), vips[0].service.addr, 80, TCP),
                &t4,
            )
        } else {
            (
                flow(rng.client_v6(), rng.port(), vips[1].service.addr, 443, TCP),
                &t6,
            )
        };
        let input = frame_with(&f, format!("real frame {i}").as_bytes(), Ip::default());
        let backend: IpAddr = addr_of(&backends, predict(table, &f, 0, &cfg));
        expected.push(expected_encap(&input, backend, &cfg));
        frames.push(input);
    }
    for _ in 0..5 {
        let f = flow(
            rng.client_v4(),
            rng.port(),
            "198.51.100.99".parse().unwrap(),
            80,
            TCP,
        );
        frames.push(frame(&f));
    }
    let mut got = send_and_capture(&env.ns_cl, &env.if_cl, frames, expected.len());
    got.sort();
    expected.sort();
    assert_eq!(got.len(), expected.len(), "captured {} frames", got.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(hex(g), hex(e), "captured frame differs from the model");
    }

    let stats: serde_json::Value = serde_json::from_str(&env.lbctl(&["stats", "--json"])).unwrap();
    assert_eq!(stats["vips"][0]["packets"], 40);
    assert_eq!(stats["vips"][1]["packets"], 10);
    assert_eq!(stats["global"]["tx_packets"], 50);
    assert_eq!(stats["global"]["pass_non_vip"], 5);
    assert_eq!(stats["global"]["rx_packets"], 55);
    let per_backend: u64 = stats["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["new_flows"].as_u64().unwrap())
        .sum();
    assert_eq!(per_backend, 50);
    drop(lb);

    env.lbctl(&["unload"]);
    let link = sh(&["ip", "-n", &env.ns_lb, "link", "show", &env.if_lb]);
    assert!(!link.contains("xdp"), "unload detached the program: {link}");
    assert!(!env.pins.exists());
}
