//! Hostile BTF: cycles, depth and sizes that must end in a precise error (or, for
//! legal but extreme input, in success), never a hang, a stack overflow, or a runaway
//! allocation. Blobs are built here, byte by byte.

use std::process::{Command, Output};

/// A little-endian raw BTF blob under construction.
#[derive(Default)]
struct Btf {
    strs: Vec<u8>,
    types: Vec<u8>,
    n: u32,
}

impl Btf {
    fn new() -> Self {
        Btf {
            strs: vec![0],
            ..Default::default()
        }
    }
    fn name(&mut self, n: &str) -> u32 {
        if n.is_empty() {
            return 0;
        }
        let off = self.strs.len() as u32;
        self.strs.extend_from_slice(n.as_bytes());
        self.strs.push(0);
        off
    }
    fn rec(&mut self, words: &[u32]) -> u32 {
        for w in words {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.n += 1;
        self.n
    }
    fn int(&mut self) -> u32 {
        let n = self.name("int");
        self.rec(&[n, 1 << 24, 4, 32])
    }
    fn typedef(&mut self, name: &str, t: u32) -> u32 {
        let n = self.name(name);
        self.rec(&[n, 8 << 24, t])
    }
    fn konst(&mut self, t: u32) -> u32 {
        self.rec(&[0, 10 << 24, t])
    }
    fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        self.rec(&[0, 3 << 24, 0, elem, index, len])
    }
    fn structure(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let n = self.name(name);
        let mut words = vec![n, (4 << 24) | members.len() as u32, size];
        for (mn, t, off) in members {
            let mn = self.name(mn);
            words.extend([mn, *t, *off]);
        }
        self.rec(&words)
    }
    fn blob(&self) -> Vec<u8> {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        let tl = self.types.len() as u32;
        for w in [24, 0, tl, tl, self.strs.len() as u32] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        b.extend_from_slice(&self.types);
        b.extend_from_slice(&self.strs);
        b
    }
}

fn run(blob: &[u8]) -> (Output, String) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("hostile.btf");
    std::fs::write(&p, blob).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .arg(&p)
        .arg("--all")
        .output()
        .unwrap();
    (out, p.display().to_string())
}

fn fails_with(blob: &[u8], msg: &str) {
    let (out, p) = run(blob);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("bpfgen: error: {p}: {msg}\n")
    );
}

#[test]
fn typedef_cycle_through_a_qualifier() {
    let mut b = Btf::new();
    b.typedef("a", 2); // id 1: typedef a → id 2
    b.konst(1); // id 2: const → typedef a
    fails_with(
        &b.blob(),
        "BTF type id 1: typedef/qualifier/array chain is cyclic (the type would contain itself)",
    );
}

#[test]
fn array_of_itself() {
    let mut b = Btf::new();
    b.array(1, 2, 4); // id 1: array of id 1
    b.int();
    fails_with(
        &b.blob(),
        "BTF type id 1: typedef/qualifier/array chain is cyclic (the type would contain itself)",
    );
}

#[test]
fn struct_containing_itself_through_an_array() {
    let mut b = Btf::new();
    b.structure("s", 8, &[("arr", 2, 0)]); // id 1
    b.array(1, 3, 1); // id 2: struct s[1]
    b.int(); // id 3
    fails_with(
        &b.blob(),
        "BTF type id 1: struct or union contains itself by value",
    );
}

#[test]
fn ten_thousand_typedefs_deep_is_fine() {
    let mut b = Btf::new();
    let mut prev = b.int();
    for k in 0..10_000 {
        prev = b.typedef(&format!("t{k}"), prev);
    }
    b.structure("user", 4, &[("x", prev, 0)]);
    let (out, _) = run(&b.blob());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("pub type t9999 = t9998;\n"));
    assert!(s.contains("    pub x: t9999,\n"));
}

#[test]
fn ten_thousand_structs_deep_is_refused() {
    let mut b = Btf::new();
    let mut prev = b.int();
    for k in 0..10_000 {
        prev = b.structure(&format!("s{k}"), 4, &[("x", prev, 0)]);
    }
    // The walk starts at the outermost struct of a closure deeper than the limit.
    let (out, _) = run(&b.blob());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.ends_with(": structs nested more than 128 levels deep\n"),
        "{err}"
    );
}

