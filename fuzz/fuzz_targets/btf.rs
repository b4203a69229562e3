//! Raw BTF bytes straight into the framing checks, btf-rs and the type graph, and
//! from there into generation: the hostile-BTF surface without the ELF layer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Make every input look like little-endian raw BTF so the fuzzer spends its time
    // past the magic check.
    let mut bytes = data.to_vec();
    if bytes.len() >= 2 {
        bytes[0] = 0x9f;
        bytes[1] = 0xeb;
    }
    if let Ok(model) = bpfgen_core::load_bytes(&bytes, "fuzz.btf", None) {
        let opts = bpfgen_core::Options {
            all: true,
            ..Default::default()
        };
        let _ = model.generate(&opts);
    }
});
