//! The control plane of a katran-style XDP L4 load balancer (`examples/lb/bpf` is its
//! datapath): load and attach `lb_xdp`, manage VIPs and backends, build weighted
//! Maglev tables and swap them in atomically, read the counters.
//!
//! Every byte shared with the datapath goes through the types bpfgen generates from
//! the object's BTF ([`bpf`], written by `build.rs`): map keys and values, the
//! `.rodata` `CONFIG`, the typed aya handles, the inner-map template. This crate
//! declares no C-layout type of its own (`tests/sources.rs` greps its sources to keep
//! it so).
//!
//! - [`hash`]: the datapath's flow hash (the kernel's `jhash2`), bit for bit.
//! - [`maglev`]: weighted Maglev table generation (65,537 slots).
//! - [`net`]: `std::net` addresses to and from the generated key types.
//! - [`control`]: [`Lb`], the loaded (or pinned) load balancer.
//! - [`stats`]: counters summed over CPUs, serialisable as JSON.

/// The Rust bpfgen generates from `bpf/lb.bpf.o` (types, `maps`, `globals`, `OBJECT`,
/// `aya_glue`). See `build.rs`.
#[allow(clippy::all, clippy::pedantic)]
pub mod bpf {
    include!(concat!(env!("OUT_DIR"), "/lb.rs"));
}

pub mod control;
pub mod hash;
pub mod maglev;
pub mod net;
pub mod stats;

pub use control::{Backend, Config, Error, Lb, Vip};
pub use net::{Proto, Service};
