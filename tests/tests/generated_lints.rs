//! The generated code passes `clippy -D warnings` and `rustdoc -D warnings` whatever the
//! C names are (found generating all of vmlinux):
//!
//! - Accessors (union members, bitfields, members held as bytes) are methods named
//!   after C members, so a C member called `len`, `new`, `clone`, `into_*`, `from_*` or
//!   `to_*` runs into clippy's method-naming conventions (vmlinux has `len` bitfields
//!   and union members, in `btrfs_cmd_header`, `virtio_vsock_hdr`, `ct_data_s`).
//!   Linted with `clippy-driver`, also with `avoid-breaking-exported-api = false`
//!   (which turns `wrong_self_convention` on for public methods).
//! - The `Debug` helpers of a file with a struct of more than twelve members (which
//!   adds `__bpfgen_fmt::Group`) pass clippy too; no fixture has one.
//! - Docs name anonymous types by where C uses them (`qspinlock.<anon0>`); that text
//!   must sit in one code span, or rustdoc reads `<anon0>` as an unclosed HTML tag.
//!
//! The fixtures are linted by the workspace's clippy run (zerocopy on); their docs are
//! checked here with rustdoc. The odd names are built here by hand.

use std::path::Path;
use std::process::Command;

#[path = "../src/btf_builder.rs"]
#[allow(dead_code)]
mod btf_builder;

use btf_builder::{bf, m, Btf};

/// Whether `tool --version` runs.
fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn skipped(test: &str, tool: &str) {
    eprintln!("!!! {test} SKIPPED: `{tool}` is not installed");
    println!("{test} SKIPPED: `{tool}` is not installed");
}

/// `dir/lib.rs`: a `no_std` library denying warnings whose module `g` is `code`.
fn library(dir: &Path, code: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("g.rs"), code).unwrap();
    let lib = dir.join("lib.rs");
    std::fs::write(
        &lib,
        "#![no_std]\n#![deny(warnings)]\npub mod g {\n    include!(\"g.rs\");\n}\n",
    )
    .unwrap();
    lib
}

fn outcome(out: std::process::Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `clippy-driver -D warnings` on `code` (as a library's module), with `clippy.toml`
/// holding `conf` (none: an empty configuration directory).
fn clippy(code: &str, conf: Option<&str>) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), code);
    let conf_dir = dir.path().join("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    if let Some(c) = conf {
        std::fs::write(conf_dir.join("clippy.toml"), c).unwrap();
    }
    outcome(
        Command::new("clippy-driver")
            .args(["--edition", "2021", "--crate-type", "lib", "--crate-name"])
            .arg("bpfgen_lints")
            .args(["--emit=metadata", "-D", "warnings", "-o"])
            .arg(dir.path().join("out.rmeta"))
            .arg(&lib)
            .env("CLIPPY_CONF_DIR", &conf_dir)
            .output()
            .unwrap(),
    )
}

/// `rustdoc -D warnings` on `code` (as a library's module).
fn rustdoc(code: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), code);
    outcome(
        Command::new("rustdoc")
            .args(["--edition", "2021", "--crate-type", "lib", "--crate-name"])
            .arg("bpfgen_docs")
            .args(["-D", "warnings", "-o"])
            .arg(dir.path().join("doc"))
            .arg(&lib)
            .output()
            .unwrap(),
    )
}

