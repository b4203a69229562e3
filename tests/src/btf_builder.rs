//! Little-endian raw BTF blobs built by hand, for tests that need a type no compiler
//! gives easily (or that must not depend on the host's kernel).
//!
//! NOT a module of the `bpfgen_tests` library: tests pull it in with
//! `#[path = "../src/btf_builder.rs"] mod btf_builder;`.

/// One struct/union member: name (`""` for an anonymous member), type id, bit offset,
/// and bitfield width (0 for an ordinary member).
#[derive(Clone, Copy, Debug)]
pub struct M<'a> {
    pub name: &'a str,
    pub ty: u32,
    pub bit_offset: u32,
    pub bits: u32,
}

/// An ordinary member at byte `off`.
pub fn m(name: &str, ty: u32, off: u32) -> M<'_> {
    M {
        name,
        ty,
        bit_offset: off * 8,
        bits: 0,
    }
}

/// A bitfield member of `bits` bits at bit `bit_offset`.
pub fn bf(name: &str, ty: u32, bit_offset: u32, bits: u32) -> M<'_> {
    M {
        name,
        ty,
        bit_offset,
        bits,
    }
}

/// A raw BTF blob under construction; type ids count from 1 in the order of the calls.
pub struct Btf {
    strs: Vec<u8>,
    types: Vec<u8>,
    /// The last type id added (ids before the first one belong to the base).
    n: u32,
    /// Offset of this blob's strings in the combined string table (split BTF).
    str_base: u32,
}

impl Default for Btf {
    fn default() -> Self {
        Self::new()
    }
}

impl Btf {
    pub fn new() -> Self {
        Btf {
            strs: vec![0],
            types: Vec::new(),
            n: 0,
            str_base: 0,
        }
    }

    /// Split BTF (as a kernel module's) on top of the raw BTF `base`, whose last type
    /// id is `base_last_id`: ids continue after it, strings after the base's.
    pub fn split(base: &[u8], base_last_id: u32) -> Self {
        let str_len = u32::from_le_bytes(base[20..24].try_into().unwrap());
        Btf {
            strs: Vec::new(),
            types: Vec::new(),
            n: base_last_id,
            str_base: str_len,
        }
    }

    fn name(&mut self, n: &str) -> u32 {
        if n.is_empty() {
            return 0;
        }
        let off = self.str_base + self.strs.len() as u32;
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

    /// An INT of `size` bytes.
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let n = self.name(name);
        self.rec(&[n, 1 << 24, size, (u32::from(signed) << 24) | (size * 8)])
    }

    /// A STRUCT (or UNION); bitfield members set the kind flag.
    pub fn composite(&mut self, union: bool, name: &str, size: u32, members: &[M<'_>]) -> u32 {
        let n = self.name(name);
        let kind: u32 = if union { 5 } else { 4 };
        let flag = members.iter().any(|m| m.bits != 0);
        let mut words = vec![
            n,
            (u32::from(flag) << 31) | (kind << 24) | members.len() as u32,
            size,
        ];
        for m in members {
            let mn = self.name(m.name);
            let off = if flag {
                (m.bits << 24) | m.bit_offset
            } else {
                m.bit_offset
            };
            words.extend([mn, m.ty, off]);
        }
        self.rec(&words)
    }

    pub fn structure(&mut self, name: &str, size: u32, members: &[M<'_>]) -> u32 {
        self.composite(false, name, size, members)
    }

    pub fn union(&mut self, name: &str, size: u32, members: &[M<'_>]) -> u32 {
        self.composite(true, name, size, members)
    }

    /// An ENUM of `size` bytes with these enumerators.
    pub fn enumeration(&mut self, name: &str, size: u32, values: &[(&str, i32)]) -> u32 {
        let n = self.name(name);
        let mut words = vec![n, (6 << 24) | values.len() as u32, size];
        for (vn, v) in values {
            let vn = self.name(vn);
            words.extend([vn, *v as u32]);
        }
        self.rec(&words)
    }

    pub fn ptr(&mut self, target: u32) -> u32 {
        self.rec(&[0, 2 << 24, target])
    }

    pub fn typedef(&mut self, name: &str, target: u32) -> u32 {
        let n = self.name(name);
        self.rec(&[n, 8 << 24, target])
    }

    /// An ARRAY of `len` elements of `elem` (indexed by `index`, an INT).
    pub fn array(&mut self, elem: u32, index: u32, len: u32) -> u32 {
        self.rec(&[0, 3 << 24, 0, elem, index, len])
    }

    /// The blob: header, types, strings.
    pub fn blob(&self) -> Vec<u8> {
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
