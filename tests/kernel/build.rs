//! Generates, into OUT_DIR, the Rust bpfgen writes for `fixtures/bpfel/maps.bpf.o` and
//! `fixtures/bpfel/externs.bpf.o` with `--aya --embed` (the object is embedded with a
//! path relative to the generated file, as the CLI writes it for `-o`). The library
//! compiles them under `#![deny(warnings)]`: glue that does not compile against aya
//! 0.14 fails the build. Any warning bpfgen reports fails it too (the fixtures have
//! none by design).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let opts = bpfgen_core::Options {
        aya: true,
        embed: true,
        ..Default::default()
    };
    for name in ["maps", "externs"] {
        let obj = manifest.join(format!("../../fixtures/bpfel/{name}.bpf.o"));
        println!("cargo:rerun-if-changed={}", obj.display());
        let model = bpfgen_core::load(&obj, &opts)
            .unwrap_or_else(|e| panic!("bpfgen cannot load {}: {e}", obj.display()));
        let dest = out.join(format!("{name}.rs"));
        let generated = model
            .generate_to(&opts, Some(&dest))
            .unwrap_or_else(|e| panic!("bpfgen failed on {}: {e}", obj.display()));
        assert!(
            generated.warnings.is_empty(),
            "bpfgen warned about {}: {:?}",
            obj.display(),
            generated.warnings
        );
        if std::fs::read_to_string(&dest).ok().as_deref() != Some(generated.code.as_str()) {
            std::fs::write(&dest, &generated.code).unwrap();
        }
    }
}
