//! Input files: an ELF BPF object (its `.BTF` section) or a raw BTF blob such as
//! `/sys/kernel/btf/vmlinux`. Only framing is checked here; BTF itself is `btf.rs`'s.

use std::borrow::Cow;

use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, Object as _, ObjectSection as _, ObjectSymbol as _};

use crate::error::{ErrorKind, KResult};

/// Byte order of the BPF object, and so of every map value and global in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    pub fn name(self) -> &'static str {
        match self {
            Endian::Little => "little-endian",
            Endian::Big => "big-endian",
        }
    }
}

/// What kind of file the BTF came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// An ELF BPF object (`*.bpf.o`).
    Elf,
    /// A raw BTF file (magic 0xeB9F), e.g. `/sys/kernel/btf/vmlinux`.
    RawBtf,
}

/// A parsed input file.
pub struct Input<'a> {
    pub kind: InputKind,
    pub endian: Endian,
    /// The BTF bytes (`.BTF` section contents, or the whole raw file).
    pub btf: Cow<'a, [u8]>,
    /// The ELF file, for symbols and data sections.
    pub elf: Option<ElfFile64<'a, Endianness>>,
}

/// What the map and global decoders need from an ELF object, owned (the [`Input`]
/// borrows the file's bytes; a [`crate::Model`] outlives them).
#[derive(Clone, Debug, Default)]
pub struct ElfInfo {
    /// Every section, in section-header order.
    pub sections: Vec<ElfSection>,
    /// Every symbol of `.symtab` except the null symbol, in table order.
    pub symbols: Vec<ElfSymbol>,
}

/// One ELF section header.
#[derive(Clone, Debug)]
pub struct ElfSection {
    /// Section header index (`st_shndx` of the symbols defined in it).
    pub index: usize,
    pub name: String,
    /// `sh_size`: the size of the data (for `SHT_NOBITS` `.bss`, the size it occupies).
    pub size: u64,
    /// `sh_flags` (`SHF_WRITE` = 1, `SHF_ALLOC` = 2, `SHF_EXECINSTR` = 4, …).
    pub flags: u64,
    /// `sh_type` (`SHT_PROGBITS` = 1, `SHT_NOBITS` = 8, …).
    pub kind: u32,
    /// `sh_addralign`.
    pub align: u64,
}

/// One ELF symbol.
#[derive(Clone, Debug)]
pub struct ElfSymbol {
    pub name: String,
    /// Index of the section that defines it; `None` for undefined (extern) and
    /// absolute symbols.
    pub section: Option<usize>,
    /// `st_value`: the offset in its section.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// `STB_LOCAL` = 0, `STB_GLOBAL` = 1, `STB_WEAK` = 2.
    pub binding: u8,
    /// `STT_NOTYPE` = 0, `STT_OBJECT` = 1, `STT_FUNC` = 2, `STT_SECTION` = 3, …
    pub kind: u8,
}

impl ElfInfo {
    /// The sections and symbols of `elf`, owned.
    pub fn from_elf(elf: &ElfFile64<'_, Endianness>) -> KResult<ElfInfo> {
        use object::read::elf::SectionHeader as _;
        let endian = elf.endian();
        let mut sections = Vec::new();
        for s in elf.sections() {
            let h = s.elf_section_header();
            sections.push(ElfSection {
                index: s.index().0,
                name: s
                    .name()
                    .map_err(|e| ErrorKind::Elf(e.to_string()))?
                    .to_string(),
                size: h.sh_size(endian),
                flags: h.sh_flags(endian),
                kind: h.sh_type(endian),
                align: h.sh_addralign(endian),
            });
        }
        let mut symbols = Vec::new();
        for sym in elf.symbols() {
            let raw = sym.elf_symbol();
            symbols.push(ElfSymbol {
                name: sym
                    .name()
                    .map_err(|e| ErrorKind::Elf(e.to_string()))?
                    .to_string(),
                section: sym.section_index().map(|i| i.0),
                value: sym.address(),
                size: sym.size(),
                binding: raw.st_bind(),
                kind: raw.st_type(),
            });
        }
        Ok(ElfInfo { sections, symbols })
    }

    pub fn section(&self, index: usize) -> Option<&ElfSection> {
        self.sections.iter().find(|s| s.index == index)
    }

    pub fn section_by_name(&self, name: &str) -> Option<&ElfSection> {
        self.sections.iter().find(|s| s.name == name)
    }
}

const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Recognises and opens `bytes`.
pub fn read(bytes: &[u8]) -> KResult<Input<'_>> {
    if bytes.starts_with(ELF_MAGIC) {
        return read_elf(bytes);
    }
    match bytes.get(..2) {
        Some([0x9f, 0xeb]) => Ok(Input {
            kind: InputKind::RawBtf,
            endian: Endian::Little,
            btf: Cow::Borrowed(bytes),
            elf: None,
        }),
        Some([0xeb, 0x9f]) => Ok(Input {
            kind: InputKind::RawBtf,
            endian: Endian::Big,
            btf: Cow::Borrowed(bytes),
            elf: None,
        }),
        _ => Err(ErrorKind::NotObject {
            first_bytes: first_bytes(bytes),
        }),
    }
}

fn first_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "none: the file is empty".to_string();
    }
    let hex: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

fn read_elf(bytes: &[u8]) -> KResult<Input<'_>> {
    match bytes.get(4) {
        Some(2) => {}
        Some(1) => return Err(ErrorKind::Elf32),
        Some(other) => {
            return Err(ErrorKind::Elf(format!(
                "unknown ELF class {other} at byte 4 (2: 64-bit)"
            )))
        }
        None => {
            return Err(ErrorKind::Elf(
                "the file ends at byte 4, before the ELF class".into(),
            ))
        }
    }
    crate::elf_check::check(bytes)?;
    let elf = ElfFile64::<Endianness>::parse(bytes).map_err(|e| ErrorKind::Elf(e.to_string()))?;
    let header = elf.elf_header();
    let machine = header.e_machine(elf.endian());
    if machine != object::elf::EM_BPF {
        return Err(ErrorKind::NotBpf {
            machine: machine_name(machine),
        });
    }
    let endian = if elf.is_little_endian() {
        Endian::Little
    } else {
        Endian::Big
    };
    let section = elf.section_by_name(".BTF").ok_or(ErrorKind::NoBtf)?;
    let btf = section
        .uncompressed_data()
        .map_err(|e| ErrorKind::Section {
            section: ".BTF".into(),
            msg: e.to_string(),
        })?;
    Ok(Input {
        kind: InputKind::Elf,
        endian,
        btf,
        elf: Some(elf),
    })
}

fn machine_name(machine: u16) -> String {
    let name = match machine {
        object::elf::EM_X86_64 => "x86-64",
        object::elf::EM_386 => "i386",
        object::elf::EM_AARCH64 => "AArch64",
        object::elf::EM_ARM => "ARM",
        object::elf::EM_S390 => "s390",
        object::elf::EM_PPC64 => "PowerPC64",
        object::elf::EM_RISCV => "RISC-V",
        _ => return format!("{machine}"),
    };
    format!("{machine} ({name})")
}
