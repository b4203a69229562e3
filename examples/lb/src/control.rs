//! [`Lb`]: the load balancer's maps and program, loaded by this process or opened
//! from their pins, and every operation of the control plane.
//!
//! Every map is held through the typed handle bpfgen generated for it
//! (`bpf::aya_glue::<map>::Handle`), so keys and values are the generated types; the
//! config is set through the generated `lb_config` and `override_CONFIG` before load.
//!
//! One map is the control plane's own: `lbctl_owners`, an array of `u32` (backend id →
//! 1 + the id of the VIP it serves, 0 = none). The datapath has no notion of which
//! VIP a backend serves (a Maglev table only names ids), but rebuilding a VIP's table
//! needs the list, and pinned maps are where `lbctl` keeps its state.
//!
//! Pinned layout (a bpffs directory, `/sys/fs/bpf/lbctl` for `lbctl`):
//!
//! ```text
//! DIR/link               the XDP bpf_link: the program stays attached while it is pinned
//! DIR/lb_vips … DIR/lb_global_stats   the nine maps of lb.bpf.o, under their C names
//! DIR/rodata             the .rodata map (CONFIG, frozen): read to know the hash seed
//! DIR/lbctl_owners       backend id -> 1 + VIP id
//! ```

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aya::maps::{Array, Map, MapData, MapError, PerCpuValues};
use aya::programs::{links::FdLink, Xdp, XdpMode};

use crate::bpf::{
    self, aya_glue as glue, globals, lb_backend, lb_backend_state, lb_config, lb_maglev_slot,
    lb_vip, lb_vip_flags, maps as defs,
};
use crate::maglev::{self, Member};
use crate::net::{self, Flow, Service};

/// The XDP program of `lb.bpf.o`.
pub const PROGRAM: &str = "lb_xdp";
/// VIP ids are `0 .. MAX_VIPS` (`LB_MAX_VIPS`, the size of `lb_maglev`).
pub const MAX_VIPS: u32 = defs::lb_maglev::DEF.max_entries;
/// Backend ids are `1 .. MAX_BACKENDS` (`LB_MAX_BACKENDS`, the size of `lb_backends`).
pub const MAX_BACKENDS: u32 = defs::lb_backends::DEF.max_entries;
/// The control plane's own map (see the module documentation).
pub const OWNERS_MAP: &str = "lbctl_owners";
/// The pin of the `.rodata` map.
pub const RODATA_PIN: &str = "rodata";
/// The pin of the XDP link.
pub const LINK_PIN: &str = "link";

/// The maps of lb.bpf.o that `Lb` pins and opens (the generated descriptions, by name).
const DATAPATH_MAPS: [&str; 9] = [
    defs::lb_vips::DEF.name,
    defs::lb_vip_addrs::DEF.name,
    defs::lb_backends::DEF.name,
    defs::lb_backend_addrs::DEF.name,
    defs::lb_maglev::DEF.name,
    defs::lb_conntrack::DEF.name,
    defs::lb_vip_stats::DEF.name,
    defs::lb_backend_stats::DEF.name,
    defs::lb_global_stats::DEF.name,
];

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `bpf()` was refused: not root (nor CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON).
    #[error(
        "bpf() was refused ({0}): loading the load balancer needs root, or CAP_BPF + \
         CAP_NET_ADMIN + CAP_PERFMON"
    )]
    Refused(String),
    /// The kernel or aya refused something else.
    #[error("{what}: {detail}")]
    Kernel { what: String, detail: String },
    /// The request does not fit the current state (unknown VIP, duplicate, full …).
    #[error("{0}")]
    State(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    fn kernel(what: impl Into<String>, e: &dyn std::error::Error) -> Error {
        let detail = error_chain(e);
        if detail.contains("Operation not permitted") || detail.contains("EPERM") {
            return Error::Refused(format!("{}: {detail}", what.into()));
        }
        Error::Kernel {
            what: what.into(),
            detail,
        }
    }

    fn map(name: &str, e: &dyn std::error::Error) -> Error {
        Error::kernel(format!("map `{name}`"), e)
    }
}

/// `e` and its sources, joined by `: `.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// The datapath configuration (`.rodata` `CONFIG`, `struct lb_config`), frozen at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Outer IPv4 source address.
    pub src_v4: Ipv4Addr,
    /// Outer IPv6 source address.
    pub src_v6: Ipv6Addr,
    /// Seed of the flow hash.
    pub hash_seed: u32,
    /// Outer Ethernet destination; all zero = the received frame's source MAC.
    pub gw_mac: [u8; 6],
    /// Outer IPv4 TTL / IPv6 hop limit.
    pub outer_ttl: u8,
    /// Idle time after which a UDP conntrack entry is re-hashed (0 = never).
    pub udp_timeout: Duration,
}

