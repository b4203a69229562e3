//! The `bpfgen` binary as users run it: exit codes, exact error messages on bad
//! input, atomic output, determinism.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(endian: &str, name: &str) -> PathBuf {
    root()
        .join("fixtures")
        .join(endian)
        .join(format!("{name}.bpf.o"))
}

fn bpfgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .args(args)
        .output()
        .expect("run bpfgen")
}

/// Runs bpfgen on `path` and returns (exit code, stderr).
fn fails(args: &[&str]) -> (i32, String) {
    let out = bpfgen(args);
    assert!(out.stdout.is_empty(), "nothing on stdout when failing");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// The `.BTF` bytes of a fixture, as a raw BTF blob.
fn raw_btf(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(fixture("bpfel", name)).unwrap();
    bpfgen_core::object::read(&bytes).unwrap().btf.into_owned()
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Byte offset of each type record of a little-endian raw BTF blob, by type id.
fn records(b: &[u8]) -> Vec<usize> {
    let hdr = u32_at(b, 4) as usize;
    let start = hdr + u32_at(b, 8) as usize;
    let end = start + u32_at(b, 12) as usize;
    let mut out = vec![0]; // id 0 = void
    let mut off = start;
    while off < end {
        out.push(off);
        let info = u32_at(b, off + 4);
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        off += 12
            + match kind {
                1 | 14 | 17 => 4,
                3 => 12,
                4 | 5 | 15 | 19 => 12 * vlen,
                6 | 13 => 8 * vlen,
                _ => 0,
            };
    }
    out
}

fn kind_of(b: &[u8], rec: usize) -> u32 {
    (u32_at(b, rec + 4) >> 24) & 0x1f
}

#[test]
fn not_an_object() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "notes.txt", b"hello world");
    let (code, err) = fails(&[&p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "bpfgen: error: {p}: not an ELF object or raw BTF file (first bytes 68 65 6c 6c)\n"
        )
    );
    let p = write(d.path(), "empty.o", b"");
    let (code, err) = fails(&[&p]);
    assert_eq!(code, 2);
    assert_eq!(err, format!("bpfgen: error: {p}: not an ELF object or raw BTF file (first bytes none: the file is empty)\n"));
}

#[test]
fn missing_file() {
    let (code, err) = fails(&["/nonexistent/x.bpf.o"]);
    assert_eq!(code, 2);
    assert_eq!(err, "bpfgen: error: /nonexistent/x.bpf.o: cannot read: No such file or directory (os error 2)\n");
}

#[test]
fn elf_that_is_not_bpf() {
    let d = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(fixture("bpfel", "layout")).unwrap();
    b[18..20].copy_from_slice(&62u16.to_le_bytes()); // e_machine = EM_X86_64
    let p = write(d.path(), "x86.o", &b);
    let (code, err) = fails(&[&p]);
    assert_eq!(code, 2);
    assert_eq!(err, format!("bpfgen: error: {p}: not a BPF object: ELF machine is 62 (x86-64) (bpfgen reads `clang -target bpf` objects and raw BTF)\n"));
}

