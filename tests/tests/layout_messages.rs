//! The sentence a failing layout check composes, for each kind of entry: a generated
//! file with one BTF value edited no longer compiles, and the only error names the
//! entry and both values. (The offset case is the `bpfgen-macros` trybuild test.)

use std::path::Path;

use bpfgen_core::Options;

#[path = "../support/rustc.rs"]
mod rustc;

/// The `error…` lines of compiling the `layout` fixture's Rust with `from` → `to`.
fn errors_with(from: &str, to: &str) -> Vec<String> {
    let obj = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o");
    let opts = Options {
        zerocopy: Some(false), // plain rustc below has no zerocopy
        ..Options::default()
    };
    let code = bpfgen_core::generate_file(&obj, &opts).unwrap();
    assert_eq!(code.matches(from).count(), 1, "`{from}` must occur once");
    let tmp = tempfile::tempdir().unwrap();
    let out = rustc::check_no_std(tmp.path(), &code.replace(from, to));
    assert!(!out.status.success(), "compiled with `{to}`");
    rustc::error_lines(&out)
}

#[test]
fn a_wrong_size_names_the_type_and_both_values() {
    assert_eq!(
        errors_with("        [0, 4, 8, 16, 8],\n", "        [0, 4, 8, 17, 8],\n"),
        [
            "error[E0080]: evaluation panicked: bpfgen: size of `lay_u32_u64` differs from the BTF (BTF 17, Rust 16)",
            "error: aborting due to 1 previous error",
        ]
    );
}

#[test]
fn a_wrong_alignment_names_the_type_and_both_values() {
    assert_eq!(
        errors_with("        [0, 4, 8, 16, 8],\n", "        [0, 4, 8, 16, 4],\n"),
        [
            "error[E0080]: evaluation panicked: bpfgen: alignment of `lay_u32_u64` differs from the BTF (BTF 4, Rust 8)",
            "error: aborting due to 1 previous error",
        ]
    );
}

#[test]
fn a_wrong_member_size_names_its_bytes() {
    // A union member's getter relies on the size of its type (`lay_holes`, 24 bytes).
    assert_eq!(
        errors_with("        [24, 20, 24, 8],\n", "        [24, 21, 24, 8],\n"),
        [
            "error[E0080]: evaluation panicked: bpfgen: size of the value at bytes 0..20 of `lay_union` differs from the BTF (BTF 21, Rust 20)",
            "error: aborting due to 1 previous error",
        ]
    );
}