impl Default for Config {
    /// The object's own defaults (lb.bpf.c): no source addresses, seed 0, reply to
    /// the sender's MAC, TTL 64, UDP timeout 30 s.
    fn default() -> Config {
        Config {
            src_v4: Ipv4Addr::UNSPECIFIED,
            src_v6: Ipv6Addr::UNSPECIFIED,
            hash_seed: 0,
            gw_mac: [0; 6],
            outer_ttl: 64,
            udp_timeout: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// The generated `struct lb_config` holding this configuration.
    pub fn to_bpf(&self) -> lb_config {
        // `..Default::default()`: the 1-byte hole at 31 is zero.
        lb_config {
            src_v4: net::be32(self.src_v4),
            src_v6: net::lb_addr_of(IpAddr::V6(self.src_v6)),
            hash_seed: self.hash_seed,
            gw_mac: self.gw_mac,
            outer_ttl: self.outer_ttl,
            udp_timeout_ns: u64::try_from(self.udp_timeout.as_nanos()).unwrap_or(u64::MAX),
            ..Default::default()
        }
    }

    /// The configuration a `struct lb_config` holds.
    pub fn from_bpf(c: &lb_config) -> Config {
        Config {
            src_v4: net::from_be32(c.src_v4),
            src_v6: Ipv6Addr::from(c.src_v6.bytes()),
            hash_seed: c.hash_seed,
            gw_mac: c.gw_mac,
            outer_ttl: c.outer_ttl,
            udp_timeout: Duration::from_nanos(c.udp_timeout_ns),
        }
    }
}

/// A virtual service as `lb_vips` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vip {
    pub service: Service,
    /// Its id: the index into `lb_maglev` and `lb_vip_stats`.
    pub id: u32,
    /// `lb_vip_flags` bits (`LB_VIP_F_HASH_NO_SPORT`).
    pub flags: u32,
}

/// A backend: `lb_backends[id]`, `lb_backend_addrs[id]` and its owner VIP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    pub id: u32,
    /// The VIP it serves.
    pub vip_id: u32,
    pub addr: IpAddr,
    pub state: lb_backend_state,
    pub weight: u32,
}

impl Backend {
    /// `active`, `draining`, `removed`, `absent`.
    pub fn state_name(&self) -> &'static str {
        state_name(self.state)
    }
}

/// The lower-case name of a backend state.
pub fn state_name(s: lb_backend_state) -> &'static str {
    match s {
        lb_backend_state::LB_BACKEND_ACTIVE => "active",
        lb_backend_state::LB_BACKEND_DRAINING => "draining",
        lb_backend_state::LB_BACKEND_REMOVED => "removed",
        _ => "absent",
    }
}

/// Time spent by one table rebuild.
#[derive(Clone, Copy, Debug, Default)]
pub struct RebuildTimes {
    /// Computing the Maglev table in Rust.
    pub compute: Duration,
    /// Creating the fresh inner map and writing its 65,537 slots.
    pub fill: Duration,
    /// The one `lb_maglev` update that makes it live.
    pub swap: Duration,
}

impl RebuildTimes {
    pub fn total(&self) -> Duration {
        self.compute + self.fill + self.swap
    }
}

struct Maps {
    vips: glue::lb_vips::Handle<MapData>,
    vip_addrs: glue::lb_vip_addrs::Handle<MapData>,
    backends: glue::lb_backends::Handle<MapData>,
    backend_addrs: glue::lb_backend_addrs::Handle<MapData>,
    maglev: glue::lb_maglev::Handle<MapData>,
    conntrack: glue::lb_conntrack::Handle<MapData>,
    vip_stats: glue::lb_vip_stats::Handle<MapData>,
    backend_stats: glue::lb_backend_stats::Handle<MapData>,
    global_stats: glue::lb_global_stats::Handle<MapData>,
    owners: Array<MapData, u32>,
}

/// The load balancer: its maps (typed), its config, and — when this process loaded
/// it — the aya object with the program.
pub struct Lb {
    ebpf: Option<aya::Ebpf>,
    maps: Maps,
    config: lb_config,
    pin_dir: Option<PathBuf>,
}

fn take<T>(
    ebpf: &mut aya::Ebpf,
    f: fn(&mut aya::Ebpf) -> Result<T, glue::Error>,
    name: &str,
) -> Result<T, Error> {
    f(ebpf).map_err(|e| Error::map(name, &e))
}

