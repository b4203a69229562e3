//! bpfgen as a user meets it: a fresh binary crate with `#![deny(warnings)]` that takes
//! the tracing fixture's types (a vmlinux.h object) through all four front ends — a
//! generated file as a module (`mod types;`), the same file through `include!`, the
//! build-script builder compiling the C source into `OUT_DIR`, and `include_bpf!` — and
//! uses one type of each. Then a field is added to the C header the program includes,
//! and a plain `cargo run` must show the builder's layout change (the builder reruns
//! when any file clang read changes, not only the `.c`).
//!
//! The crate is built by the `cargo` running this test, offline, with the workspace's
//! lock file (so the dependencies are the ones already downloaded) and its own target
//! directory under the workspace's `target/`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

const MAIN_RS: &str = r#"#![deny(warnings)]
//! A tracing tool's user space, four ways to the same types.

/// `bpfgen tracing.bpf.o -o src/types.rs`
mod types;

/// `include!` of the same generated file.
mod included {
    include!("generated.rs");
}

/// build.rs: `Builder::new("tracing.bpf.o").compile("src/bpf/tracing.bpf.c")`.
mod built {
    include!(concat!(env!("OUT_DIR"), "/tracing.rs"));
}

/// `include_bpf!` of the object.
mod expanded {
    bpfgen_macros::include_bpf!("tracing.bpf.o");
}

use zerocopy::FromBytes;

fn main() {
    // A ring-buffer record decoded without `unsafe` (a copy: the array on the stack
    // need not be 8-aligned).
    let record = [0u8; 512];
    let e = built::event::read_from_prefix(&record[..]).map(|(e, _)| e.pid).unwrap_or(-1);
    let flag: bool = true;
    println!(
        "{} {} {} {} {e} {flag}",
        core::mem::size_of::<types::event>(),
        core::mem::size_of::<included::event>(),
        core::mem::size_of::<built::event>(),
        core::mem::size_of::<expanded::maps_struct>(),
    );
}
"#;

const BUILD_RS: &str = r#"fn main() {
    bpfgen_core::builder::Builder::new("tracing.bpf.o")
        .compile("src/bpf/tracing.bpf.c")
        .generate()
        .unwrap_or_else(|e| panic!("{e}"));
}
"#;

fn cargo_run(dir: &Path, target: &Path) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--quiet", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the user crate does not build or run:\n{stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "the user crate builds with warnings:\n{stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn four_front_ends_deny_warnings_and_the_builder_follows_headers() {
    let ws = workspace();
    let fixtures = ws.join("fixtures");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let bpf = dir.join("src/bpf");
    std::fs::create_dir_all(&bpf).unwrap();
    for f in ["tracing.bpf.c", "tracing.h"] {
        std::fs::copy(fixtures.join("src").join(f), bpf.join(f)).unwrap();
    }
    // Next to the C source, where clang finds `#include "vmlinux.h"` by itself.
    std::fs::copy(
        fixtures.join("src/vmlinux/vmlinux.h"),
        bpf.join("vmlinux.h"),
    )
    .unwrap();
    let object = dir.join("tracing.bpf.o");
    std::fs::copy(fixtures.join("bpfel/tracing.bpf.o"), &object).unwrap();

    // The CLI's output, written as `bpfgen tracing.bpf.o -o src/types.rs` writes it.
    let opts = bpfgen_core::Options::default();
    let model = bpfgen_core::load(&object, &opts).unwrap();
    for name in ["types.rs", "generated.rs"] {
        let out = dir.join("src").join(name);
        let g = model.generate_to(&opts, Some(&out)).unwrap();
        assert!(g.warnings.is_empty(), "{:?}", g.warnings);
        std::fs::write(&out, g.code).unwrap();
    }

    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"user-tool\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\nzerocopy = {{ version = \"0.8\", features = [\"derive\"] }}\n\
             bpfgen-macros = {{ path = {:?} }}\n\n\
             [build-dependencies]\nbpfgen-core = {{ path = {:?} }}\n\n[workspace]\n",
            ws.join("bpfgen-macros"),
            ws.join("bpfgen-core"),
        ),
    )
    .unwrap();
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("build.rs"), BUILD_RS).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN_RS).unwrap();

    let target = ws.join("target/user-crate");
    assert_eq!(cargo_run(dir, &target), "168 168 168 24 0 true\n");

    // A field added to the header the C source includes: the builder's layout follows
    // (the committed object the other three read is unchanged).
    let h = bpf.join("tracing.h");
    let text = std::fs::read_to_string(&h).unwrap();
    let grown = text.replacen(
        "\tbool exit_event;\n",
        "\tbool exit_event;\n\t__u64 extra;\n",
        1,
    );
    assert_ne!(grown, text, "tracing.h no longer has `bool exit_event;`");
    std::fs::write(&h, grown).unwrap();
    assert_eq!(cargo_run(dir, &target), "168 168 176 24 0 true\n");
}
