//! The Rust bpfgen generates for every fixture, compiled with all its layout assertions
//! and `#![deny(warnings)]`, plus layout probes the oracle test compares with C.
//!
//! `build.rs` generates one `pub mod <fixture>` per `fixtures/bpfel/*.bpf.o` (so a new
//! fixture is covered without editing this file), the big-endian
//! `bpfeb_bitfields_values_unguarded` module, and `probes::<fixture>::{PROBE, run}`;
//! see `fixtures.rs` in OUT_DIR and `src/walk.rs` for what the probes measure.
//! (`src/walk.rs` is shared by `build.rs` and `tests/oracle.rs`; it is not part of this
//! library.)

#![no_std]
#![deny(warnings)]

include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));

/// One fixture's generated module, reached through its probes.
pub struct Fixture {
    /// File stem in `fixtures/bpfel/` (and the module name).
    pub name: &'static str,
    /// Layout numbers computed by the Rust compiler, keyed like the oracle's checks.
    pub probe: &'static [(&'static str, usize)],
    /// Runtime probe: `f(key, bytes of a zeroed value with only that member all ones)`.
    pub run: RunProbe,
}

/// `run(f)` calls `f(key, bytes)` once per member the runtime probe reaches.
pub type RunProbe = fn(&mut dyn FnMut(&'static str, &[u8]));

/// Size of the field `f` selects (usable in constants; `f` is never called).
#[doc(hidden)]
pub const fn field_size<T, F>(_f: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

/// A value of `T` with every byte 0xff.
#[doc(hidden)]
pub fn ones<T: zerocopy::FromBytes + zerocopy::IntoBytes>() -> T {
    let mut v = T::new_zeroed();
    v.as_mut_bytes().fill(0xff);
    v
}