#[test]
fn elf32() {
    let d = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(fixture("bpfel", "layout")).unwrap();
    b[4] = 1; // ELFCLASS32
    let p = write(d.path(), "x32.o", &b);
    let (code, err) = fails(&[&p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("bpfgen: error: {p}: 32-bit ELF: BPF objects are 64-bit (ELFCLASS64)\n")
    );
}

#[test]
fn object_without_btf() {
    let d = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(fixture("bpfel", "layout")).unwrap();
    // Rename `.BTF` (NUL-terminated, not `.BTF.ext`) in the section name table.
    let at = b
        .windows(5)
        .position(|w| w == b".BTF\0")
        .expect(".BTF name");
    b[at + 3] = b'X';
    let p = write(d.path(), "nobtf.o", &b);
    let (code, err) = fails(&[&p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("bpfgen: error: {p}: no `.BTF` section (compile with `clang -g -target bpf`)\n")
    );
}

#[test]
fn truncated_btf() {
    let d = tempfile::tempdir().unwrap();
    let b = raw_btf("layout");
    let p = write(d.path(), "trunc.btf", &b[..100]);
    let (code, err) = fails(&[&p, "--all"]);
    assert_eq!(code, 2);
    let hdr = u32_at(&b, 4);
    let end = hdr + u32_at(&b, 8) + u32_at(&b, 12);
    assert_eq!(
        err,
        format!("bpfgen: error: {p}: BTF header: type section (bytes 24..{end}) runs past the end of the BTF data (100 bytes)\n")
    );
}

#[test]
fn bad_magic() {
    let d = tempfile::tempdir().unwrap();
    let mut b = raw_btf("layout");
    b[0] = 0x9f;
    b[1] = 0xeb;
    b[2] = 7; // version
    let p = write(d.path(), "v7.btf", &b);
    let (code, err) = fails(&[&p, "--all"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("bpfgen: error: {p}: BTF header: version 7 at byte 2 (only version 1 exists)\n")
    );
}

#[test]
fn unknown_kind() {
    let d = tempfile::tempdir().unwrap();
    let mut b = raw_btf("layout");
    let rec = records(&b)[3];
    let info = u32_at(&b, rec + 4);
    put_u32(&mut b, rec + 4, (info & !(0x1f << 24)) | (25 << 24));
    let p = write(d.path(), "kind.btf", &b);
    let (code, err) = fails(&[&p, "--all"]);
    assert_eq!(code, 2);
    let rel = rec - 24 - u32_at(&b, 8) as usize;
    assert_eq!(err, format!("bpfgen: error: {p}: unknown BTF kind 25 at type id 3 (byte {rel} of the type section)\n"));
}

#[test]
fn type_id_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    let mut b = raw_btf("layout");
    let recs = records(&b);
    let (id, rec) = recs
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, r)| kind_of(&b, **r) == 2)
        .expect("a PTR");
    put_u32(&mut b, rec + 8, 99_999);
    let p = write(d.path(), "ref.btf", &b);
    let (code, err) = fails(&[&p, "--all"]);
    assert_eq!(code, 2);
    let last = recs.len() - 1;
    assert_eq!(err, format!("bpfgen: error: {p}: BTF type id {id}: refers to type id 99999, past the last type id {last}\n"));
}

#[test]
fn member_past_struct_end() {
    let d = tempfile::tempdir().unwrap();
    let mut b = raw_btf("layout");
    let recs = records(&b);
    // A struct with at least two members: shrink its size to 1 byte.
    let (id, rec) = recs
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, r)| {
            kind_of(&b, **r) == 4 && (u32_at(&b, **r + 4) & 0xffff) >= 2 && u32_at(&b, **r + 8) >= 8
        })
        .expect("a struct");
    put_u32(&mut b, rec + 8, 1);
    let p = write(d.path(), "size.btf", &b);
    let (code, err) = fails(&[&p, "--all"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!("bpfgen: error: {p}: BTF type id {id}: member `")),
        "{err}"
    );
    assert!(
        err.ends_with("runs past the end of the struct (1 bytes)\n"),
        "{err}"
    );
}

#[test]
fn name_offset_not_a_string() {
    let d = tempfile::tempdir().unwrap();
    let mut b = raw_btf("layout");
    let str_len = u32_at(&b, 20);
    let rec = records(&b)[1];
    put_u32(&mut b, rec, str_len + 10);
    let p = write(d.path(), "name.btf", &b);
    let (code, err) = fails(&[&p, "--all"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "bpfgen: error: {p}: BTF type id 1: type name offset {} is past the string table ({str_len} bytes); if this is a kernel module's split BTF, pass `--base`\n",
            str_len + 10
        )
    );
}

#[test]
fn type_not_found_suggests_close_matches() {
    let f = fixture("bpfel", "layout");
    let (code, err) = fails(&[f.to_str().unwrap(), "--type", "lay_holez"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "bpfgen: error: {}: type `lay_holez` not found; close matches: `lay_holes`, `lay_holes_t`, `lay_holes_t2`, `lay_flex`, `lay_e8`. \
             clang writes BTF only for the types that globals, maps, function signatures or CO-RE relocations reach, \
             so a ring-buffer or perf-buffer record used only through a pointer is absent: \
             anchor it with a global in the C source (`struct lay_holez _lay_holez = {{}};`) and rebuild the object\n",
            f.display()
        )
    );
}

