//! BTF bytes → a validated `btf_rs::Btf`.
//!
//! btf-rs decodes every kind but checks little: it trusts lengths and offsets, keys
//! names by string start, and hides the INT encoding bits. So before handing bytes
//! over we walk the framing ourselves: header bounds, every type record's length,
//! kind numbers, and every name offset. This pass is linear, allocates in proportion
//! to the real content, and turns each failure into an error naming the byte offset
//! or type id. What the IR needs and btf-rs hides (INT bit encoding) is kept here.

use crate::error::{ErrorKind, KResult};
use crate::object::Endian;

/// Size of the fixed part of `struct btf_header`.
const HEADER_LEN: u32 = 24;
/// Largest kind number this version understands (BTF_KIND_ENUM64).
pub const MAX_KIND: u32 = 19;
/// Most strings accepted in one string table. btf-rs keeps every string in a hash
/// map (about 100 bytes and 3.5 µs each: 16 MiB of empty strings took 57 s and
/// 1.6 GB), so a table of tiny strings is refused before it is handed over.
/// vmlinux has about 125,000.
pub const MAX_STRINGS: usize = 1_000_000;

/// BTF kinds (`include/uapi/linux/btf.h`).
pub mod kind {
    pub const INT: u32 = 1;
    pub const PTR: u32 = 2;
    pub const ARRAY: u32 = 3;
    pub const STRUCT: u32 = 4;
    pub const UNION: u32 = 5;
    pub const ENUM: u32 = 6;
    pub const FWD: u32 = 7;
    pub const TYPEDEF: u32 = 8;
    pub const VOLATILE: u32 = 9;
    pub const CONST: u32 = 10;
    pub const RESTRICT: u32 = 11;
    pub const FUNC: u32 = 12;
    pub const FUNC_PROTO: u32 = 13;
    pub const VAR: u32 = 14;
    pub const DATASEC: u32 = 15;
    pub const FLOAT: u32 = 16;
    pub const DECL_TAG: u32 = 17;
    pub const TYPE_TAG: u32 = 18;
    pub const ENUM64: u32 = 19;
}

/// What the framing pass learned about one BTF blob.
pub struct RawInfo {
    pub endian: Endian,
    /// First type id described by this blob (1 for base BTF).
    pub first_id: u32,
    /// Number of type records in this blob.
    pub count: u32,
    /// First string offset of this blob (0 for base BTF).
    pub str_base: u32,
    pub str_len: u32,
    /// INT encoding word (`BTF_INT_ENCODING | OFFSET | BITS`) per record; 0 for other kinds.
    pub int_words: Vec<u32>,
    /// Bit set of the offsets (relative to `str_base`) at which a string starts.
    str_starts: Vec<u64>,
}

impl RawInfo {
    fn is_string_start(&self, off: u32) -> bool {
        let i = off as usize;
        self.str_starts
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// The INT encoding word of type `id`, if `id` is an INT of this blob.
    pub fn int_word(&self, id: u32) -> Option<u32> {
        let local = id.checked_sub(self.first_id)?;
        self.int_words.get(local as usize).copied()
    }
}

/// A validated BTF blob, decoded by btf-rs.
pub struct Loaded {
    pub btf: btf_rs::Btf,
    pub raw: RawInfo,
    /// The base blob's framing, for split BTF.
    pub base_raw: Option<RawInfo>,
}

impl Loaded {
    /// The INT encoding word of type `id` (base or split).
    pub fn int_word(&self, id: u32) -> Option<u32> {
        self.raw
            .int_word(id)
            .or_else(|| self.base_raw.as_ref().and_then(|b| b.int_word(id)))
    }

