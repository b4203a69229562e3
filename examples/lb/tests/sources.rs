//! The example declares no C-layout type by hand (no `repr` attribute with `C`):
//! every type shared with the datapath comes from bpfgen (`build.rs` →
//! `$OUT_DIR/lb.rs`). This greps every Rust source of the crate, comments included,
//! with whitespace removed (so a spaced-out attribute is caught too); the needle is
//! built at run time so this file does not match itself.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            // the datapath is C; nothing else of the crate is skipped
            if p.file_name().is_some_and(|n| n == "bpf") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_hand_written_repr_c() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    for must in [
        "build.rs",
        "src/lib.rs",
        "src/control.rs",
        "src/bin/lbctl.rs",
        "tests/datapath.rs",
    ] {
        assert!(
            names.iter().any(|n| n == must),
            "{must} not found in {names:?}"
        );
    }
    let needle = ["repr", "(C"].concat();
    let mut offenders = Vec::new();
    for p in &files {
        let text: String = std::fs::read_to_string(p)
            .unwrap()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if text.contains(&needle) {
            offenders.push(p.display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "a hand-written C-layout attribute in {offenders:?}: use the types bpfgen generates"
    );
    // ... while the generated file is full of them: that is where the types are.
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/lb.rs")).unwrap();
    let generated: String = generated.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(generated.matches(&needle).count() >= 15);
    println!("{} Rust files checked: {names:?}", files.len());
}