#[test]
fn millions_of_empty_strings_are_refused_fast() {
    let n = 16 << 20; // 16 MiB of empty strings: btf-rs alone would take ~1 min and 1.6 GB
    let mut b = vec![0x9f, 0xeb, 1, 0];
    for w in [24u32, 0, 0, 0, n] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    b.resize(24 + n as usize, 0);
    fails_with(
        &b,
        "BTF string table, offset 0: 16777216 strings, more than the 1000000 bpfgen decodes (vmlinux has about 125,000)",
    );
}

#[test]
fn header_claiming_gigabytes_fails_fast() {
    let mut b = Btf::new();
    b.int();
    let mut blob = b.blob();
    blob[12..16].copy_from_slice(&0xffff_fff0u32.to_le_bytes()); // type_len: 4 GiB
    let (out, p) = run(&blob);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "bpfgen: error: {p}: BTF header: type section (bytes 24..4294967304) runs past the end of the BTF data ({} bytes)\n",
            blob.len()
        )
    );
}

/// `rustc --crate-type lib` on `code` as the body of a `no_std` library with
/// `#![deny(warnings)]`; panics with rustc's errors.
fn compiles(code: &str) {
    let d = tempfile::tempdir().unwrap();
    let lib = d.path().join("lib.rs");
    std::fs::write(
        &lib,
        format!("#![no_std]\n#![deny(warnings)]\npub mod gen {{\n{code}\n}}\n"),
    )
    .unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
            "-o",
        ])
        .arg(d.path().join("lib.rmeta"))
        .arg(&lib)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// rustc's own limit: 128 nested structs generate and compile, 129 are refused.
#[test]
fn nesting_up_to_rustcs_limit_compiles_and_beyond_is_refused() {
    for (depth, ok) in [(128, true), (129, false)] {
        let mut b = Btf::new();
        let mut prev = b.int();
        for k in 0..depth {
            prev = b.structure(&format!("s{k}"), 4, &[("x", prev, 0)]);
        }
        let (out, _) = run(&b.blob());
        let err = String::from_utf8_lossy(&out.stderr);
        if ok {
            assert!(out.status.success(), "{err}");
            compiles(&String::from_utf8(out.stdout).unwrap());
        } else {
            assert_eq!(out.status.code(), Some(2));
            assert!(
                err.ends_with(": structs nested more than 128 levels deep\n"),
                "{err}"
            );
        }
    }
}

/// A 12-byte float (i386's `long double`) is held as bytes, 4-aligned: never
/// `align(12)`, which rustc rejects.
#[test]
fn twelve_byte_float_compiles() {
    let mut b = Btf::new();
    let int = b.int(); // id 1
    let n = b.name("long double");
    let f = b.rec(&[n, 16 << 24, 12]); // id 2: FLOAT, 12 bytes
    b.structure("ld", 16, &[("x", f, 0), ("y", int, 96)]);
    let (out, _) = run(&b.blob());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap();
    assert!(!code.contains("align(12)"));
    assert!(
        code.contains("pub x: [::core::primitive::u8; 12],"),
        "{code}"
    );
    compiles(&code);
}

/// Names with a carriage return or a text-direction override are not C names: refused
/// at the string that holds them, and no message prints them raw.
#[test]
fn control_and_bidi_characters_in_names_are_refused() {
    for (name, code) in [
        ("a\rb", "U+000D"),
        ("evil\u{202E}txt", "U+202E"),
        ("x\u{2066}", "U+2066"),
        ("nl\nbpfgen: error: forged", "U+000A"),
    ] {
        let mut b = Btf::new();
        let int = b.int();
        b.structure(name, 4, &[("x", int, 0)]);
        fails_with(
            &b.blob(),
            &format!("BTF type id 2: type name (string offset 5) holds {code}, a control or text-direction character: no compiler writes one in a name"),
        );
    }
}

/// Every type id a record names must exist, also where the graph does not follow it.
#[test]
fn dangling_ids_are_refused_everywhere() {
    type AddRecord = fn(&mut Btf);
    let cases: [(&str, AddRecord); 5] = [
        (
            "BTF type id 2: array index type is type id 99, past the last type id 2",
            |b| {
                b.array(1, 99, 4);
            },
        ),
        (
            "BTF type id 2: return type is type id 77, past the last type id 2",
            |b| {
                b.rec(&[0, 13 << 24, 77]);
            },
        ),
        (
            "BTF type id 2: parameter type is type id 55, past the last type id 2",
            |b| {
                b.rec(&[0, (13 << 24) | 1, 1, 0, 55]);
            },
        ),
        (
            "BTF type id 2: function prototype is type id 9, past the last type id 2",
            |b| {
                let n = b.name("f");
                b.rec(&[n, 12 << 24, 9]);
            },
        ),
        (
            "BTF type id 2: tagged type is type id 42, past the last type id 2",
            |b| {
                let n = b.name("tag");
                b.rec(&[n, 17 << 24, 42, u32::MAX]);
            },
        ),
    ];
    for (msg, add) in cases {
        let mut b = Btf::new();
        b.int(); // id 1
        add(&mut b); // id 2
        fails_with(&b.blob(), msg);
    }
}

