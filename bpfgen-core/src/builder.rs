//! The build-script API: generate into `OUT_DIR` from `build.rs`.
//!
//! ```no_run
//! // in build.rs's main():
//! bpfgen_core::builder::Builder::new("src/bpf/lb.bpf.o")
//!     .types(["vip_key", "vip_meta"])
//!     .generate()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! // in src/lib.rs:  include!(concat!(env!("OUT_DIR"), "/lb.rs"));
//! ```
//!
//! With [`Builder::compile`] the object is first built from its C source with clang
//! (`$BPF_CLANG`, else `clang-19`, else `clang`), as libbpf-cargo builds it:
//! `-g -O2 -target bpfel` (`bpfeb` for a big-endian target), `-D__TARGET_ARCH_<arch>`
//! for the target (`x86`, `arm64`, `s390`, … what `bpf_tracing.h` expects), and the
//! host's multiarch include directory (`<asm/types.h>`). clang finds
//! `#include "vmlinux.h"` next to the C source; elsewhere, say where with
//! `.clang_args(["-Isrc/bpf/include"])`.
//!
//! The options are the CLI's and `include_bpf!`'s (see [`Options`]).
//! `cargo:rerun-if-changed` is printed for the object, or for the C source and every
//! file clang read while compiling it (its dependency file: included headers such as
//! `vmlinux.h` and the program's own), so an edit to a header rebuilds the layout.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, ErrorKind};
use crate::Options;

/// Generates Rust from a BPF object in a build script.
#[derive(Clone, Debug)]
pub struct Builder {
    object: PathBuf,
    source: Option<PathBuf>,
    clang: Option<PathBuf>,
    clang_args: Vec<String>,
    output: Option<PathBuf>,
    options: Options,
}

impl Builder {
    /// `object`: the `.bpf.o` to read (relative to the package root, as build
    /// scripts run there).
    pub fn new(object: impl Into<PathBuf>) -> Self {
        Builder {
            object: object.into(),
            source: None,
            clang: None,
            clang_args: Vec::new(),
            output: None,
            options: Options::default(),
        }
    }

    /// Builds the object from this C source with clang first; the object is written
    /// to `OUT_DIR` under the file name given to [`Builder::new`].
    pub fn compile(mut self, source: impl Into<PathBuf>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The clang to use for [`Builder::compile`] (default: `$BPF_CLANG`, else
    /// `clang-19`, else `clang`).
    pub fn clang(mut self, path: impl Into<PathBuf>) -> Self {
        self.clang = Some(path.into());
        self
    }

    /// Extra clang arguments (e.g. `-I` paths) for [`Builder::compile`].
    pub fn clang_args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.clang_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Where to write the Rust file (default: `$OUT_DIR/<object stem>.rs`, the stem
    /// without `.bpf.o`/`.o`).
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.output = Some(path.into());
        self
    }

    /// All options at once.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// `--type`: only these types and what they hold by value.
    pub fn types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.options.types.extend(types.into_iter().map(Into::into));
        self
    }

    /// `--zerocopy` / `--no-zerocopy`.
    pub fn zerocopy(mut self, on: bool) -> Self {
        self.options.zerocopy = Some(on);
        self
    }

    /// `--aya`.
    pub fn aya(mut self, on: bool) -> Self {
        self.options.aya = on;
        self
    }

    /// `--embed`.
    pub fn embed(mut self, on: bool) -> Self {
        self.options.embed = on;
        self
    }

    /// Compiles (if asked), generates and writes the Rust file; returns its path.
    pub fn generate(self) -> Result<PathBuf, Error> {
        let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from);
        let object = match &self.source {
            Some(src) => {
                // The object goes to OUT_DIR, or next to an explicit output.
                let dir = match (&out_dir, &self.output) {
                    (Some(d), _) => d.clone(),
                    (None, Some(o)) => o.parent().map(Path::to_path_buf).unwrap_or_default(),
                    (None, None) => return Err(no_out_dir(src)),
                };
                let name = self
                    .object
                    .file_name()
                    .map_or_else(|| "bpf.o".into(), |n| n.to_owned());
                let obj = dir.join(name);
                println!("cargo:rerun-if-env-changed=BPF_CLANG");
                for input in compile(src, &obj, self.clang.as_deref(), &self.clang_args)? {
                    println!("cargo:rerun-if-changed={}", input.display());
                }
                obj
            }
            None => {
                println!("cargo:rerun-if-changed={}", self.object.display());
                self.object.clone()
            }
        };
        let output = match self.output {
            Some(o) => o,
            None => out_dir
                .ok_or_else(|| no_out_dir(&object))?
                .join(format!("{}.rs", stem(&self.object))),
        };
        let generated =
            crate::load(&object, &self.options)?.generate_to(&self.options, Some(&output))?;
        for w in &generated.warnings {
            println!("cargo:warning=bpfgen: {w}");
        }
        crate::output::write_output(&output, &generated.code, &[object.as_path()])?;
        Ok(output)
    }
}

