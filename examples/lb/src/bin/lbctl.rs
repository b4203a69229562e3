//! `lbctl`: the load balancer's command line. State lives in pinned maps under a bpffs
//! directory (`--pin-dir`, `$LBCTL_PIN_DIR`, default `/sys/fs/bpf/lbctl`; see
//! `lb::control` for the layout), so each invocation opens what `lbctl load` pinned.
//! Commands that change state hold an exclusive `flock` on that directory.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use lb::control::{self, Lb};
use lb::{maglev, Config, Service};

#[derive(Parser)]
#[command(
    name = "lbctl",
    about = "Control the XDP L4 load balancer of examples/lb (lb.bpf.o, embedded)",
    after_help = "VIP is ADDRESS:PORT/PROTO: 198.51.100.10:80/tcp, [2001:db8::10]:443/udp; \
                  port 0 (or ADDRESS/PROTO) serves every port of the address."
)]
struct Cli {
    /// The bpffs directory holding the pinned maps and link.
    #[arg(
        long,
        env = "LBCTL_PIN_DIR",
        default_value = "/sys/fs/bpf/lbctl",
        global = true
    )]
    pin_dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load the datapath with its config, attach it to an interface, pin everything.
    Load {
        /// The interface to attach to.
        #[arg(long)]
        iface: String,
        /// Generic (skb) XDP instead of native (driver) XDP.
        #[arg(long)]
        skb: bool,
        /// Attach inside this network namespace (`ip netns` name, /run/netns/NAME).
        #[arg(long)]
        netns: Option<String>,
        /// Outer IPv4 source address.
        #[arg(long, default_value_t = Ipv4Addr::UNSPECIFIED)]
        src_v4: Ipv4Addr,
        /// Outer IPv6 source address.
        #[arg(long, default_value_t = Ipv6Addr::UNSPECIFIED)]
        src_v6: Ipv6Addr,
        /// Flow hash seed (decimal or 0x hex).
        #[arg(long, default_value = "0", value_parser = parse_u32)]
        seed: u32,
        /// Outer Ethernet destination (default: the received frame's source MAC).
        #[arg(long, value_parser = parse_mac)]
        gw_mac: Option<[u8; 6]>,
        /// Outer IPv4 TTL / IPv6 hop limit.
        #[arg(long, default_value_t = 64)]
        ttl: u8,
        /// UDP conntrack idle timeout in seconds (0 = never).
        #[arg(long, default_value_t = 30)]
        udp_timeout: u64,
    },
    /// Detach and remove every pin.
    Unload,
    /// Show the config, VIPs and backends.
    Show,
    /// Add or remove virtual services.
    #[command(subcommand)]
    Vip(VipCmd),
    /// Add, remove or drain the backends of a VIP.
    #[command(subcommand)]
    Backend(BackendCmd),
    /// Counters summed over CPUs: global, per VIP, per backend.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Inspect Maglev tables.
    #[command(subcommand)]
    Maglev(MaglevCmd),
}

#[derive(Subcommand)]
enum VipCmd {
    /// Add a VIP (no backends yet: its packets drop until one is added).
    Add {
        vip: Service,
        /// Hash without the client's source port (all of a client's connections
        /// go to one backend).
        #[arg(long)]
        no_sport: bool,
    },
    /// Remove a VIP and its backends.
    Del { vip: Service },
}

#[derive(Subcommand)]
enum BackendCmd {
    /// Add a backend to a VIP (or re-activate it / change its weight).
    Add {
        vip: Service,
        addr: IpAddr,
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65536))]
        weight: u32,
    },
    /// Remove a backend: its flows move to the others (counted as stale).
    Del { vip: Service, addr: IpAddr },
    /// Drain a backend: its flows stay, no new flow goes to it.
    Drain { vip: Service, addr: IpAddr },
}

#[derive(Subcommand)]
enum MaglevCmd {
    /// Print a VIP's live Maglev table: slots per backend, and with --full every slot.
    Dump {
        vip: Service,
        /// Every slot, one `slot backend_id` line each.
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
}

fn parse_u32(s: &str) -> Result<u32, String> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!(
            "{s}: expected a MAC address like 02:00:00:00:cc:03"
        ));
    }
    let mut mac = [0u8; 6];
    for (m, p) in mac.iter_mut().zip(parts) {
        *m = u8::from_str_radix(p, 16).map_err(|e| format!("{s}: {e}"))?;
    }
    Ok(mac)
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// An exclusive lock on the pin directory, held (until dropped) while a command
/// changes state.
fn lock(dir: &Path) -> Res<std::fs::File> {
    let f = std::fs::File::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!(
            "flock {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        )
        .into());
    }
    Ok(f)
}

fn enter_netns(name: &str) -> Res<()> {
    let path = Path::new("/run/netns").join(name);
    let f = std::fs::File::open(&path).map_err(|e| format!("network namespace {name}: {e}"))?;
    // SAFETY: setns on a descriptor of a namespace file this function opened; it
    // switches the calling thread (lbctl is single-threaded).
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "setns {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )
        .into());
    }
    Ok(())
}