/// The record of a ring buffer, used only through the pointer `bpf_ringbuf_reserve`
/// returns, is absent from an object's BTF unless a global anchors it: the error says so.
#[test]
fn absent_record_type_explains_the_anchor() {
    let f = fixture("bpfel", "maps");
    let (code, err) = fails(&[f.to_str().unwrap(), "--type", "event"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "bpfgen: error: {}: type `event` not found. \
             clang writes BTF only for the types that globals, maps, function signatures or CO-RE relocations reach, \
             so a ring-buffer or perf-buffer record used only through a pointer is absent: \
             anchor it with a global in the C source (`struct event _event = {{}};`) and rebuild the object\n",
            f.display()
        )
    );
}

#[test]
fn raw_btf_needs_a_selection() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "layout.btf", &raw_btf("layout"));
    let (code, err) = fails(&[&p]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("bpfgen: error: {p}: raw BTF holds the whole kernel: choose types with `--type NAME` (repeatable) or pass `--all`\n")
    );
    // With --all the raw blob generates the same items as the object.
    let raw = bpfgen(&[&p, "--all", "--zerocopy"]);
    let obj = bpfgen(&[fixture("bpfel", "layout").to_str().unwrap()]);
    assert!(raw.status.success() && obj.status.success());
    let body = |o: &Output| {
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        s.lines()
            .skip(3)
            .filter(|l| !l.contains("layout."))
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The object's output goes on with its maps and globals (raw BTF has none): the
    // types before them are the same.
    let obj_body = body(&obj);
    let types_end = obj_body
        .find("\npub mod maps {")
        .and_then(|end| obj_body[..end].rfind("\n#[allow("))
        .expect("an object's output describes its maps");
    assert_eq!(body(&raw), obj_body[..types_end].trim_end());
}