fn no_out_dir(p: &Path) -> Error {
    ErrorKind::Build(
        "OUT_DIR is not set: call the builder from a build script, or set .output()".into(),
    )
    .at(p.display().to_string())
}

/// `lb.bpf.o` → `lb`.
fn stem(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.trim_end_matches(".o")
        .trim_end_matches(".bpf")
        .to_string()
}

/// The `-D__TARGET_ARCH_…` name of a Rust target architecture (`CARGO_CFG_TARGET_ARCH`),
/// as libbpf's `bpf_tracing.h` spells it.
pub fn target_arch_define(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" | "x86" => "x86",
        "aarch64" => "arm64",
        "powerpc64" | "powerpc" => "powerpc",
        "s390x" => "s390",
        "riscv64" | "riscv32" => "riscv",
        "loongarch64" => "loongarch",
        "mips64" | "mips" => "mips",
        "sparc64" => "sparc",
        other => other,
    }
}

/// Compiles `src` to `obj`; returns every file clang read (the source first).
fn compile(
    src: &Path,
    obj: &Path,
    clang: Option<&Path>,
    extra: &[String],
) -> Result<Vec<PathBuf>, Error> {
    let label = src.display().to_string();
    let candidates: Vec<String> = match (clang, std::env::var("BPF_CLANG")) {
        (Some(c), _) => vec![c.display().to_string()],
        (None, Ok(c)) => vec![c],
        (None, Err(_)) => vec!["clang-19".into(), "clang".into()],
    };
    let clang = candidates
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or_else(|| {
            ErrorKind::Build(format!(
                "cannot compile it: no clang found (tried {}; install clang-19 or set BPF_CLANG)",
                candidates.join(", ")
            ))
            .at(&label)
        })?;
    // The target's, when run by cargo; else this machine's.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH")
        .unwrap_or_else(|_| std::env::consts::ARCH.to_string());
    let big = match std::env::var("CARGO_CFG_TARGET_ENDIAN") {
        Ok(e) => e == "big",
        Err(_) => cfg!(target_endian = "big"),
    };
    let depfile = obj.with_extension("d");
    let mut cmd = Command::new(clang);
    cmd.args(["-g", "-O2", "-target", if big { "bpfeb" } else { "bpfel" }])
        .arg(format!("-D__TARGET_ARCH_{}", target_arch_define(&arch)))
        .arg("-MD")
        .arg("-MF")
        .arg(&depfile)
        .arg("-c")
        .arg(src)
        .arg("-o")
        .arg(obj);
    // <asm/types.h> is in the build machine's multiarch directory on Debian/Ubuntu.
    let multiarch = PathBuf::from(format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH));
    if multiarch.join("asm").is_dir() {
        cmd.arg(format!("-I{}", multiarch.display()));
    }
    cmd.args(extra);
    let out = cmd.output().map_err(|e| ErrorKind::Io(e).at(&label))?;
    if !out.status.success() {
        return Err(ErrorKind::Build(format!(
            "{clang} failed:\n{}",
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
        .at(&label));
    }
    let deps = std::fs::read_to_string(&depfile).map_err(|e| {
        ErrorKind::Build(format!(
            "{clang} wrote no dependency file `{}`: {e}",
            depfile.display()
        ))
        .at(&label)
    })?;
    let mut inputs = vec![src.to_path_buf()];
    for d in depfile_inputs(&deps) {
        if !inputs.contains(&d) {
            inputs.push(d);
        }
    }
    Ok(inputs)
}

/// The prerequisites of a Make-style dependency file (`obj: a.c b.h \⏎ c.h`), with
/// `\ ` (an escaped space) and `$$` unescaped.
fn depfile_inputs(text: &str) -> Vec<PathBuf> {
    let Some((_, deps)) = text.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(' ') | Some('#') | Some('\\') => cur.extend(chars.next()),
                Some('\n') => {
                    chars.next();
                }
                Some('\r') => {
                    chars.next();
                    chars.next_if_eq(&'\n');
                }
                _ => cur.push(c),
            },
            '$' if chars.peek() == Some(&'$') => cur.extend(chars.next()),
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathBuf::from(cur));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depfile_prerequisites() {
        let d = "/o/x.bpf.o: src/x.bpf.c src/vmlinux.h \\\n  /usr/include/bpf/bpf_helpers.h my\\ dir/a.h \\\n  a$$b.h\n";
        assert_eq!(
            depfile_inputs(d),
            [
                "src/x.bpf.c",
                "src/vmlinux.h",
                "/usr/include/bpf/bpf_helpers.h",
                "my dir/a.h",
                "a$b.h"
            ]
            .map(PathBuf::from)
        );
        assert!(depfile_inputs("garbage").is_empty());
    }

    #[test]
    fn arch_defines_match_bpf_tracing_h() {
        assert_eq!(target_arch_define("x86_64"), "x86");
        assert_eq!(target_arch_define("aarch64"), "arm64");
        assert_eq!(target_arch_define("s390x"), "s390");
        assert_eq!(target_arch_define("riscv64"), "riscv");
        assert_eq!(target_arch_define("powerpc64"), "powerpc");
    }
}
