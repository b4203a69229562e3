//! Big-endian objects on this little-endian host: the generated file must not
//! compile, and the only error is the guard's message. (On a big-endian target the
//! same files compile: see tests/cross.)

use std::path::Path;

use bpfgen_core::Options;

#[path = "../support/rustc.rs"]
mod rustc;

#[test]
fn bpfeb_outputs_fail_with_the_guard_message_only() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfeb");
    let tmp = tempfile::tempdir().unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "bpfeb fixtures: {names:?}");
    let opts = Options {
        zerocopy: Some(false), // plain rustc below has no zerocopy
        ..Options::default()
    };
    for obj in &names {
        let file = obj.file_name().unwrap().to_string_lossy().into_owned();
        let code = bpfgen_core::generate_file(obj, &opts).unwrap();
        let out = rustc::check_no_std(tmp.path(), &code);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{file}: a big-endian object's types compiled on a little-endian host"
        );
        let errors = rustc::error_lines(&out);
        let want = format!(
            "error: bpfgen: these types mirror `{file}`, a big-endian BPF object, but this target is little-endian: \
             the object's maps and globals hold big-endian bytes, so these layouts and bitfield accessors would be \
             wrong here. Generate from a little-endian object (clang -target bpfel) for this host."
        );
        assert_eq!(
            errors,
            [want.as_str(), "error: aborting due to 1 previous error"],
            "{file}:\n{stderr}"
        );
    }
}