fn open_pinned<T>(dir: &Path, name: &str) -> Result<T, Error>
where
    T: TryFrom<Map, Error = MapError>,
{
    let path = dir.join(name);
    let data =
        MapData::from_pin(&path).map_err(|e| Error::kernel(path.display().to_string(), &e))?;
    let map = Map::from_map_data(data).map_err(|e| Error::map(name, &e))?;
    T::try_from(map).map_err(|e| Error::map(name, &e))
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The number of possible CPUs: how many values a per-CPU map holds per key.
pub fn possible_cpus() -> Result<usize, Error> {
    aya::util::nr_cpus().map_err(|(what, e)| Error::kernel(what, &e))
}

impl Lb {
    /// Loads lb.bpf.o (embedded) with `config` as its `.rodata` `CONFIG`, and loads the
    /// program into the kernel (verifier). Nothing is attached or pinned.
    pub fn load(config: &Config) -> Result<Lb, Error> {
        Lb::load_inner(config, None)
    }

    /// As [`Lb::load`], and pins every map under `dir` (created; it must not exist:
    /// one load balancer per directory) so that [`Lb::open`] finds them later.
    pub fn load_pinned(config: &Config, dir: &Path) -> Result<Lb, Error> {
        if dir.exists() {
            return Err(Error::State(format!(
                "{} exists: a load balancer is pinned there already (unload it first)",
                dir.display()
            )));
        }
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let r = Lb::load_inner(config, Some(dir));
        if r.is_err() {
            let _ = Lb::unload(dir);
        }
        r
    }

    fn load_inner(config: &Config, pin: Option<&Path>) -> Result<Lb, Error> {
        let cfg = config.to_bpf();
        let mut loader = aya::EbpfLoader::new();
        glue::override_CONFIG(&mut loader, &cfg);
        let mut ebpf = loader
            .load(bpf::OBJECT)
            .map_err(|e| Error::kernel("loading lb.bpf.o", &e))?;
        {
            let prog: &mut Xdp = ebpf
                .program_mut(PROGRAM)
                .ok_or_else(|| Error::State(format!("lb.bpf.o has no program `{PROGRAM}`")))?
                .try_into()
                .map_err(|e| Error::kernel(PROGRAM, &e))?;
            prog.load()
                .map_err(|e| Error::kernel(format!("loading {PROGRAM} (verifier)"), &e))?;
        }
        // The config as the kernel holds it (frozen): the seed the datapath hashes with.
        let rodata = glue::read_rodata(&ebpf).map_err(|e| Error::map(".rodata", &e))?;
        let owners = Array::<MapData, u32>::create(MAX_BACKENDS, 0)
            .map_err(|e| Error::map(OWNERS_MAP, &e))?;
        let owners = match pin {
            Some(dir) => {
                for name in DATAPATH_MAPS {
                    let map = ebpf
                        .map(name)
                        .ok_or_else(|| Error::State(format!("lb.bpf.o has no map `{name}`")))?;
                    map.pin(dir.join(name))
                        .map_err(|e| Error::kernel(format!("pinning {name}"), &e))?;
                }
                let ro = ebpf
                    .map(globals::rodata::SECTION)
                    .ok_or_else(|| Error::State("lb.bpf.o has no .rodata map".into()))?;
                ro.pin(dir.join(RODATA_PIN))
                    .map_err(|e| Error::kernel("pinning .rodata", &e))?;
                owners
                    .pin(dir.join(OWNERS_MAP))
                    .map_err(|e| Error::kernel(format!("pinning {OWNERS_MAP}"), &e))?;
                open_pinned(dir, OWNERS_MAP)?
            }
            None => owners,
        };
        let maps = Maps {
            vips: take(&mut ebpf, glue::lb_vips::take, "lb_vips")?,
            vip_addrs: take(&mut ebpf, glue::lb_vip_addrs::take, "lb_vip_addrs")?,
            backends: take(&mut ebpf, glue::lb_backends::take, "lb_backends")?,
            backend_addrs: take(&mut ebpf, glue::lb_backend_addrs::take, "lb_backend_addrs")?,
            maglev: take(&mut ebpf, glue::lb_maglev::take, "lb_maglev")?,
            conntrack: take(&mut ebpf, glue::lb_conntrack::take, "lb_conntrack")?,
            vip_stats: take(&mut ebpf, glue::lb_vip_stats::take, "lb_vip_stats")?,
            backend_stats: take(&mut ebpf, glue::lb_backend_stats::take, "lb_backend_stats")?,
            global_stats: take(&mut ebpf, glue::lb_global_stats::take, "lb_global_stats")?,
            owners,
        };
        Ok(Lb {
            ebpf: Some(ebpf),
            maps,
            config: rodata.CONFIG,
            pin_dir: pin.map(Path::to_path_buf),
        })
    }

    /// Opens a load balancer pinned under `dir` by [`Lb::load_pinned`] (e.g. by an
    /// earlier `lbctl load`). The program is not available (it runs attached).
    pub fn open(dir: &Path) -> Result<Lb, Error> {
        if !dir.join(defs::lb_vips::DEF.name).exists() {
            return Err(Error::State(format!(
                "no load balancer is pinned under {} (run `lbctl load` first)",
                dir.display()
            )));
        }
        let ro: Array<MapData, [u8; globals::rodata::SECTION_SIZE]> = open_pinned(dir, RODATA_PIN)?;
        let bytes = ro.get(&0, 0).map_err(|e| Error::map(RODATA_PIN, &e))?;
        let config = globals::rodata::from_section_bytes(&bytes).CONFIG;
        let maps = Maps {
            vips: open_pinned(dir, defs::lb_vips::DEF.name)?,
            vip_addrs: open_pinned(dir, defs::lb_vip_addrs::DEF.name)?,
            backends: open_pinned(dir, defs::lb_backends::DEF.name)?,
            backend_addrs: open_pinned(dir, defs::lb_backend_addrs::DEF.name)?,
            maglev: open_pinned(dir, defs::lb_maglev::DEF.name)?,
            conntrack: open_pinned(dir, defs::lb_conntrack::DEF.name)?,
            vip_stats: open_pinned(dir, defs::lb_vip_stats::DEF.name)?,
            backend_stats: open_pinned(dir, defs::lb_backend_stats::DEF.name)?,
            global_stats: open_pinned(dir, defs::lb_global_stats::DEF.name)?,
            owners: open_pinned(dir, OWNERS_MAP)?,
        };
        Ok(Lb {
            ebpf: None,
            maps,
            config,
            pin_dir: Some(dir.to_path_buf()),
        })
    }

    /// Removes everything [`Lb::load_pinned`] and [`Lb::attach`] pinned under `dir`
    /// (the link first: the program detaches when its last reference goes), then the
    /// directory. Missing pins are fine.
    pub fn unload(dir: &Path) -> Result<(), Error> {
        let names = [LINK_PIN]
            .into_iter()
            .chain(DATAPATH_MAPS)
            .chain([RODATA_PIN, OWNERS_MAP]);
        for name in names {
            let p = dir.join(name);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
        }
        match fs::remove_dir(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(dir)(e)),
        }
    }

    /// The program, when this process loaded it (for `BPF_PROG_TEST_RUN`).
    pub fn program(&self) -> Option<&Xdp> {
        self.ebpf
            .as_ref()?
            .program(PROGRAM)
            .and_then(|p| p.try_into().ok())
    }

    /// Attaches the program to `iface` (native mode, or generic `skb` mode). With a
    /// pin directory the link is pinned there (`DIR/link`) and outlives this process.
    pub fn attach(&mut self, iface: &str, skb: bool) -> Result<(), Error> {
        let pin = self.pin_dir.clone();
        let ebpf = self.ebpf.as_mut().ok_or_else(|| {
            Error::State("attach: the program was not loaded by this process".into())
        })?;
        let prog: &mut Xdp = ebpf
            .program_mut(PROGRAM)
            .ok_or_else(|| Error::State(format!("no program `{PROGRAM}`")))?
            .try_into()
            .map_err(|e| Error::kernel(PROGRAM, &e))?;
        let mode = if skb { XdpMode::Skb } else { XdpMode::Driver };
        let id = prog
            .attach(iface, mode)
            .map_err(|e| Error::kernel(format!("attaching {PROGRAM} to {iface}"), &e))?;
        if let Some(dir) = pin {
            let link = prog
                .take_link(id)
                .map_err(|e| Error::kernel("taking the XDP link", &e))?;
            let fd_link = FdLink::try_from(link).map_err(|e| {
                Error::kernel(
                    "the kernel attached XDP through netlink, not a bpf_link: it cannot be pinned",
                    &e,
                )
            })?;
            fd_link
                .pin(dir.join(LINK_PIN))
                .map_err(|e| Error::kernel("pinning the XDP link", &e))?;
        }
        Ok(())
    }

    /// The `CONFIG` the datapath runs with.
    pub fn config(&self) -> &lb_config {
        &self.config
    }

    /// The pin directory, if any.
    pub fn pin_dir(&self) -> Option<&Path> {
        self.pin_dir.as_deref()
    }

    // ------------------------------------------------------------------ VIPs --

    /// Every VIP, by id.
    pub fn vips(&self) -> Result<Vec<Vip>, Error> {
        let mut out = Vec::new();
        for kv in self.maps.vips.iter() {
            let (k, v) = kv.map_err(|e| Error::map("lb_vips", &e))?;
            if let Some(service) = Service::from_key(&k) {
                out.push(Vip {
                    service,
                    id: v.id,
                    flags: v.flags.0,
                });
            }
        }
        out.sort_by_key(|v| v.id);
        Ok(out)
    }

    /// The VIP of a service.
    pub fn vip(&self, service: &Service) -> Result<Option<Vip>, Error> {
        match self.maps.vips.get(&service.key(), 0) {
            Ok(v) => Ok(Some(Vip {
                service: *service,
                id: v.id,
                flags: v.flags.0,
            })),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(Error::map("lb_vips", &e)),
        }
    }

    fn need_vip(&self, service: &Service) -> Result<Vip, Error> {
        self.vip(service)?
            .ok_or_else(|| Error::State(format!("no VIP {service}")))
    }

    /// Adds a VIP with no backend (its packets drop, counted NO_BACKEND, until one is
    /// added). In order: a fresh empty table and zeroed counters under a free id, the
    /// `lb_vips` entry, then one more VIP on the address in `lb_vip_addrs`.
    pub fn add_vip(&mut self, service: Service, flags: u32) -> Result<Vip, Error> {
        if self.vip(&service)?.is_some() {
            return Err(Error::State(format!("VIP {service} exists")));
        }
        let used: Vec<u32> = self.vips()?.iter().map(|v| v.id).collect();
        let id = (0..MAX_VIPS)
            .find(|i| !used.contains(i))
            .ok_or_else(|| Error::State(format!("all {MAX_VIPS} VIP ids are in use")))?;
        self.zero_vip_stats(id)?;
        self.install_table(id, &[])?;
        let value = lb_vip {
            id,
            flags: lb_vip_flags(flags),
        };
        self.maps
            .vips
            .insert(service.key(), value, 0)
            .map_err(|e| Error::map("lb_vips", &e))?;
        let ak = net::addr_key_of(service.addr);
        let n = match self.maps.vip_addrs.get(&ak, 0) {
            Ok(n) => n,
            Err(MapError::KeyNotFound) => 0,
            Err(e) => return Err(Error::map("lb_vip_addrs", &e)),
        };
        self.maps
            .vip_addrs
            .insert(ak, n + 1, 0)
            .map_err(|e| Error::map("lb_vip_addrs", &e))?;
        Ok(Vip { service, id, flags })
    }

    /// Removes a VIP: its `lb_vips` entry, one VIP on the address in `lb_vip_addrs`
    /// (the entry goes with the last), its backends (REMOVED), and its table
    /// (replaced by an empty one).
    pub fn del_vip(&mut self, service: &Service) -> Result<(), Error> {
        let vip = self.need_vip(service)?;
        self.maps
            .vips
            .remove(&service.key())
            .map_err(|e| Error::map("lb_vips", &e))?;
        let ak = net::addr_key_of(service.addr);
        match self.maps.vip_addrs.get(&ak, 0) {
            Ok(n) if n > 1 => self.maps.vip_addrs.insert(ak, n - 1, 0),
            Ok(_) => self.maps.vip_addrs.remove(&ak),
            Err(MapError::KeyNotFound) => Ok(()),
            Err(e) => Err(e),
        }
        .map_err(|e| Error::map("lb_vip_addrs", &e))?;
        for b in self.backends_of(vip.id)? {
            self.set_owner(b.id, None)?;
            self.write_backend(b.id, b.addr, lb_backend_state::LB_BACKEND_REMOVED, b.weight)?;
        }
        self.install_table(vip.id, &[])?;
        Ok(())
    }

    /// How many VIPs `lb_vip_addrs` counts on an address (0: no entry).
    pub fn vip_addr_count(&self, addr: IpAddr) -> Result<u32, Error> {
        match self.maps.vip_addrs.get(&net::addr_key_of(addr), 0) {
            Ok(n) => Ok(n),
            Err(MapError::KeyNotFound) => Ok(0),
            Err(e) => Err(Error::map("lb_vip_addrs", &e)),
        }
    }

    // -------------------------------------------------------------- backends --

    /// Every backend that serves a VIP, by id.
    pub fn backends(&self) -> Result<Vec<Backend>, Error> {
        let mut out = Vec::new();
        for id in 1..MAX_BACKENDS {
            let owner = self
                .maps
                .owners
                .get(&id, 0)
                .map_err(|e| Error::map(OWNERS_MAP, &e))?;
            if owner == 0 {
                continue;
            }
            if let Some(b) = self.backend(id, owner - 1)? {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// The backends of one VIP, by id.
    pub fn backends_of(&self, vip_id: u32) -> Result<Vec<Backend>, Error> {
        Ok(self
            .backends()?
            .into_iter()
            .filter(|b| b.vip_id == vip_id)
            .collect())
    }

    fn backend(&self, id: u32, vip_id: u32) -> Result<Option<Backend>, Error> {
        let be = self
            .maps
            .backends
            .get(&id, 0)
            .map_err(|e| Error::map("lb_backends", &e))?;
        let a = self
            .maps
            .backend_addrs
            .get(&id, 0)
            .map_err(|e| Error::map("lb_backend_addrs", &e))?;
        Ok(net::ip_of(&a, be.family).map(|addr| Backend {
            id,
            vip_id,
            addr,
            state: be.state,
            weight: be.weight,
        }))
    }

    fn set_owner(&mut self, id: u32, vip_id: Option<u32>) -> Result<(), Error> {
        self.maps
            .owners
            .set(id, vip_id.map_or(0, |v| v + 1), 0)
            .map_err(|e| Error::map(OWNERS_MAP, &e))
    }

    fn write_backend(
        &mut self,
        id: u32,
        addr: IpAddr,
        state: lb_backend_state,
        weight: u32,
    ) -> Result<(), Error> {
        // `..Default::default()`: the 2-byte hole at 2 is zero.
        let v = lb_backend {
            family: net::family_of(addr),
            state,
            weight,
            ..Default::default()
        };
        self.maps
            .backends
            .set(id, v, 0)
            .map_err(|e| Error::map("lb_backends", &e))
    }

    /// A free backend id: one never used (ABSENT) first; else a REMOVED one no VIP
    /// owns, after deleting the conntrack entries that still name it (so that no old
    /// flow silently lands on the new backend).
    fn alloc_backend_id(&mut self) -> Result<u32, Error> {
        let mut removed = None;
        for id in 1..MAX_BACKENDS {
            let owner = self
                .maps
                .owners
                .get(&id, 0)
                .map_err(|e| Error::map(OWNERS_MAP, &e))?;
            if owner != 0 {
                continue;
            }
            let be = self
                .maps
                .backends
                .get(&id, 0)
                .map_err(|e| Error::map("lb_backends", &e))?;
            match be.state {
                lb_backend_state::LB_BACKEND_ABSENT => return Ok(id),
                lb_backend_state::LB_BACKEND_REMOVED if removed.is_none() => removed = Some(id),
                _ => {}
            }
        }
        let id = removed.ok_or_else(|| {
            Error::State(format!("all {} backend ids are in use", MAX_BACKENDS - 1))
        })?;
        let stale: Vec<_> = self
            .maps
            .conntrack
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, c)| c.backend_id == id)
            .map(|(k, _)| k)
            .collect();
        for k in stale {
            match self.maps.conntrack.remove(&k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(Error::map("lb_conntrack", &e)),
            }
        }
        Ok(id)
    }

    /// Adds backend `addr` with `weight` to a VIP and rebuilds its table. A backend of
    /// the VIP with that address already (active or draining) is made active with the
    /// new weight instead. A new backend: address first, then `lb_backends` (ACTIVE),
    /// then the table (datapath README, "Protocol for user space").
    pub fn add_backend(
        &mut self,
        service: &Service,
        addr: IpAddr,
        weight: u32,
    ) -> Result<Backend, Error> {
        let vip = self.need_vip(service)?;
        let existing = self
            .backends_of(vip.id)?
            .into_iter()
            .find(|b| b.addr == addr);
        let id = match existing {
            Some(b) => b.id,
            None => {
                let id = self.alloc_backend_id()?;
                self.maps
                    .backend_addrs
                    .set(id, net::lb_addr_of(addr), 0)
                    .map_err(|e| Error::map("lb_backend_addrs", &e))?;
                self.zero_backend_stats(id)?;
                self.set_owner(id, Some(vip.id))?;
                id
            }
        };
        self.write_backend(id, addr, lb_backend_state::LB_BACKEND_ACTIVE, weight)?;
        self.rebuild(vip.id)?;
        Ok(Backend {
            id,
            vip_id: vip.id,
            addr,
            state: lb_backend_state::LB_BACKEND_ACTIVE,
            weight,
        })
    }

    fn need_backend(&self, service: &Service, addr: IpAddr) -> Result<(Vip, Backend), Error> {
        let vip = self.need_vip(service)?;
        let b = self
            .backends_of(vip.id)?
            .into_iter()
            .find(|b| b.addr == addr)
            .ok_or_else(|| Error::State(format!("VIP {service} has no backend {addr}")))?;
        Ok((vip, b))
    }

    /// Drains a backend: DRAINING (its tracked flows stay) and left out of the
    /// rebuilt table (no new flow).
    pub fn drain_backend(&mut self, service: &Service, addr: IpAddr) -> Result<Backend, Error> {
        let (vip, mut b) = self.need_backend(service, addr)?;
        b.state = lb_backend_state::LB_BACKEND_DRAINING;
        self.write_backend(b.id, b.addr, b.state, b.weight)?;
        self.rebuild(vip.id)?;
        Ok(b)
    }

    /// Removes a backend: the table is rebuilt without it first (so no new flow
    /// meets a dead slot), then it is marked REMOVED (its tracked flows are re-hashed
    /// by the datapath and counted in `ct_stale`).
    pub fn del_backend(&mut self, service: &Service, addr: IpAddr) -> Result<Backend, Error> {
        let (vip, mut b) = self.need_backend(service, addr)?;
        self.set_owner(b.id, None)?;
        self.rebuild(vip.id)?;
        b.state = lb_backend_state::LB_BACKEND_REMOVED;
        self.write_backend(b.id, b.addr, b.state, b.weight)?;
        Ok(b)
    }

    // ---------------------------------------------------------------- tables --

    /// The Maglev members of a VIP: its ACTIVE backends (draining and removed ones
    /// get no new flows).
    pub fn members(&self, vip_id: u32) -> Result<Vec<Member>, Error> {
        Ok(self
            .backends_of(vip_id)?
            .into_iter()
            .filter(|b| b.state == lb_backend_state::LB_BACKEND_ACTIVE)
            .map(|b| Member {
                id: b.id,
                addr: b.addr,
                weight: b.weight,
            })
            .collect())
    }

    /// The table a VIP should have for its current backends (computed, not read).
    pub fn expected_table(&self, vip_id: u32) -> Result<Vec<u32>, Error> {
        Ok(maglev::build(&self.members(vip_id)?))
    }

    /// Recomputes a VIP's table from its members and swaps it in.
    pub fn rebuild(&mut self, vip_id: u32) -> Result<RebuildTimes, Error> {
        let t0 = Instant::now();
        let table = self.expected_table(vip_id)?;
        let compute = t0.elapsed();
        let mut times = self.install_table(vip_id, &table)?;
        times.compute = compute;
        Ok(times)
    }

    /// Installs `table` (backend ids, [`maglev::SIZE`] of them; shorter = the rest 0,
    /// empty = a VIP without backends) as a VIP's table: a FRESH inner map is created
    /// from the generated inner definition and filled while no packet can see it,
    /// then ONE update of `lb_maglev[vip_id]` makes it live. The old table is freed
    /// by the kernel when its last user is gone; a packet sees the old or the new
    /// table, never a mix.
    pub fn install_table(&mut self, vip_id: u32, table: &[u32]) -> Result<RebuildTimes, Error> {
        if table.len() > maglev::SIZE {
            return Err(Error::State(format!(
                "a table has {} slots, not {}",
                maglev::SIZE,
                table.len()
            )));
        }
        let t0 = Instant::now();
        let mut inner = glue::lb_maglev::inner::create()
            .map_err(|e| Error::map("lb_maglev inner map (create)", &e))?;
        for (slot, &backend_id) in table.iter().enumerate() {
            if backend_id != 0 {
                inner
                    .set(slot as u32, lb_maglev_slot { backend_id }, 0)
                    .map_err(|e| Error::map("lb_maglev inner map", &e))?;
            }
        }
        let fill = t0.elapsed();
        let t1 = Instant::now();
        self.maps
            .maglev
            .set(vip_id, &inner, 0)
            .map_err(|e| Error::map("lb_maglev", &e))?;
        Ok(RebuildTimes {
            compute: Duration::ZERO,
            fill,
            swap: t1.elapsed(),
        })
    }

    /// The live table of a VIP, read from the kernel (`None`: no table).
    pub fn table(&self, vip_id: u32) -> Result<Option<Vec<u32>>, Error> {
        let inner = match self.maps.maglev.get(&vip_id, 0) {
            Ok(m) => m,
            Err(MapError::KeyNotFound) => return Ok(None),
            Err(e) => return Err(Error::map("lb_maglev", &e)),
        };
        read_table(&inner).map(Some)
    }

    /// A handle on the live inner map of a VIP (it stays valid, and unchanged, after
    /// a swap replaced it: tables are never written once live).
    pub fn table_handle(
        &self,
        vip_id: u32,
    ) -> Result<glue::lb_maglev::inner::Handle<MapData>, Error> {
        self.maps
            .maglev
            .get(&vip_id, 0)
            .map_err(|e| Error::map("lb_maglev", &e))
    }

    /// The backend the datapath chooses for a NEW flow (no conntrack entry), as the
    /// control plane computes it: VIP lookup (exact port, then port 0), flow hash with
    /// `CONFIG.hash_seed`, slot of the expected table. `None`: no VIP, or no backend.
    pub fn predict(&self, flow: &Flow) -> Result<Option<u32>, Error> {
        let Some(proto) = net::Proto::from_number(flow.proto) else {
            return Ok(None);
        };
        let exact = Service::new(flow.dst, flow.dport, proto);
        let vip = match self.vip(&exact)? {
            Some(v) => v,
            None => match self.vip(&Service::new(flow.dst, 0, proto))? {
                Some(v) => v,
                None => return Ok(None),
            },
        };
        let table = self.expected_table(vip.id)?;
        let slot = crate::hash::flow_slot(flow, vip.flags, self.config.hash_seed);
        Ok(Some(table[slot]).filter(|&b| b != 0))
    }

    /// The conntrack entry of a flow.
    pub fn conntrack(&self, flow: &Flow) -> Result<Option<bpf::lb_conn>, Error> {
        match self.maps.conntrack.get(&flow.key(), 0) {
            Ok(c) => Ok(Some(c)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(e) => Err(Error::map("lb_conntrack", &e)),
        }
    }

    // ---------------------------------------------------------------- counters --

    fn zero_vip_stats(&mut self, id: u32) -> Result<(), Error> {
        let zeros = PerCpuValues::try_from(vec![bpf::lb_vip_stats::default(); possible_cpus()?])
            .map_err(|e| Error::map("lb_vip_stats", &e))?;
        self.maps
            .vip_stats
            .set(id, zeros, 0)
            .map_err(|e| Error::map("lb_vip_stats", &e))
    }

    fn zero_backend_stats(&mut self, id: u32) -> Result<(), Error> {
        let zeros =
            PerCpuValues::try_from(vec![bpf::lb_backend_stats::default(); possible_cpus()?])
                .map_err(|e| Error::map("lb_backend_stats", &e))?;
        self.maps
            .backend_stats
            .set(id, zeros, 0)
            .map_err(|e| Error::map("lb_backend_stats", &e))
    }

    /// The global counters, one value per possible CPU.
    pub fn global_stats_per_cpu(&self) -> Result<Vec<bpf::lb_global_stats>, Error> {
        let v = self
            .maps
            .global_stats
            .get(&0, 0)
            .map_err(|e| Error::map("lb_global_stats", &e))?;
        Ok(v.to_vec())
    }

    /// A VIP's counters, one value per possible CPU.
    pub fn vip_stats_per_cpu(&self, vip_id: u32) -> Result<Vec<bpf::lb_vip_stats>, Error> {
        let v = self
            .maps
            .vip_stats
            .get(&vip_id, 0)
            .map_err(|e| Error::map("lb_vip_stats", &e))?;
        Ok(v.to_vec())
    }

    /// A backend's counters, one value per possible CPU.
    pub fn backend_stats_per_cpu(&self, id: u32) -> Result<Vec<bpf::lb_backend_stats>, Error> {
        let v = self
            .maps
            .backend_stats
            .get(&id, 0)
            .map_err(|e| Error::map("lb_backend_stats", &e))?;
        Ok(v.to_vec())
    }

    /// Every counter, summed over the CPUs: global, per VIP, per backend.
    pub fn stats(&self) -> Result<crate::stats::Stats, Error> {
        use crate::stats::{sum_backend, sum_global, sum_vip, BackendStats, Stats, VipStats};
        let global = sum_global(&self.global_stats_per_cpu()?);
        let mut vips = Vec::new();
        for v in self.vips()? {
            let s = sum_vip(&self.vip_stats_per_cpu(v.id)?);
            vips.push(VipStats::new(&v, &s));
        }
        let mut backends = Vec::new();
        for b in self.backends()? {
            let s = sum_backend(&self.backend_stats_per_cpu(b.id)?);
            backends.push(BackendStats::new(&b, &s));
        }
        Ok(Stats {
            cpus: possible_cpus()?,
            global: crate::stats::GlobalStats::new(&global),
            vips,
            backends,
        })
    }
}

/// Every slot of an inner map.
fn read_table(inner: &glue::lb_maglev::inner::Handle<MapData>) -> Result<Vec<u32>, Error> {
    let mut out = Vec::with_capacity(maglev::SIZE);
    for slot in inner.iter() {
        out.push(
            slot.map_err(|e| Error::map("lb_maglev inner map", &e))?
                .backend_id,
        );
    }
    Ok(out)
}

/// Every slot of an inner map handle (see [`Lb::table_handle`]).
pub fn table_of(inner: &glue::lb_maglev::inner::Handle<MapData>) -> Result<Vec<u32>, Error> {
    read_table(inner)
}
