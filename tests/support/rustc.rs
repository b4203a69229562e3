//! Compiling generated code with plain rustc (no dependencies, so generate it with
//! zerocopy off), as a module of a `#![no_std]` library with every warning denied, or
//! into a program (`command`).
//! Shared by test files through `#[path]`.

use std::path::Path;
use std::process::{Command, Output};

/// `rustc --emit metadata` of the library `pub mod m { include!("gen.rs"); }`, where
/// `gen.rs` holds `code`, in `dir`.
pub fn check_no_std(dir: &Path, code: &str) -> Output {
    check_no_std_command(dir, code).output().expect("run rustc")
}

/// [`check_no_std`]'s command, its files written, for a caller that runs it itself.
pub fn check_no_std_command(dir: &Path, code: &str) -> Command {
    let gen = dir.join("gen.rs");
    std::fs::write(&gen, code).expect("write gen.rs");
    let lib = dir.join("lib.rs");
    std::fs::write(
        &lib,
        format!("#![no_std]\n#![deny(warnings)]\npub mod m {{ include!({gen:?}); }}\n"),
    )
    .expect("write lib.rs");
    let mut cmd = command();
    cmd.args([
        "--edition",
        "2021",
        "--crate-type",
        "lib",
        "--emit",
        "metadata",
    ])
    .arg("--out-dir")
    .arg(dir)
    .arg(&lib);
    cmd
}

/// `rustc`: the one cargo runs the tests with (`RUSTC`), else the one on `PATH`.
pub fn command() -> Command {
    Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
}

/// The lines of rustc's messages that start with `error`.
#[allow(dead_code)] // not every includer needs it
pub fn error_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(str::to_string)
        .collect()
}