    /// Last valid type id.
    pub fn last_id(&self) -> u32 {
        self.raw.first_id + self.raw.count - 1
    }
}

/// Validates and decodes `bytes`; `base` is the loaded base BTF for split BTF.
pub fn load(bytes: &[u8], base: Option<&Loaded>) -> KResult<Loaded> {
    let raw = validate(bytes, base.map(|b| &b.raw))?;
    let btf = match base {
        None => btf_rs::Btf::from_bytes(bytes),
        Some(b) => btf_rs::Btf::from_split_bytes(bytes, &b.btf),
    }
    .map_err(|e| ErrorKind::Btf(e.to_string()))?;
    // btf-rs counts ids the same way; a disagreement would be a btf-rs bug we must not
    // paper over.
    let (_, last) = btf.type_iter_range();
    if last != raw.first_id + raw.count - 1 {
        return Err(ErrorKind::Btf(format!(
            "btf-rs decoded {last} as the last type id, the framing pass {}",
            raw.first_id + raw.count - 1
        )));
    }
    Ok(Loaded {
        btf,
        base_raw: base.map(|b| clone_raw(&b.raw)),
        raw,
    })
}

fn clone_raw(r: &RawInfo) -> RawInfo {
    RawInfo {
        endian: r.endian,
        first_id: r.first_id,
        count: r.count,
        str_base: r.str_base,
        str_len: r.str_len,
        int_words: r.int_words.clone(),
        str_starts: r.str_starts.clone(),
    }
}

trait IdRange {
    fn type_iter_range(&self) -> (u32, u32);
}

impl IdRange for btf_rs::Btf {
    fn type_iter_range(&self) -> (u32, u32) {
        match self.split() {
            Some(split) => split.type_id_range(),
            None => self.base().type_id_range(),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    endian: Endian,
}

impl Reader<'_> {
    fn u32_at(&self, off: u64, what: &str) -> KResult<u32> {
        let start = usize::try_from(off).map_err(|_| truncated(off, what))?;
        let b = self
            .bytes
            .get(start..start.saturating_add(4))
            .ok_or_else(|| truncated(off, what))?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(match self.endian {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        })
    }
}

fn truncated(offset: u64, what: &str) -> ErrorKind {
    ErrorKind::Truncated {
        offset,
        what: what.to_string(),
    }
}

/// The framing pass. See the module docs.
pub fn validate(bytes: &[u8], base: Option<&RawInfo>) -> KResult<RawInfo> {
    let endian = match bytes.get(..2) {
        Some([0x9f, 0xeb]) => Endian::Little,
        Some([0xeb, 0x9f]) => Endian::Big,
        Some([a, b]) => {
            return Err(ErrorKind::BadMagic {
                magic: u16::from_le_bytes([*a, *b]),
            })
        }
        _ => {
            return Err(truncated(
                bytes.len() as u64,
                "the BTF header needs 24 bytes",
            ))
        }
    };
    if let Some(base) = base {
        if base.endian != endian {
            return Err(ErrorKind::EndianMismatch {
                btf: endian.name(),
                elf: base.endian.name(),
            });
        }
    }
    let r = Reader { bytes, endian };
    if bytes.len() < HEADER_LEN as usize {
        return Err(truncated(
            bytes.len() as u64,
            "the BTF header needs 24 bytes",
        ));
    }
    let (version, flags) = (bytes[2], bytes[3]);
    if version != 1 {
        return Err(ErrorKind::Header(format!(
            "version {version} at byte 2 (only version 1 exists)"
        )));
    }
    if flags != 0 {
        return Err(ErrorKind::Header(format!(
            "flags {flags:#x} at byte 3 (must be 0)"
        )));
    }
    let hdr_len = r.u32_at(4, "header")?;
    let type_off = r.u32_at(8, "header")?;
    let type_len = r.u32_at(12, "header")?;
    let str_off = r.u32_at(16, "header")?;
    let str_len = r.u32_at(20, "header")?;
    let total = bytes.len() as u64;
    if hdr_len < HEADER_LEN || u64::from(hdr_len) > total {
        return Err(ErrorKind::Header(format!(
            "header length {hdr_len} at byte 4 is outside 24..={total}"
        )));
    }
    let types_start = u64::from(hdr_len) + u64::from(type_off);
    let types_end = types_start + u64::from(type_len);
    let strs_start = u64::from(hdr_len) + u64::from(str_off);
    let strs_end = strs_start + u64::from(str_len);
    if types_end > total {
        return Err(ErrorKind::Header(format!(
            "type section (bytes {types_start}..{types_end}) runs past the end of the BTF data ({total} bytes)"
        )));
    }
    if strs_end > total {
        return Err(ErrorKind::Header(format!(
            "string section (bytes {strs_start}..{strs_end}) runs past the end of the BTF data ({total} bytes)"
        )));
    }
    if type_off % 4 != 0 {
        return Err(ErrorKind::Header(format!(
            "type section offset {type_off} is not 4-byte aligned"
        )));
    }
    if types_start < strs_end && strs_start < types_end {
        return Err(ErrorKind::Header(
            "type and string sections overlap".to_string(),
        ));
    }
    let (str_base, first_id) = match base {
        None => (0, 1),
        Some(b) => (b.str_base + b.str_len, b.first_id + b.count),
    };
    let strs = &bytes[strs_start as usize..strs_end as usize];
    let str_starts = scan_strings(strs, base.is_none())?;
    let nstrings: usize = str_starts.iter().map(|w| w.count_ones() as usize).sum();
    if nstrings > MAX_STRINGS {
        return Err(ErrorKind::Strings {
            offset: 0,
            what: format!(
                "{nstrings} strings, more than the {MAX_STRINGS} bpfgen decodes (vmlinux has about 125,000)"
            ),
        });
    }

    let mut info = RawInfo {
        endian,
        first_id,
        count: 0,
        str_base,
        str_len,
        int_words: Vec::new(),
        str_starts,
    };
    let check_name = |info: &RawInfo, id: u32, name_off: u32, what: &str| -> KResult<()> {
        let ok = if name_off >= info.str_base {
            info.is_string_start(name_off - info.str_base)
        } else {
            base.is_some_and(|b| name_off >= b.str_base && b.is_string_start(name_off - b.str_base))
        };
        if ok {
            // Names only: the table also holds `.BTF.ext`'s source lines, tabs and all.
            let local = name_off.checked_sub(info.str_base).map(|o| o as usize);
            let text = local
                .and_then(|o| strs.get(o..))
                .and_then(|rest| rest.split(|&b| b == 0).next())
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or("");
            match text.chars().find(|c| crate::error::unprintable(*c)) {
                None => Ok(()),
                Some(c) => Err(ErrorKind::ty(
                    id,
                    format!(
                        "{what} name (string offset {name_off}) holds U+{:04X}, a control or text-direction character: no compiler writes one in a name",
                        u32::from(c)
                    ),
                )),
            }
        } else if base.is_none() && name_off >= info.str_len {
            Err(ErrorKind::ty(
                id,
                format!("{what} name offset {name_off} is past the string table ({} bytes); if this is a kernel module's split BTF, pass `--base`", info.str_len),
            ))
        } else {
            Err(ErrorKind::ty(
                id,
                format!("{what} name offset {name_off} is not the start of a string"),
            ))
        }
    };

    let mut off = types_start;
    let mut id = first_id;
    let mut refs: Vec<(u32, u32, &'static str)> = Vec::new();
    while off < types_end {
        let rel = off - types_start;
        let need = |n: u64| -> KResult<()> {
            if off + n > types_end {
                Err(ErrorKind::Truncated {
                    offset: off,
                    what: format!(
                        "type id {id} needs {n} bytes, the type section ends at byte {types_end}"
                    ),
                })
            } else {
                Ok(())
            }
        };
        need(12)?;
        let name_off = r.u32_at(off, "type")?;
        let word = r.u32_at(off + 4, "type")?;
        let size_or_type = r.u32_at(off + 8, "type")?;
        let k = (word >> 24) & 0x1f;
        let vlen = u64::from(word & 0xffff);
        if k == 0 || k > MAX_KIND {
            return Err(ErrorKind::UnknownKind {
                kind: k,
                id,
                offset: rel,
            });
        }
        check_name(&info, id, name_off, "type")?;
        let body = match k {
            kind::INT | kind::VAR | kind::DECL_TAG => 4,
            kind::ARRAY => 12,
            kind::STRUCT | kind::UNION | kind::DATASEC | kind::ENUM64 => 12 * vlen,
            kind::ENUM | kind::FUNC_PROTO => 8 * vlen,
            _ => 0,
        };
        need(12 + body)?;
        let mut int_word = 0;
        match k {
            kind::INT => {
                int_word = r.u32_at(off + 12, "int")?;
                let bits = int_word & 0xff;
                let bit_off = (int_word >> 16) & 0xff;
                if !matches!(size_or_type, 1 | 2 | 4 | 8 | 16) {
                    return Err(ErrorKind::ty(
                        id,
                        format!("INT of size {size_or_type} (expected 1, 2, 4, 8 or 16)"),
                    ));
                }
                if bits == 0 || bits + bit_off > size_or_type * 8 {
                    return Err(ErrorKind::ty(
                        id,
                        format!(
                            "INT of {size_or_type} bytes has {bits} bits at bit offset {bit_off}"
                        ),
                    ));
                }
            }
            kind::STRUCT | kind::UNION | kind::ENUM | kind::ENUM64 | kind::FUNC_PROTO => {
                let stride = if matches!(k, kind::ENUM | kind::FUNC_PROTO) {
                    8
                } else {
                    12
                };
                for i in 0..vlen {
                    let m_name = r.u32_at(off + 12 + i * stride, "member")?;
                    check_name(&info, id, m_name, &format!("member {i}"))?;
                }
            }
            _ => {}
        }
        // References the graph does not follow, checked here (the others in `ir`).
        match k {
            kind::ARRAY => {
                refs.push((id, r.u32_at(off + 12, "array")?, "array element type"));
                refs.push((id, r.u32_at(off + 16, "array")?, "array index type"));
            }
            kind::FUNC => refs.push((id, size_or_type, "function prototype")),
            kind::DECL_TAG => refs.push((id, size_or_type, "tagged type")),
            kind::FUNC_PROTO => {
                refs.push((id, size_or_type, "return type"));
                for i in 0..vlen {
                    refs.push((
                        id,
                        r.u32_at(off + 16 + i * 8, "parameter")?,
                        "parameter type",
                    ));
                }
            }
            _ => {}
        }
        info.int_words.push(int_word);
        off += 12 + body;
        id = id
            .checked_add(1)
            .ok_or_else(|| ErrorKind::Header("too many types".into()))?;
        info.count += 1;
    }
    let last = first_id + info.count - 1;
    if let Some((id, r, what)) = refs.into_iter().find(|(_, r, _)| *r > last) {
        return Err(ErrorKind::ty(
            id,
            format!("{what} is type id {r}, past the last type id {last}"),
        ));
    }
    Ok(info)
}

/// Checks the string table (NUL-terminated UTF-8 strings, the first one empty for
/// base BTF) and returns the bit set of string start offsets.
fn scan_strings(strs: &[u8], is_base: bool) -> KResult<Vec<u64>> {
    if strs.is_empty() {
        return if is_base {
            Err(ErrorKind::Strings {
                offset: 0,
                what: "empty string table (it must start with the empty string)".into(),
            })
        } else {
            Ok(Vec::new())
        };
    }
    if is_base && strs[0] != 0 {
        return Err(ErrorKind::Strings {
            offset: 0,
            what:
                "first string is not empty; if this is a kernel module's split BTF, pass `--base`"
                    .into(),
        });
    }
    if strs[strs.len() - 1] != 0 {
        return Err(ErrorKind::Strings {
            offset: (strs.len() - 1) as u32,
            what: "last string is not NUL-terminated".into(),
        });
    }
    let mut starts = vec![0u64; strs.len().div_ceil(64)];
    let mut pos = 0usize;
    for s in strs.split(|&b| b == 0) {
        if pos >= strs.len() {
            break;
        }
        if std::str::from_utf8(s).is_err() {
            return Err(ErrorKind::Strings {
                offset: pos as u32,
                what: "string is not UTF-8".into(),
            });
        }
        starts[pos / 64] |= 1 << (pos % 64);
        pos += s.len() + 1;
    }
    Ok(starts)
}