/// Arrays of arrays: 64 dimensions generate and compile; more are refused (rustc's
/// trait solver overflows near 120); 6,000 (a 144 KB input) once overflowed the stack.
#[test]
fn array_dimensions_are_bounded() {
    for (dims, ok) in [(64, true), (65, false), (6000, false)] {
        let mut b = Btf::new();
        let int = b.int();
        let mut prev = int;
        for _ in 0..dims {
            prev = b.array(prev, int, 1);
        }
        b.structure("s", 4, &[("x", prev, 0)]);
        let (out, _) = run(&b.blob());
        let err = String::from_utf8_lossy(&out.stderr);
        if ok {
            assert!(out.status.success(), "{err}");
            compiles(&String::from_utf8(out.stdout).unwrap());
        } else {
            assert_eq!(out.status.code(), Some(2), "{dims}: {err}");
            assert!(
                err.ends_with(": BTF type id 66: array with more than 64 dimensions\n"),
                "{err}"
            );
        }
    }
}

/// 30,000 globals in `.data` (a 4.5 MB object): the section's `Debug` once was one
/// 30,000-call expression, which overflowed the formatter's stack.
#[test]
fn thirty_thousand_globals() {
    let d = tempfile::tempdir().unwrap();
    let mut c = String::from("#include <linux/types.h>\n");
    for i in 0..30_000 {
        c.push_str(&format!("__u32 g{i} = {};\n", i + 1));
    }
    let (src, obj) = (d.path().join("g.bpf.c"), d.path().join("g.bpf.o"));
    std::fs::write(&src, c).unwrap();
    let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang-19".into());
    let st = Command::new(&clang)
        .args([
            "-g",
            "-O2",
            "-target",
            "bpfel",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap_or_else(|e| panic!("{clang} is needed (bash .ci/run installs it): {e}"));
    assert!(st.success());
    let out = Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .arg(&obj)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("            d.field(\"g29999\", &self.g29999);\n"));
}

/// A 100,000-character `--type` name: no close-match search (its cost is the product
/// of the lengths), and the message shows the name's start and length, not all of it.
#[test]
fn huge_type_name_is_answered_at_once() {
    let f =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/tracing.bpf.o");
    let name = "task_struct".repeat(9091);
    let out = Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .arg(&f)
        .args(["--type", &name])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let shown = format!("{}… (100001 characters)", &name[..128]);
    assert!(
        err.starts_with(&format!(
            "bpfgen: error: {}: type `{shown}` not found. clang writes BTF",
            f.display()
        )),
        "{err}"
    );
    assert!(err.len() < 1000, "{} bytes", err.len());
}

/// `check` of a 200,000-line file unrelated to the object: a bounded diff (it once took
/// minutes), exit 1.
#[test]
fn check_of_a_huge_unrelated_file() {
    let d = tempfile::tempdir().unwrap();
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/maps.bpf.o");
    let mut text = String::from("// bpfgen-options:\n");
    for i in 0..200_000 {
        text.push_str(&format!("line {i} junk {}\n", i * 7));
    }
    let p = d.path().join("drift.rs");
    std::fs::write(&p, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bpfgen"))
        .arg("check")
        .arg(&f)
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n-line 199999 junk 1399993\n"));
}

/// `(name, header offset)` of every section of a little-endian ELF64 file.
fn elf_sections(b: &[u8]) -> Vec<(String, usize)> {
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shnum, shstrndx) = (u64_at(40), u16_at(60), u16_at(62));
    let names = u64_at(shoff + shstrndx * 64 + 24);
    (0..shnum)
        .map(|i| {
            let h = shoff + i * 64;
            let n = names + u32::from_le_bytes(b[h..h + 4].try_into().unwrap()) as usize;
            let end = n + b[n..].iter().position(|&c| c == 0).unwrap();
            (String::from_utf8_lossy(&b[n..end]).into_owned(), h)
        })
        .collect()
}

/// Broken ELF framing names the byte offset and the real cause, never `Some(3)`.
#[test]
fn elf_framing_errors_name_the_byte() {
    let obj = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o"),
    )
    .unwrap();
    let secs = elf_sections(&obj);
    let (btf_index, btf_header) = secs
        .iter()
        .enumerate()
        .find(|(_, (n, _))| n == ".BTF")
        .map(|(i, (_, h))| (i, *h))
        .unwrap();
    let len = obj.len();

    let mut b = obj.clone();
    b[62..64].copy_from_slice(&(btf_index as u16).to_le_bytes());
    fails_with(&b, &format!("malformed ELF: the section-name table (e_shstrndx = {btf_index}, byte 62) is a section of type 1 (header at byte {btf_header}), not a string table (SHT_STRTAB = 3): section names cannot be read"));

    let mut b = obj.clone();
    b[4] = 3;
    fails_with(
        &b,
        "malformed ELF: unknown ELF class 3 at byte 4 (2: 64-bit)",
    );

    fails_with(
        b"\x7fELF",
        "malformed ELF: the file ends at byte 4, before the ELF class",
    );

    let mut b = obj.clone();
    b[40..48].copy_from_slice(&(1u64 << 40).to_le_bytes());
    fails_with(&b, &format!("malformed ELF: the section header table (e_shoff = {}, byte 40: 13 headers of 64 bytes) runs past the end of the file ({len} bytes)", 1u64 << 40));

    let mut b = obj.clone();
    let at = btf_header + 32;
    b[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let offset = u64::from_le_bytes(obj[btf_header + 24..btf_header + 32].try_into().unwrap());
    fails_with(&b, &format!("malformed ELF: section {btf_index} (header at byte {btf_header}): its data at bytes {offset}..{} runs past the end of the file ({len} bytes)", offset as u128 + u64::MAX as u128));
}

/// A `.bss` whose `sh_size` is 2^64 − 1 (no file data backs NOBITS): refused, where it
/// once became an array type too big to compile.
#[test]
fn huge_bss_is_refused() {
    let obj = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/bpfel/layout.bpf.o"),
    )
    .unwrap();
    let (index, header) = elf_sections(&obj)
        .into_iter()
        .enumerate()
        .find(|(_, (n, _))| n == ".bss")
        .map(|(i, (_, h))| (i, h))
        .unwrap();
    let mut b = obj;
    b[header + 32..header + 40].copy_from_slice(&u64::MAX.to_le_bytes());
    fails_with(&b, &format!("data section `.bss` (section {index}): its size (sh_size) is 18446744073709551615 bytes, more than a BPF map value holds (bpfgen accepts up to 1073741824)"));
}