fn run(cli: Cli) -> Res<()> {
    let dir = cli.pin_dir.as_path();
    match cli.cmd {
        Cmd::Load {
            iface,
            skb,
            netns,
            src_v4,
            src_v6,
            seed,
            gw_mac,
            ttl,
            udp_timeout,
        } => {
            let config = Config {
                src_v4,
                src_v6,
                hash_seed: seed,
                gw_mac: gw_mac.unwrap_or([0; 6]),
                outer_ttl: ttl,
                udp_timeout: Duration::from_secs(udp_timeout),
            };
            if let Some(ns) = &netns {
                enter_netns(ns)?;
            }
            let mut lb = Lb::load_pinned(&config, dir)?;
            if let Err(e) = lb.attach(&iface, skb) {
                drop(lb);
                let _ = Lb::unload(dir);
                return Err(e.into());
            }
            println!(
                "loaded lb_xdp on {iface}{} ({} mode), pinned under {}",
                netns.map(|n| format!(" in netns {n}")).unwrap_or_default(),
                if skb { "skb" } else { "native" },
                dir.display()
            );
        }
        Cmd::Unload => {
            Lb::unload(dir)?;
            println!("unloaded: removed the pins under {}", dir.display());
        }
        Cmd::Show => {
            let lb = Lb::open(dir)?;
            let c = Config::from_bpf(lb.config());
            println!(
                "config: src {} / {}, seed {:#x}, gw_mac {}, ttl {}, udp timeout {:?}",
                c.src_v4,
                c.src_v6,
                c.hash_seed,
                if c.gw_mac == [0; 6] {
                    "(sender)".to_string()
                } else {
                    c.gw_mac.map(|b| format!("{b:02x}")).join(":")
                },
                c.outer_ttl,
                c.udp_timeout
            );
            let backends = lb.backends()?;
            for v in lb.vips()? {
                println!(
                    "vip {} {}{}",
                    v.id,
                    v.service,
                    if v.flags & lb::hash::F_HASH_NO_SPORT != 0 {
                        " (hash without source port)"
                    } else {
                        ""
                    }
                );
                for b in backends.iter().filter(|b| b.vip_id == v.id) {
                    println!(
                        "  backend {} {} weight {} {}",
                        b.id,
                        b.addr,
                        b.weight,
                        b.state_name()
                    );
                }
            }
        }
        Cmd::Vip(VipCmd::Add { vip, no_sport }) => {
            let _l = lock(dir)?;
            let mut lb = Lb::open(dir)?;
            let flags = if no_sport {
                lb::hash::F_HASH_NO_SPORT
            } else {
                0
            };
            let v = lb.add_vip(vip, flags)?;
            println!("vip {} {} added", v.id, v.service);
        }
        Cmd::Vip(VipCmd::Del { vip }) => {
            let _l = lock(dir)?;
            let mut lb = Lb::open(dir)?;
            lb.del_vip(&vip)?;
            println!("vip {vip} removed");
        }
        Cmd::Backend(BackendCmd::Add { vip, addr, weight }) => {
            let _l = lock(dir)?;
            let mut lb = Lb::open(dir)?;
            let b = lb.add_backend(&vip, addr, weight)?;
            println!(
                "backend {} {} weight {} active on {vip}",
                b.id, b.addr, b.weight
            );
        }
        Cmd::Backend(BackendCmd::Del { vip, addr }) => {
            let _l = lock(dir)?;
            let mut lb = Lb::open(dir)?;
            let b = lb.del_backend(&vip, addr)?;
            println!("backend {} {} removed from {vip}", b.id, b.addr);
        }
        Cmd::Backend(BackendCmd::Drain { vip, addr }) => {
            let _l = lock(dir)?;
            let mut lb = Lb::open(dir)?;
            let b = lb.drain_backend(&vip, addr)?;
            println!("backend {} {} draining on {vip}", b.id, b.addr);
        }
        Cmd::Stats { json } => {
            let lb = Lb::open(dir)?;
            let s = lb.stats()?;
            if json {
                println!("{}", s.to_json());
            } else {
                print!("{}", s.to_text());
            }
        }
        Cmd::Maglev(MaglevCmd::Dump { vip, full, json }) => {
            let lb = Lb::open(dir)?;
            let v = lb.vip(&vip)?.ok_or_else(|| format!("no VIP {vip}"))?;
            let table = lb.table(v.id)?.unwrap_or_default();
            let counts = maglev::slot_counts(&table);
            if json {
                let backends: Vec<serde_json::Value> = counts
                    .iter()
                    .map(|(id, n)| serde_json::json!({"backend_id": id, "slots": n}))
                    .collect();
                let out = serde_json::json!({
                    "vip": vip.to_string(),
                    "vip_id": v.id,
                    "size": table.len(),
                    "backends": backends,
                    "slots": table,
                });
                println!("{out}");
            } else {
                println!("vip {} {}: {} slots", v.id, vip, table.len());
                for (id, n) in &counts {
                    let label = if *id == 0 {
                        "(none)".to_string()
                    } else {
                        format!("backend {id}")
                    };
                    println!(
                        "  {label:<14} {n:>6} slots  {:6.2}%",
                        100.0 * *n as f64 / table.len().max(1) as f64
                    );
                }
                if full {
                    for (slot, id) in table.iter().enumerate() {
                        println!("{slot} {id}");
                    }
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbctl: error: {}", control::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
