//! Users' crates rebuild when the BPF side changes: a crate using `include_bpf!` on an
//! object, and a build script using `bpfgen_core::builder::Builder` to compile a C
//! source and generate into OUT_DIR. After the object and the source change, the next
//! `cargo run` must see the new layouts. Needs clang-19 (installed by .ci/run).

use std::path::{Path, PathBuf};
use std::process::Command;

fn ws() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn clang(src: &Path, obj: &Path) {
    let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang-19".into());
    let out = Command::new(&clang)
        .args([
            "-g",
            "-O2",
            "-target",
            "bpfel",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(src)
        .arg("-o")
        .arg(obj)
        .output()
        .unwrap_or_else(|e| {
            panic!("{clang} is needed for this test (bash .ci/run installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn source(a_type: &str) -> String {
    format!("#include <linux/types.h>\nstruct t {{ {a_type} a; __u32 b; }};\nstruct t g_t;\n")
}

fn cargo_run(dir: &Path) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn object_and_source_changes_rebuild_the_crate() {
    let ws = ws();
    // Under target/ so repeated runs reuse the build; its own [workspace].
    let dir = ws.join("target/e2e-rebuild");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            r#"[package]
name = "rebuild-check"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
bpfgen-macros = {{ path = "{ws}/bpfgen-macros" }}
zerocopy = {{ version = "0.8", features = ["derive"] }}

[build-dependencies]
bpfgen-core = {{ path = "{ws}/bpfgen-core" }}

[workspace]
"#,
            ws = ws.display()
        ),
    )
    .unwrap();
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(
        dir.join("build.rs"),
        r#"fn main() {
    bpfgen_core::builder::Builder::new("gen.bpf.o")
        .compile("gen.bpf.c")
        .generate()
        .unwrap_or_else(|e| panic!("{e}"));
}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        r#"mod from_macro {
    bpfgen_macros::include_bpf!("obj.bpf.o");
}
mod from_build_rs {
    include!(concat!(env!("OUT_DIR"), "/gen.rs"));
}
fn main() {
    println!(
        "{} {}",
        core::mem::size_of::<from_macro::t>(),
        core::mem::size_of::<from_build_rs::t>()
    );
}
"#,
    )
    .unwrap();

    std::fs::write(dir.join("obj.bpf.c"), source("__u32")).unwrap();
    clang(&dir.join("obj.bpf.c"), &dir.join("obj.bpf.o"));
    std::fs::write(dir.join("gen.bpf.c"), source("__u32")).unwrap();
    assert_eq!(cargo_run(&dir), "8 8\n");

    // Widen `a` in both: the object for the macro, the C source for the build script.
    std::fs::write(dir.join("obj.bpf.c"), source("__u64")).unwrap();
    clang(&dir.join("obj.bpf.c"), &dir.join("obj.bpf.o"));
    std::fs::write(dir.join("gen.bpf.c"), source("__u64")).unwrap();
    assert_eq!(cargo_run(&dir), "16 16\n");
}

#[test]
fn builder_names_a_missing_clang() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("x.bpf.c");
    std::fs::write(&src, "int x;\n").unwrap();
    let err = bpfgen_core::builder::Builder::new("x.bpf.o")
        .compile(&src)
        .clang("/nonexistent/clang-19")
        .output(d.path().join("x.rs"))
        .generate()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: cannot compile it: no clang found (tried /nonexistent/clang-19; install clang-19 or set BPF_CLANG)",
            src.display()
        )
    );
}