#[test]
fn failed_run_keeps_existing_output() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("types.rs");
    std::fs::write(&out, "keep me").unwrap();
    let bad = write(d.path(), "bad.o", b"nope");
    let (code, _) = fails(&[&bad, "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    // A good run replaces it, with exactly what stdout would have shown.
    let f = fixture("bpfel", "layout");
    let ok = bpfgen(&[f.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(ok.status.success());
    assert!(ok.stdout.is_empty());
    let stdout = bpfgen(&[f.to_str().unwrap()]).stdout;
    assert_eq!(std::fs::read(&out).unwrap(), stdout);
}

#[test]
fn deterministic() {
    for endian in ["bpfel", "bpfeb"] {
        for name in ["layout", "packed", "bitfields", "naming"] {
            let f = fixture(endian, name);
            let a = bpfgen(&[f.to_str().unwrap()]);
            let b = bpfgen(&[f.to_str().unwrap()]);
            assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
            assert_eq!(a.stdout, b.stdout, "{endian}/{name}");
        }
    }
}

/// The item names of generated code, sorted.
fn item_names(code: &str) -> Vec<String> {
    let mut items: Vec<String> = code
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub struct ")
                .or_else(|| l.strip_prefix("pub type "))
        })
        .map(|l| l.split([' ', '(', '<']).next().unwrap().to_string())
        .collect();
    items.sort_unstable();
    items
}

/// By default an object's output holds what user space shares with it: the types of
/// the maps' keys and values and of the globals, and what they hold by value; the
/// kernel types its programs only CO-RE-read (task_struct, ...) are left out, and the
/// header says how many and how to add them.
#[test]
fn default_types_are_what_user_space_shares() {
    let f = fixture("bpfel", "tracing");
    let out = bpfgen(&[f.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A per-CPU scratch buffer declared by size only is normal: no warning.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        item_names(&s),
        [
            "__kernel_pid_t",
            "__u32",
            "__u64",
            "bool_typedef",
            "event",
            "globals_struct",
            "maps_struct",
            "pid_t",
            "programs_struct",
            "u32",
            "u64"
        ]
    );
    let header: Vec<&str> = s.lines().take(5).collect();
    assert_eq!(
        header,
        [
            "// Generated by bpfgen 0.1.0 from `tracing.bpf.o` (little-endian, 11 types). Do not edit.",
            "// Every layout below is asserted at compile time against the BTF.",
            "// 233 more types of the object are left out: its BTF reaches them only through CO-RE",
            "// relocations, program signatures or pointers. Add one with `--type NAME` (include_bpf!: `types = [\"NAME\"]`), or all with `--all`.",
            "// bpfgen-options:",
        ]
    );
    assert!(s.contains("pub mod maps {") && s.contains("pub mod globals {"));
    // Every type is in the --all output, and nothing is left out there.
    let all = String::from_utf8(bpfgen(&[f.to_str().unwrap(), "--all"]).stdout).unwrap();
    assert!(all.starts_with("// Generated by bpfgen 0.1.0 from `tracing.bpf.o` (little-endian, 244 types). Do not edit.\n// Every layout below is asserted at compile time against the BTF.\n// bpfgen-options: --all\n"));
    assert!(all.contains("pub struct task_struct {"));
}

/// `--type` adds a type and what it holds by value to the default set; the maps and
/// globals stay.
#[test]
fn type_selection_adds_the_closure() {
    let f = fixture("bpfel", "tracing");
    let out = bpfgen(&[
        f.to_str().unwrap(),
        "--type",
        "trace_event_raw_sched_process_exec",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        item_names(&s),
        [
            "__kernel_pid_t",
            "__u32",
            "__u64",
            "bool_typedef",
            "event",
            "globals_struct",
            "maps_struct",
            "pid_t",
            "programs_struct",
            "trace_entry",
            "trace_event_raw_sched_process_exec",
            "u32",
            "u64"
        ]
    );
    assert!(s.contains("pub mod maps {") && s.contains("pub mod globals {"));
}

#[test]
fn endianness_guard_names_the_object() {
    let f = fixture("bpfeb", "layout");
    let out = bpfgen(&[f.to_str().unwrap()]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("#[cfg(not(target_endian = \"big\"))]\n::core::compile_error!("),
        "{}",
        &s[..600]
    );
    assert!(s.contains("bpfgen: these types mirror `layout.bpf.o`, a big-endian BPF object, but this target is little-endian"));
    let f = fixture("bpfel", "layout");
    let s = String::from_utf8(bpfgen(&[f.to_str().unwrap()]).stdout).unwrap();
    assert!(s.contains("#[cfg(not(target_endian = \"little\"))]\n::core::compile_error!("));
}

#[test]
fn help_shows_examples() {
    let out = bpfgen(&["--help"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("bpfgen /sys/kernel/btf/vmlinux --type task_struct -o task.rs"),
        "{s}"
    );
    assert!(s.contains("--no-zerocopy"));
}

/// A split BTF blob (as a kernel module's) on top of `base`: one struct `split_s`
/// with a member `x` of base type `member_ty`.
fn split_blob(base: &[u8], member_ty: u32) -> Vec<u8> {
    let base_str_len = u32_at(base, 20);
    let strings = b"split_s\0x\0";
    let mut types = Vec::new();
    for w in [
        base_str_len,
        (4 << 24) | 1,
        4,
        base_str_len + 8,
        member_ty,
        0,
    ] {
        types.extend_from_slice(&w.to_le_bytes());
    }
    let mut b = Vec::new();
    b.extend_from_slice(&[0x9f, 0xeb, 1, 0]);
    for w in [
        24,
        0,
        types.len() as u32,
        types.len() as u32,
        strings.len() as u32,
    ] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.extend_from_slice(&types);
    b.extend_from_slice(strings);
    b
}

#[test]
fn split_btf_with_base() {
    let d = tempfile::tempdir().unwrap();
    let base = raw_btf("layout");
    let base_path = write(d.path(), "vmlinux.btf", &base);
    // The base's `__u32` typedef.
    let model = bpfgen_core::load(Path::new(&base_path), &bpfgen_core::Options::default()).unwrap();
    let u32_id = model
        .ir
        .types
        .iter()
        .position(|t| t.name.as_deref() == Some("__u32"))
        .unwrap() as u32;
    let split = write(d.path(), "module.btf", &split_blob(&base, u32_id));

    let out = bpfgen(&["--base", &base_path, &split, "--all"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    let items: Vec<&str> = s
        .lines()
        .filter(|l| l.starts_with("pub struct ") || l.starts_with("pub type "))
        .collect();
    // The module's own type, and from the base only what it holds by value.
    assert_eq!(
        items,
        [
            "pub type __u32 = ::core::primitive::u32;",
            "pub struct split_s {"
        ]
    );
    assert!(s.contains("    pub x: __u32,\n"), "{s}");

    // Without its base, the split blob is recognised as such.
    let (code, err) = fails(&[&split, "--all"]);
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!("bpfgen: error: {split}: BTF string table, offset 0: first string is not empty; if this is a kernel module's split BTF, pass `--base`\n")
    );
}
