//! `-o` never destroys anything: regular files are replaced atomically with sensible
//! permissions, symbolic links are followed, devices and FIFOs are written through (a
//! failed write is an error), and the input, read-only files and directories are
//! refused with nothing written.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o")
}

/// `bpfgen` under `sh` with umask 027, so created files must be 0640.
fn bpfgen(args: &[&str]) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("umask 027; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_bpfgen"))
        .args(args);
    cmd.output().expect("run bpfgen")
}

fn expected() -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .arg(fixture())
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn new_file_gets_umask_mode_and_existing_keeps_its_mode() {
    let d = tempfile::tempdir().unwrap();
    let (f, out) = (fixture(), d.path().join("types.rs"));
    let o = bpfgen(&[f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), expected());
    assert_eq!(mode(&out), 0o640);
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o604)).unwrap();
    std::fs::write(&out, "old").unwrap();
    let o = bpfgen(&[f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), expected());
    assert_eq!(mode(&out), 0o604);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}

#[test]
fn symlink_is_followed_and_kept() {
    let d = tempfile::tempdir().unwrap();
    let real = d.path().join("real.rs");
    std::fs::write(&real, "old").unwrap();
    let link = d.path().join("link.rs");
    std::os::unix::fs::symlink("real.rs", &link).unwrap();
    let o = bpfgen(&[fixture().to_str().unwrap(), "-o", link.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&real).unwrap(), expected());
    // A dangling link: its target is created.
    let dangling = d.path().join("dangling.rs");
    std::os::unix::fs::symlink("made.rs", &dangling).unwrap();
    let o = bpfgen(&[
        fixture().to_str().unwrap(),
        "-o",
        dangling.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.path().join("made.rs")).unwrap(), expected());
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn the_input_is_never_overwritten() {
    let d = tempfile::tempdir().unwrap();
    let obj = d.path().join("x.bpf.o");
    std::fs::copy(fixture(), &obj).unwrap();
    let before = std::fs::read(&obj).unwrap();
    let link = d.path().join("alias.rs");
    std::os::unix::fs::symlink(&obj, &link).unwrap();
    for target in [&obj, &link] {
        let o = bpfgen(&[obj.to_str().unwrap(), "-o", target.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(
            stderr(&o),
            format!(
                "bpfgen: error: {t}: not writing output `{t}`: it is the input `{i}`: refusing to overwrite it\n",
                t = target.display(),
                i = obj.display()
            )
        );
        assert_eq!(std::fs::read(&obj).unwrap(), before);
    }
}

#[test]
fn read_only_file_and_directory_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let ro = d.path().join("ro.rs");
    std::fs::write(&ro, "keep").unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = bpfgen(&[fixture().to_str().unwrap(), "-o", ro.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "bpfgen: error: {p}: not writing output `{p}`: it is read-only: not replacing it (make it writable, or remove it)\n",
            p = ro.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&ro).unwrap(), "keep");
    let o = bpfgen(&[
        fixture().to_str().unwrap(),
        "-o",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).ends_with(": it is a directory\n"),
        "{}",
        stderr(&o)
    );
    let missing = d.path().join("no/such/dir/x.rs");
    let o = bpfgen(&[fixture().to_str().unwrap(), "-o", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).ends_with(&format!(
            ": its directory `{}` does not exist\n",
            d.path().join("no/such/dir").display()
        )),
        "{}",
        stderr(&o)
    );
}

#[test]
fn fifo_is_written_through() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = bpfgen(&[fixture().to_str().unwrap(), "-o", fifo.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(reader.join().unwrap(), expected());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

/// Device nodes of our own (so a regression cannot replace the machine's `/dev/null`):
/// a null device takes the code and stays a device; a full device's "no space" is an
/// error. Needs root for `mknod` (CI runs as root).
#[test]
fn devices_are_written_through_and_full_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let (null, full) = (d.path().join("null"), d.path().join("full"));
    for (p, minor) in [(&null, "3"), (&full, "7")] {
        let st = Command::new("mknod")
            .arg(p)
            .args(["c", "1", minor])
            .status()
            .unwrap();
        assert!(
            st.success(),
            "mknod failed: this test needs root (as .ci/run has)"
        );
    }
    let o = bpfgen(&[fixture().to_str().unwrap(), "-o", null.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(&null)
        .unwrap()
        .file_type()
        .is_char_device());
    let o = bpfgen(&[fixture().to_str().unwrap(), "-o", full.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "bpfgen: error: {p}: cannot write output `{p}`: No space left on device (os error 28)\n",
            p = full.display()
        )
    );
    assert!(std::fs::metadata(&full)
        .unwrap()
        .file_type()
        .is_char_device());
}
