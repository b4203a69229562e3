//! The Rust bpfgen generates with `--aya --embed` for the `maps` and `externs`
//! fixtures, compiled with `#![deny(warnings)]` against aya 0.14 (see `build.rs`), and
//! what the kernel tests share. The tests (`tests/`) load the objects into the running
//! kernel; they need root (or CAP_BPF with CAP_PERFMON and CAP_NET_ADMIN) and fail,
//! never skip, without it.

#![deny(warnings)]

/// `fixtures/bpfel/maps.bpf.o`: every common map type and globals in every data section.
pub mod maps_bpf {
    include!(concat!(env!("OUT_DIR"), "/maps.rs"));
}

/// `fixtures/bpfel/externs.bpf.o`: `.kconfig` and `.ksyms` externs (generated, not loaded:
/// aya 0.14 does not resolve externs).
pub mod externs_bpf {
    include!(concat!(env!("OUT_DIR"), "/externs.rs"));
}

/// Loads the embedded `maps.bpf.o` with aya, or panics loudly: a refused `bpf()` means
/// the machine cannot run these tests, which must not pass silently.
pub fn load_maps(loader: &mut aya::EbpfLoader<'_>) -> aya::Ebpf {
    match loader.load(maps_bpf::OBJECT) {
        Ok(ebpf) => ebpf,
        Err(e) => {
            let chain = error_chain(&e);
            if chain.contains("Operation not permitted") || chain.contains("EPERM") {
                panic!(
                    "bpf() was refused ({chain}): the kernel tests load BPF objects and need root \
                     (or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN). Run `cargo test` as root; these \
                     tests fail rather than skip so that CI never passes without running them."
                );
            }
            panic!("loading maps.bpf.o failed: {chain}");
        }
    }
}

/// `e` and its sources, joined.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