/// C names equal to what the generated file defines, or to Rust primitives, are
/// renamed like clashes; a typedef standing for the very primitive it is named after
/// keeps its name. The output compiles, and a glob import of it leaves `bool` alone.
#[test]
fn generated_and_primitive_names_never_collide() {
    let mut b = Btf::new();
    let int = b.int(); // id 1
    let n = b.name("_Bool");
    let boolean = b.rec(&[n, 1 << 24, 1, (4 << 24) | 8]); // id 2: _Bool (BTF_INT_BOOL)
    let n = b.name("unsigned int");
    let uint = b.rec(&[n, 1 << 24, 4, 32]); // id 3
    b.typedef("bool", boolean);
    b.typedef("u32", uint);
    b.typedef("u32", uint); // a second definition (split BTF, two units): a clash
    for name in [
        "maps",
        "globals",
        "programs",
        "aya_glue",
        "libbpf_glue",
        "OBJECT",
        "__bpfgen_layout",
        "__bpfgen_fmt",
        "u8",
        "str",
    ] {
        b.structure(name, 4, &[("x", int, 0)]);
    }
    let (out, _) = run(&b.blob());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap();
    for want in [
        "pub type bool_typedef = ::core::primitive::u8;",
        "pub type u32 = ::core::primitive::u32;",
        "pub type u32_typedef = ::core::primitive::u32;",
        "pub struct maps_struct {",
        "pub struct globals_struct {",
        "pub struct programs_struct {",
        "pub struct aya_glue_struct {",
        "pub struct libbpf_glue_struct {",
        "pub struct OBJECT_struct {",
        "pub struct __bpfgen_layout_struct {",
        "pub struct __bpfgen_fmt_struct {",
        "pub struct u8_struct {",
        "pub struct str_struct {",
    ] {
        assert!(code.contains(want), "missing `{want}`");
    }
    compiles(&format!(
        "{code}\npub fn uses() -> bool {{ let b: bool = true; let _: u8 = 1; b }}"
    ));
}
