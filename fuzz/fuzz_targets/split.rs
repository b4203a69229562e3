//! Split BTF (`--base`): a kernel module's BTF on top of a base. The input is a base
//! blob and a split blob (the first two bytes: the base's length); both are made to
//! look like little-endian raw BTF so the fuzzer spends its time past the magic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let rest = &data[2..];
    let (base, split) = rest.split_at(n.min(rest.len()));
    let magic = |b: &[u8]| {
        let mut b = b.to_vec();
        if b.len() >= 2 {
            b[0] = 0x9f;
            b[1] = 0xeb;
        }
        b
    };
    let (base, split) = (magic(base), magic(split));
    if let Ok(model) = bpfgen_core::load_bytes(&split, "fuzz.ko.btf", Some((&base, "fuzz.btf"))) {
        let opts = bpfgen_core::Options {
            all: true,
            ..Default::default()
        };
        let _ = model.generate(&opts);
    }
});
