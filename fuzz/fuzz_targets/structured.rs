//! Structure-aware: the fuzzer's bytes describe a list of types (each referring to
//! earlier ones, so graphs are deep and wide rather than rejected at the first
//! dangling id), which is encoded as well-formed little-endian raw BTF with member
//! offsets as a C compiler would place them (or packed). Generation must succeed or
//! fail with an error, never panic, hang or run away.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Ty {
    Int { size_log: u8, signed: bool },
    Ptr(u16),
    Array { elem: u16, len: u8 },
    Composite { name: u8, union: bool, packed: bool, members: Vec<(u16, Option<u8>)> },
    Enum { name: u8, size_log: u8, values: Vec<i32> },
    Typedef { name: u8, target: u16 },
    Const(u16),
    Fwd { name: u8 },
}

#[derive(Default)]
struct Btf {
    types: Vec<u8>,
    strs: Vec<u8>,
    /// Size and alignment of each type id (0: void).
    layout: Vec<(u32, u32)>,
}

impl Btf {
    fn name(&mut self, n: u8) -> u32 {
        let off = self.strs.len() as u32;
        self.strs.extend_from_slice(format!("t{}", n % 24).as_bytes());
        self.strs.push(0);
        off
    }
    fn words(&mut self, w: &[u32]) {
        for x in w {
            self.types.extend_from_slice(&x.to_le_bytes());
        }
    }
    /// An earlier type id for `r` (0, void, when there is none).
    fn earlier(&self, r: u16) -> u32 {
        let n = self.layout.len() as u32;
        if n <= 1 { 0 } else { 1 + u32::from(r) % (n - 1) }
    }
    fn add(&mut self, t: &Ty) {
        let lay = match t {
            Ty::Int { size_log, signed } => {
                let size = 1u32 << (size_log % 5);
                let n = self.name(*size_log);
                self.words(&[n, 1 << 24, size, (u32::from(*signed)) << 24 | size * 8]);
                (size, size)
            }
            Ty::Ptr(r) => {
                let to = self.earlier(*r);
                self.words(&[0, 2 << 24, to]);
                (8, 8)
            }
            Ty::Array { elem, len } => {
                let e = self.earlier(*elem).max(1);
                let (s, a) = self.layout[e as usize];
                self.words(&[0, 3 << 24, 0, e, 1, u32::from(*len)]);
                (s.saturating_mul(u32::from(*len)), a)
            }
            Ty::Composite { name, union, packed, members } => {
                let n = self.name(*name);
                let mut recs = Vec::new();
                let (mut off, mut size, mut align) = (0u32, 0u32, 1u32);
                for (r, bits) in members.iter().take(64) {
                    let m = self.earlier(*r).max(1);
                    let (s, a) = self.layout[m as usize];
                    let a = if *packed { 1 } else { a.max(1) };
                    let at = if *union { 0 } else { off.div_ceil(a).saturating_mul(a) };
                    let mn = self.name(r.to_le_bytes()[0]);
                    // A bitfield: only on integer members, within their size.
                    let (kflag_off, used) = match bits {
                        Some(b) if s <= 8 && s > 0 => {
                            let w = u32::from(*b) % (s * 8) + 1;
                            ((w << 24) | at.saturating_mul(8), s)
                        }
                        _ => (at.saturating_mul(8), s),
                    };
                    recs.push([mn, m, kflag_off]);
                    off = at.saturating_add(used);
                    size = size.max(off);
                    align = align.max(a);
                }
                let size = size.div_ceil(align).saturating_mul(align);
                let kind = if *union { 5 } else { 4 };
                let kflag = u32::from(recs.iter().any(|r| r[2] >> 24 != 0)) << 31;
                self.words(&[n, kflag | kind << 24 | recs.len() as u32, size]);
                for r in recs {
                    self.words(&r);
                }
                (size, align)
            }
            Ty::Enum { name, size_log, values } => {
                let size = 1u32 << (size_log % 3);
                let n = self.name(*name);
                let vals: Vec<i32> = values.iter().take(32).copied().collect();
                self.words(&[n, 6 << 24 | vals.len() as u32, size]);
                for (i, v) in vals.iter().enumerate() {
                    let vn = self.name(i as u8 + 100);
                    self.words(&[vn, *v as u32]);
                }
                (size, size)
            }
            Ty::Typedef { name, target } => {
                let to = self.earlier(*target).max(1);
                let n = self.name(*name);
                self.words(&[n, 8 << 24, to]);
                self.layout[to as usize]
            }
            Ty::Const(target) => {
                let to = self.earlier(*target).max(1);
                self.words(&[0, 10 << 24, to]);
                self.layout[to as usize]
            }
            Ty::Fwd { name } => {
                let n = self.name(*name);
                self.words(&[n, 7 << 24, 0]);
                (0, 1)
            }
        };
        self.layout.push(lay);
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

fuzz_target!(|types: Vec<Ty>| {
    let mut b = Btf {
        strs: vec![0],
        layout: vec![(0, 1)],
        ..Default::default()
    };
    // Type id 1 is always an int, so every reference has something to land on.
    b.add(&Ty::Int { size_log: 2, signed: true });
    for t in types.iter().take(4096) {
        b.add(t);
    }
    if let Ok(model) = bpfgen_core::load_bytes(&b.blob(), "structured.btf", None) {
        let opts = bpfgen_core::Options {
            all: true,
            ..Default::default()
        };
        let _ = model.generate(&opts);
    }
});
