//! `include_bpf!` as users meet it: crates that use it compile and work; mistakes give
//! the reviewed messages in tests/ui/fail/*.stderr.
//!
//! trybuild builds each file as a crate under `target/tests/trybuild/bpfgen-macros/`,
//! so fixture paths in the files are relative to that directory
//! (`../../../../fixtures/…` is the workspace's `fixtures/`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
