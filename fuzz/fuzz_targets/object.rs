//! The whole path a user's file takes: bytes → object/raw BTF → framing checks →
//! btf-rs → graph → names → selection → layout → emitted, formatted Rust — with the
//! options a user may pass, chosen by the first byte: the default type set (maps,
//! globals) or `--all`, `--aya`, zerocopy off; then the layout report (`bpfgen
//! layout`) and what `bpfgen check` does with a generated file (read its embedded path
//! back, regenerate with it: the same bytes). Any panic, hang or runaway allocation is
//! a bug; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let Ok(model) = bpfgen_core::load_bytes(bytes, "fuzz.bpf.o", None) else {
        return;
    };
    let opts = bpfgen_core::Options {
        all: mode & 1 != 0,
        aya: mode & 2 != 0,
        zerocopy: (mode & 4 != 0).then_some(false),
        ..Default::default()
    };
    if let Ok(items) = model.select_for_report(&opts) {
        let _ = bpfgen_core::report::report(&model, &items);
    }
    let embed = (mode & 8 != 0).then(|| "fuzz.bpf.o".to_string());
    let opts = bpfgen_core::Options {
        embed: embed.is_some(),
        ..opts
    };
    if let Ok(g) = model.generate_embedding(&opts, embed.clone()) {
        let path = bpfgen_core::embedded_path(&g.code);
        assert_eq!(path, embed, "check reads back another embedded path");
        let again = model.generate_embedding(&opts, path).map(|g| g.code);
        assert_eq!(again.ok().as_deref(), Some(g.code.as_str()), "not deterministic");
    }
});
