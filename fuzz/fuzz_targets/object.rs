//! The whole path a user's file takes: bytes → object/raw BTF → framing checks →
//! btf-rs → graph → names → selection → layout → emitted, formatted Rust.
//! Any panic, hang or runaway allocation is a bug; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = bpfgen_core::load_bytes(data, "fuzz.bpf.o", None) {
        let opts = bpfgen_core::Options {
            all: true,
            ..Default::default()
        };
        let _ = model.generate(&opts);
    }
});
