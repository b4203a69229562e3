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
//! (`$BPF_CLANG`, else `clang-19`, else `clang`). The options are the CLI's and
//! `include_bpf!`'s (see [`Options`]). `cargo:rerun-if-changed` is printed for the
//! object (and the C source), so cargo reruns the script when they change.

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
                compile(src, &obj, self.clang.as_deref(), &self.clang_args)?;
                println!("cargo:rerun-if-changed={}", src.display());
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
        crate::write_atomic(&output, &generated.code)?;
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

fn compile(src: &Path, obj: &Path, clang: Option<&Path>, extra: &[String]) -> Result<(), Error> {
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
    let mut cmd = Command::new(clang);
    cmd.args(["-g", "-O2", "-target", "bpf", "-c"])
        .arg(src)
        .arg("-o")
        .arg(obj);
    let multiarch = Path::new("/usr/include/x86_64-linux-gnu");
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
    Ok(())
}
