//! Committed expected outputs: what bpfgen generates for every fixture (both byte
//! orders) and for the load balancer's object, with the default options and a few
//! others, compared byte for byte with `tests/expected/`. A change to generated code
//! shows up as a reviewable diff of those files; they are also where a newcomer reads
//! what C becomes in Rust.
//!
//! Regenerate them after an intended change with
//!
//! ```sh
//! BPFGEN_BLESS=1 cargo test -p bpfgen-tests --test expected
//! ```
//!
//! and review `git diff tests/expected/`. A file for an input or option set that no
//! longer exists fails the test too (remove it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bpfgen_core::Options;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// The option sets beyond the default, and the inputs they apply to.
fn variants(name: &str) -> Vec<(&'static str, Options)> {
    let mut v = vec![("", Options::default())];
    if matches!(name, "maps" | "tracing" | "outer" | "lb") {
        v.push((
            "--aya--embed",
            Options {
                aya: true,
                embed: true,
                ..Default::default()
            },
        ));
        v.push((
            "--no-zerocopy",
            Options {
                zerocopy: Some(false),
                ..Default::default()
            },
        ));
    }
    v
}

/// (label, object, expected file) of every case.
fn cases() -> Vec<(String, PathBuf, PathBuf, Options)> {
    let root = root();
    let mut inputs = Vec::new();
    for endian in ["bpfel", "bpfeb"] {
        let mut objs: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures").join(endian))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
            .collect();
        objs.sort();
        for o in objs {
            inputs.push((endian, o));
        }
    }
    inputs.push(("bpfel", root.join("examples/lb/bpf/lb.bpf.o")));
    let mut out = Vec::new();
    for (endian, obj) in inputs {
        let name = obj
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".bpf.o")
            .to_string();
        for (suffix, opts) in variants(&name) {
            let file = root
                .join("tests/expected")
                .join(endian)
                .join(format!("{name}{suffix}.rs"));
            out.push((format!("{endian}/{name}{suffix}"), obj.clone(), file, opts));
        }
    }
    out
}

#[test]
fn generated_code_equals_the_committed_files() {
    let bless = std::env::var_os("BPFGEN_BLESS").is_some();
    let mut differ = Vec::new();
    let mut wanted = BTreeSet::new();
    for (label, obj, file, opts) in cases() {
        wanted.insert(file.clone());
        let model = bpfgen_core::load(&obj, &opts).unwrap_or_else(|e| panic!("{label}: {e}"));
        // As `bpfgen OBJ -o FILE` writes it: `--embed`'s path relative to the file.
        let code = model
            .generate_to(&opts, Some(&file))
            .unwrap_or_else(|e| panic!("{label}: {e}"))
            .code;
        if bless {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            if std::fs::read_to_string(&file).ok().as_deref() != Some(code.as_str()) {
                std::fs::write(&file, &code).unwrap();
            }
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(committed) if committed == code => {}
            Ok(committed) => {
                let line = committed
                    .lines()
                    .zip(code.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(committed.lines().count().min(code.lines().count()));
                differ.push(format!(
                    "{label}: differs from {} at line {} (committed {} lines, generated {})",
                    file.display(),
                    line + 1,
                    committed.lines().count(),
                    code.lines().count()
                ));
            }
            Err(e) => differ.push(format!("{label}: {}: {e}", file.display())),
        }
    }
    // No stale files.
    let dir = root().join("tests/expected");
    for endian in ["bpfel", "bpfeb"] {
        for e in std::fs::read_dir(dir.join(endian)).unwrap() {
            let p = e.unwrap().path();
            if !wanted.contains(&p) {
                if bless {
                    std::fs::remove_file(&p).unwrap();
                } else {
                    differ.push(format!(
                        "{}: no input or option set makes it (remove it)",
                        p.display()
                    ));
                }
            }
        }
    }
    assert!(
        differ.is_empty(),
        "generated code differs from tests/expected/ (if intended: BPFGEN_BLESS=1 cargo test -p bpfgen-tests --test expected, then review git diff tests/expected/):\n{}",
        differ.join("\n")
    );
}
