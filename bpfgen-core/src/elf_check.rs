//! The ELF framing an object must have before the `object` crate reads it, checked
//! with byte offsets in every message: the header, the section header table, the
//! section-name string table (`e_shstrndx`) and every section's data range.

use crate::error::{ErrorKind, KResult};

/// `Elf64_Ehdr` and `Elf64_Shdr` sizes.
const EHDR: u64 = 64;
const SHDR: u64 = 64;
const SHT_STRTAB: u32 = object::elf::SHT_STRTAB;
const SHT_NOBITS: u32 = object::elf::SHT_NOBITS;

struct Reader<'a> {
    bytes: &'a [u8],
    big: bool,
}

impl Reader<'_> {
    fn get<const N: usize>(&self, at: u64) -> Option<[u8; N]> {
        let start = usize::try_from(at).ok()?;
        self.bytes
            .get(start..start.checked_add(N)?)?
            .try_into()
            .ok()
    }
    fn u16(&self, at: u64) -> Option<u16> {
        let b = self.get::<2>(at)?;
        Some(if self.big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, at: u64) -> Option<u32> {
        let b = self.get::<4>(at)?;
        Some(if self.big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, at: u64) -> Option<u64> {
        let b = self.get::<8>(at)?;
        Some(if self.big {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
}

fn elf(msg: String) -> ErrorKind {
    ErrorKind::Elf(msg)
}

/// Checks the framing of the 64-bit ELF file `bytes` (its class already checked).
pub fn check(bytes: &[u8]) -> KResult<()> {
    let len = bytes.len() as u64;
    if len < EHDR {
        return Err(elf(format!(
            "the ELF header needs {EHDR} bytes, the file has {len}"
        )));
    }
    let big = match bytes[5] {
        1 => false,
        2 => true,
        other => {
            return Err(elf(format!(
                "unknown ELF data encoding {other} at byte 5 (1: little-endian, 2: big-endian)"
            )))
        }
    };
    let r = Reader { bytes, big };
    let truncated = || elf("the ELF header is truncated".to_string());
    let shoff = r.u64(40).ok_or_else(truncated)?;
    let shentsize = u64::from(r.u16(58).ok_or_else(truncated)?);
    let mut shnum = u64::from(r.u16(60).ok_or_else(truncated)?);
    let mut shstrndx = u64::from(r.u16(62).ok_or_else(truncated)?);
    if shoff == 0 {
        return Ok(()); // no sections: "no `.BTF` section" follows
    }
    if shentsize != SHDR {
        return Err(elf(format!(
            "section header size (e_shentsize, byte 58) is {shentsize}, not {SHDR}"
        )));
    }
    // Extended numbering: the real counts live in section 0.
    if shoff.checked_add(SHDR).is_some_and(|end| end <= len) {
        if shnum == 0 {
            shnum = r.u64(shoff + 32).ok_or_else(truncated)?;
        }
        if shstrndx == u64::from(object::elf::SHN_XINDEX) {
            shstrndx = u64::from(r.u32(shoff + 40).ok_or_else(truncated)?);
        }
    }
    shnum
        .checked_mul(SHDR)
        .and_then(|n| n.checked_add(shoff))
        .filter(|&end| end <= len)
        .ok_or_else(|| {
            elf(format!(
                "the section header table (e_shoff = {shoff}, byte 40: {shnum} headers of {SHDR} bytes) runs past the end of the file ({len} bytes)"
            ))
        })?;
    let header = |i: u64| shoff + i * SHDR;
    if shstrndx >= shnum {
        return Err(elf(format!(
            "the section-name table index (e_shstrndx, byte 62) is {shstrndx}, but there are {shnum} sections"
        )));
    }
    let strtab_type = r.u32(header(shstrndx) + 4).ok_or_else(truncated)?;
    if strtab_type != SHT_STRTAB {
        return Err(elf(format!(
            "the section-name table (e_shstrndx = {shstrndx}, byte 62) is a section of type {strtab_type} (header at byte {}), not a string table (SHT_STRTAB = {SHT_STRTAB}): section names cannot be read",
            header(shstrndx)
        )));
    }
    for i in 0..shnum {
        let h = header(i);
        let kind = r.u32(h + 4).ok_or_else(truncated)?;
        let offset = r.u64(h + 24).ok_or_else(truncated)?;
        let size = r.u64(h + 32).ok_or_else(truncated)?;
        if kind == SHT_NOBITS || i == 0 {
            continue;
        }
        if offset.checked_add(size).is_none_or(|end| end > len) {
            return Err(elf(format!(
                "section {i} (header at byte {h}): its data at bytes {offset}..{} runs past the end of the file ({len} bytes)",
                offset as u128 + size as u128
            )));
        }
    }
    Ok(())
}