/// Generates every type of `blob` (raw BTF) without zerocopy (no dependencies).
fn generate(blob: &[u8]) -> String {
    let model = bpfgen_core::load_bytes(blob, "lints.btf", None).unwrap_or_else(|e| panic!("{e}"));
    let opts = bpfgen_core::Options {
        all: true,
        zerocopy: Some(false),
        ..Default::default()
    };
    model.generate(&opts).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn accessors_named_like_std_methods_pass_clippy() {
    if !installed("clippy-driver") {
        return skipped(
            "accessors_named_like_std_methods_pass_clippy",
            "clippy-driver",
        );
    }
    let mut b = Btf::new();
    let u32t = b.int("unsigned int", 4, false);
    let u8t = b.int("unsigned char", 1, false);
    let names = [
        "len",
        "is_empty",
        "new",
        "clone",
        "to_bytes",
        "into_inner",
        "from_raw",
        "next",
        "default",
    ];
    let members: Vec<_> = names.iter().map(|n| m(n, u32t, 0)).collect();
    b.union("lint_union", 4, &members);
    b.structure(
        "lint_bits",
        4,
        &[
            bf("len", u32t, 0, 3),
            bf("new", u32t, 3, 5),
            bf("clone", u32t, 8, 8),
            bf("into_inner", u32t, 16, 16),
        ],
    );
    // Packed: `len` at offset 1 is held as bytes, with `len()` / `set_len()`.
    b.structure("lint_packed", 5, &[m("a", u8t, 0), m("len", u32t, 1)]);
    // More than twelve members: `Debug` groups its values (`__bpfgen_fmt::Group`).
    let wide: Vec<String> = (0..13).map(|i| format!("w{i}")).collect();
    let wide: Vec<_> = wide.iter().zip(0..).map(|(n, i)| m(n, u8t, i)).collect();
    b.structure("lint_wide", 13, &wide);
    let code = generate(&b.blob());
    assert!(
        code.contains("pub(super) struct Group<V>"),
        "no Group helper:\n{code}"
    );
    for item in ["lint_union", "lint_bits", "lint_packed"] {
        let impl_start = code
            .find(&format!("impl {item} {{"))
            .unwrap_or_else(|| panic!("no accessor impl for `{item}`:\n{code}"));
        assert!(
            code[impl_start..].contains("pub fn len(&self)"),
            "`{item}` has no `len()` accessor"
        );
    }
    for conf in [None, Some("avoid-breaking-exported-api = false\n")] {
        if let Err(e) = clippy(&code, conf) {
            panic!("clippy rejects the generated code (clippy.toml: {conf:?}):\n{e}\n--- code ---\n{code}");
        }
    }
}

#[test]
fn docs_of_anonymous_types_pass_rustdoc() {
    if !installed("rustdoc") {
        return skipped("docs_of_anonymous_types_pass_rustdoc", "rustdoc");
    }
    let mut b = Btf::new();
    let u32t = b.int("unsigned int", 4, false);
    let named = b.structure("", 4, &[m("x", u32t, 0)]);
    let unnamed = b.union("", 4, &[m("y", u32t, 0), m("z", u32t, 0)]);
    let deeper = b.structure("", 4, &[m("", unnamed, 0)]);
    b.structure(
        "outer",
        12,
        &[m("hdr", named, 0), m("", unnamed, 4), m("", deeper, 8)],
    );
    let td = b.structure("", 4, &[m("w", u32t, 0)]);
    b.typedef("thing_t", td);
    let code = generate(&b.blob());
    for doc in [
        "/// C `anonymous struct of outer.hdr` (BTF type id",
        "/// C `anonymous union of outer.<anon0>` (BTF type id",
        "/// C `anonymous struct of outer.<anon1>` (BTF type id",
        "/// C `anonymous struct, typedef struct { … } thing_t` (BTF type id",
    ] {
        assert!(code.contains(doc), "no `{doc}` in:\n{code}");
    }
    if let Err(e) = rustdoc(&code) {
        panic!("rustdoc rejects the generated docs:\n{e}\n--- code ---\n{code}");
    }
}

#[test]
fn fixture_docs_pass_rustdoc() {
    if !installed("rustdoc") {
        return skipped("fixture_docs_pass_rustdoc", "rustdoc");
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel");
    let mut objs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
        .collect();
    objs.sort();
    assert!(!objs.is_empty());
    let opts = bpfgen_core::Options {
        zerocopy: Some(false),
        ..Default::default()
    };
    for obj in objs {
        let code = bpfgen_core::generate_file(&obj, &opts)
            .unwrap_or_else(|e| panic!("{}: {e}", obj.display()));
        if let Err(e) = rustdoc(&code) {
            panic!(
                "{}: rustdoc rejects the generated docs:\n{e}",
                obj.display()
            );
        }
    }
}
