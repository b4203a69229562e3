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
        err.ends_with(": structs nested more than 256 levels deep\n"),
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
