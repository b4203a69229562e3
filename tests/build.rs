//! Generates, into OUT_DIR:
//! - `<fixture>.rs`: the Rust bpfgen generates for every `fixtures/bpfel/*.bpf.o`
//!   (default options), compiled by the library with `#![deny(warnings)]`;
//! - `bpfeb_bitfields_values_unguarded.rs`: the Rust for the big-endian
//!   `fixtures/bpfeb/bitfields_values.bpf.o` with its endianness guard removed (see the
//!   module doc written below for why that is sound for what the tests use);
//! - `probes_<fixture>.rs`: per fixture, `PROBE` (layout numbers computed by the Rust
//!   compiler from the generated types) and `run` (the runtime bit-range probe), from
//!   the checks of `src/walk.rs`;
//! - `fixtures.rs`: the modules above and the `FIXTURES` table, included by `src/lib.rs`.
//!
//! A generation error panics: the build (and so the test run) fails with its message.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/walk.rs"]
#[allow(dead_code)]
mod walk;

const GUARD_START: &str = "#[cfg(not(target_endian = \"big\"))]\n::core::compile_error!(";

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let fixtures = manifest.join("../fixtures");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed=src/walk.rs");
    println!(
        "cargo:rerun-if-changed={}",
        fixtures.join("bpfel").display()
    );
    println!("cargo:rerun-if-changed={}", fixtures.join("src").display());

    let mut names: Vec<String> = std::fs::read_dir(fixtures.join("bpfel"))
        .expect("fixtures/bpfel")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".bpf.o").map(str::to_string))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixtures/bpfel/*.bpf.o");

    let mut modules = String::new();
    let mut table = String::new();
    for name in &names {
        assert!(
            walk::ident(name) == *name && !name.starts_with("bpfeb_"),
            "fixture name `{name}` is not usable as a module name"
        );
        let obj = fixtures.join("bpfel").join(format!("{name}.bpf.o"));
        println!("cargo:rerun-if-changed={}", obj.display());
        let model = load(&obj);
        let code = model
            .generate(&bpfgen_core::Options::default())
            .unwrap_or_else(|e| panic!("bpfgen failed on {}: {e}", obj.display()));
        write(&out.join(format!("{name}.rs")), &code);

        let bpf_c = read(&fixtures.join("src").join(format!("{name}.bpf.c")));
        let header = read(&fixtures.join("src").join(walk::header_of(&bpf_c)));
        let w = walk::walk(&model, &header, &format!("crate::{name}"));
        write(
            &out.join(format!("probes_{name}.rs")),
            &probe_source(name, &w),
        );

        writeln!(
            modules,
            "/// Generated from `fixtures/bpfel/{name}.bpf.o` with default options.\n\
             pub mod {name} {{ include!(concat!(env!(\"OUT_DIR\"), \"/{name}.rs\")); }}"
        )
        .unwrap();
        writeln!(
            table,
            "    crate::Fixture {{ name: {name:?}, probe: probes::{name}::PROBE, run: probes::{name}::run }},"
        )
        .unwrap();
    }

    // Big-endian bitfields_values without its endianness guard.
    let eb = fixtures.join("bpfeb/bitfields_values.bpf.o");
    println!("cargo:rerun-if-changed={}", eb.display());
    let code = load(&eb)
        .generate(&bpfgen_core::Options::default())
        .unwrap_or_else(|e| panic!("bpfgen failed on {}: {e}", eb.display()));
    write(
        &out.join("bpfeb_bitfields_values_unguarded.rs"),
        &remove_guard(&code),
    );

    let mut all = modules;
    all.push_str(
        "/// `fixtures/bpfeb/bitfields_values.bpf.o` (BIG-endian), generated with default options,\n\
         /// with exactly its `#[cfg(not(target_endian = \"big\"))] compile_error!(…)` guard removed\n\
         /// so that it compiles on this little-endian host.\n\
         ///\n\
         /// Sound for what the tests use: bitfield accessors and members held as bytes work on\n\
         /// byte arrays in the object's (big-endian) byte order whatever the host, and\n\
         /// `u8` fields have no byte order. Multi-byte integer fields typed as Rust integers\n\
         /// hold big-endian bytes here, so the tests read them with `from_be`; the layouts\n\
         /// (sizes, offsets) are the same on both endiannesses.\n\
         pub mod bpfeb_bitfields_values_unguarded { include!(concat!(env!(\"OUT_DIR\"), \"/bpfeb_bitfields_values_unguarded.rs\")); }\n",
    );
    all.push_str(
        "/// Layout probes, one module per fixture (see `src/walk.rs`).\npub mod probes {\n",
    );
    for name in &names {
        writeln!(
            all,
            "    pub mod {name} {{ include!(concat!(env!(\"OUT_DIR\"), \"/probes_{name}.rs\")); }}"
        )
        .unwrap();
    }
    all.push_str("}\n/// Every fixture of `fixtures/bpfel`, in name order.\npub const FIXTURES: &[crate::Fixture] = &[\n");
    all.push_str(&table);
    all.push_str("];\n");
    write(&out.join("fixtures.rs"), &all);
}

fn load(path: &Path) -> bpfgen_core::Model {
    bpfgen_core::load(path, &bpfgen_core::Options::default())
        .unwrap_or_else(|e| panic!("bpfgen cannot load {}: {e}", path.display()))
}

fn read(path: &Path) -> String {
    println!("cargo:rerun-if-changed={}", path.display());
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) {
    // Only rewrite on change, so an unchanged fixture does not rebuild the library.
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Removes the `#[cfg(not(target_endian = "big"))] ::core::compile_error!(…);` item,
/// which must be there exactly once.
fn remove_guard(code: &str) -> String {
    assert_eq!(
        code.matches(GUARD_START).count(),
        1,
        "the big-endian output must contain the endianness guard exactly once"
    );
    let start = code.find(GUARD_START).unwrap();
    let end = start
        + code[start..]
            .find(");\n")
            .expect("the guard's compile_error! ends with `);`")
        + 3;
    let out = format!("{}{}", &code[..start], &code[end..]);
    assert!(
        !out.contains("compile_error!") && !out.contains("target_endian"),
        "removing the guard left an endianness check behind"
    );
    out
}

/// `PROBE` and `run` for one fixture.
fn probe_source(name: &str, w: &walk::Walk) -> String {
    let mut s = format!(
        "// Layout probes of `{name}`, generated by tests/build.rs from src/walk.rs.\n\n\
         /// `(key, value)`: sizes, alignments and byte offsets computed by the Rust compiler\n\
         /// from the generated types (`size_of`, `align_of`, sums of `offset_of!`).\n\
         pub const PROBE: &[(&str, usize)] = &[\n"
    );
    for c in &w.checks {
        if let Some(e) = &c.rust_const {
            writeln!(s, "    ({:?}, {e}),", c.key).unwrap();
        }
    }
    s.push_str(
        "];\n\n\
         /// Calls `f(key, bytes)` for every member the runtime probe reaches: `bytes` is a\n\
         /// zeroed value of the top-level type in which only that member was set to all\n\
         /// ones, through the generated fields, accessors and setters.\n\
         pub fn run(f: &mut dyn FnMut(&'static str, &[u8])) {\n",
    );
    for c in &w.checks {
        if let Some(set) = &c.rust_set {
            writeln!(
                s,
                "    {{ let mut v: {} = ::zerocopy::FromZeros::new_zeroed(); {set} f({:?}, ::zerocopy::IntoBytes::as_bytes(&v)); }}",
                c.rust_top, c.key
            )
            .unwrap();
        }
    }
    s.push_str("}\n");
    s
}
