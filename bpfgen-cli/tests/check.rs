//! `bpfgen check` and `bpfgen layout` end to end, with objects rebuilt by clang.

use std::path::Path;
use std::process::{Command, Output};

fn bpfgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .args(args)
        .output()
        .expect("run bpfgen")
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

const V1: &str = "#include <linux/types.h>\nstruct flow { __u32 saddr; __u16 sport; __u8 proto; };\nstruct flow g_flow;\n";
/// `sport` widened: every later offset moves.
const V2: &str = "#include <linux/types.h>\nstruct flow { __u32 saddr; __u32 sport; __u8 proto; };\nstruct flow g_flow;\n";

#[test]
fn check_passes_then_catches_a_changed_struct() {
    let d = tempfile::tempdir().unwrap();
    let (src, obj, rs) = (
        d.path().join("flow.bpf.c"),
        d.path().join("flow.bpf.o"),
        d.path().join("flow.rs"),
    );
    std::fs::write(&src, V1).unwrap();
    clang(&src, &obj);
    let (o, r) = (obj.to_str().unwrap(), rs.to_str().unwrap());
    assert!(bpfgen(&[o, "--type", "flow", "-o", r]).status.success());

    let up = bpfgen(&["check", o, r]);
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&up.stdout),
        format!("bpfgen: `{r}` is up to date with `{o}`\n")
    );

    // The C struct changes and the object is rebuilt; the committed Rust is now stale.
    std::fs::write(&src, V2).unwrap();
    clang(&src, &obj);
    let stale = bpfgen(&["check", o, r]);
    assert_eq!(stale.status.code(), Some(1));
    let diff = String::from_utf8(stale.stdout).unwrap();
    assert!(
        diff.starts_with(&format!(
            "--- {r} (committed)\n+++ {r} (regenerated from {o})\n"
        )),
        "{diff}"
    );
    assert!(diff.contains("\n-    pub sport: __u16,\n"), "{diff}");
    assert!(diff.contains("\n+    pub sport: __u32,\n"), "{diff}");
    // The layout check follows: the new padding field and the BTF's new offsets.
    assert!(
        diff.contains("\n-        \"flow: saddr sport proto _pad_7\",\n"),
        "{diff}"
    );
    assert!(
        diff.contains("\n+        \"flow: saddr sport proto _pad_9\",\n"),
        "{diff}"
    );
    assert!(diff.contains("\n-        [0, 4, 6, 7, 8, 4],\n"), "{diff}");
    assert!(diff.contains("\n+        [0, 4, 8, 9, 12, 4],\n"), "{diff}");
    // The hint regenerates with the options recorded in the header.
    assert_eq!(
        String::from_utf8_lossy(&stale.stderr),
        format!("bpfgen: `{r}` is out of date with `{o}`; regenerate it with: bpfgen {o} -o {r} --type flow\n")
    );
    assert!(bpfgen(&[o, "--type", "flow", "-o", r]).status.success());
    assert_eq!(bpfgen(&["check", o, r]).status.code(), Some(0));
}

/// With `--embed`, the same object bytes at another path (CI building the object in a
/// scratch directory) are not drift; other bytes are.
#[test]
fn check_with_embed_is_about_the_object_not_its_path() {
    let d = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/maps.bpf.o");
    let (committed, scratch) = (d.path().join("src"), d.path().join("scratch"));
    std::fs::create_dir_all(&committed).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    let (obj, moved, rs) = (
        committed.join("maps.bpf.o"),
        scratch.join("maps.bpf.o"),
        committed.join("maps.rs"),
    );
    std::fs::copy(&fixture, &obj).unwrap();
    std::fs::copy(&fixture, &moved).unwrap();
    let (o, m, r) = (
        obj.to_str().unwrap(),
        moved.to_str().unwrap(),
        rs.to_str().unwrap(),
    );
    assert!(bpfgen(&[o, "--embed", "-o", r]).status.success());
    let text = std::fs::read_to_string(&rs).unwrap();
    assert!(text.contains("::core::include_bytes!(\"maps.bpf.o\");"));
    let up = bpfgen(&["check", m, r]);
    assert_eq!(
        up.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&up.stdout)
    );
    // Other bytes at the scratch path: drift, shown against the file's own path.
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o");
    std::fs::copy(other, &moved).unwrap();
    let stale = bpfgen(&["check", m, r]);
    assert_eq!(stale.status.code(), Some(1));
    let diff = String::from_utf8(stale.stdout).unwrap();
    assert!(!diff.contains("include_bytes"), "{diff}");
}

#[test]
fn check_errors_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o");
    let f = f.to_str().unwrap();
    let hand = d.path().join("hand.rs");
    std::fs::write(&hand, "pub struct x;\n").unwrap();
    let h = hand.to_str().unwrap();
    let out = bpfgen(&["check", f, h]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("bpfgen: error: {h}: no `// bpfgen-options:` line: not a file generated by bpfgen (pass the options to use explicitly)\n")
    );
    let out = bpfgen(&["check", "/nonexistent.bpf.o", f]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn layout_report() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o");
    let out = bpfgen(&["layout", f.to_str().unwrap(), "--type", "lay_holes"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let want = "\
struct lay_holes {  /* BTF id 9, size 24, align 8, Rust `lay_holes` */
\t__u8 a;                                  /*       0     1 */
\t/* XXX 7 bytes hole at 1 */
\t__u64 b;                                 /*       8     8 */
\t__u16 c;                                 /*      16     2 */
};  /* size: 24, holes: 1 (7 bytes), tail padding: 6 */

";
    assert_eq!(text, want);

    let out = bpfgen(&[
        "layout",
        f.to_str().unwrap(),
        "--type",
        "lay_holes",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["size"], 24);
    assert_eq!(v[0]["align"], 8);
    assert_eq!(v[0]["members"][1]["name"], "b");
    assert_eq!(v[0]["members"][1]["offset"], 8);
    assert_eq!(
        v[0]["padding"],
        serde_json::json!([{"offset": 1, "len": 7}, {"offset": 18, "len": 6}])
    );
}

/// Options read from a checked file's header cannot widen what is read: a `--base`
/// pointing at a device is refused before reading, and one pointing at a file that is
/// not BTF is refused without quoting its bytes.
#[test]
fn options_from_the_header_are_bounded_and_never_quote_files() {
    let d = tempfile::tempdir().unwrap();
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o");
    let secret = d.path().join("shadow");
    std::fs::write(&secret, "root:$6$secret-hash:19000:0:99999:7:::\n").unwrap();
    for (base, tail) in [
        (
            "/dev/zero".to_string(),
            "cannot read: it is a character device, not a file (bpfgen reads BPF objects and BTF files)".to_string(),
        ),
        (
            secret.display().to_string(),
            "BTF: no BTF magic (0xeb9f, either byte order) at byte 0: not a BTF file".to_string(),
        ),
    ] {
        let crafted = d.path().join("crafted.rs");
        std::fs::write(&crafted, format!("// bpfgen-options: --base {base}\n")).unwrap();
        let out = bpfgen(&["check", f.to_str().unwrap(), crafted.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err, format!("bpfgen: error: {base}: {tail}\n"));
        assert!(!err.contains("root") && !err.contains("secret"));
    }
}
