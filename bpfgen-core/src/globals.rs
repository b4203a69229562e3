//! The global variables of an object: its data sections (`.bss`, `.data`, `.rodata`,
//! `.data.*`, `.rodata.*`, `.bss.*`), where every variable sits, and its `.kconfig`
//! and `.ksyms` externs.
//!
//! In a `.bpf.o` the DATASECs still have size 0 and their variables offset 0 (libbpf
//! fills them in from the ELF symbol table at load time; `bpftool btf dump file`
//! shows it), so this module does what libbpf does: a section's size is its section
//! header's `sh_size`, a variable's offset the `st_value` of its symbol in that section
//! (for static variables too: clang names a function's static `func.var` in both the
//! BTF and the symbol table). Externs have no place in the object: libbpf lays
//! `.kconfig` out itself and resolves `.ksyms` against the kernel; they are only listed.
//!
//! Also here: names for anonymous types that only maps and globals use
//! (`struct { … } cfg;`), which the type naming (`naming.rs`) never reaches.

use crate::error::{ErrorKind, KResult};
use crate::ir::{Ir, Kind, TypeId};
use crate::layout::Layouts;
use crate::naming::{anon_target, field_names, ident, kind_word, name_nested, Names, Role, Taken};
use crate::object::ElfInfo;

/// What kind of data a section holds (and so which kernel map a loader makes of it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// `.bss*`: zero-initialised, writable.
    Bss,
    /// `.data*`: initialised, writable.
    Data,
    /// `.rodata*`: initialised, read-only for programs once loaded (`BPF_F_RDONLY_PROG`).
    Rodata,
}

/// One data section.
#[derive(Clone, Debug)]
pub struct DataSection {
    /// The ELF section name (`.data.custom`): libbpf's and aya's map for it is named
    /// after it.
    pub name: String,
    pub kind: SectionKind,
    /// `sh_size`: the kernel map's value size.
    pub size: u64,
    /// The section's DATASEC, when clang wrote one (string-literal sections such as
    /// `.rodata.str1.1` have none).
    pub datasec: Option<TypeId>,
    /// The variables, by offset.
    pub vars: Vec<GlobalVar>,
}

/// One variable of a data section.
#[derive(Clone, Debug)]
pub struct GlobalVar {
    /// The name in the BTF and the symbol table (`compute.calls` for a static in
    /// function `compute`).
    pub name: String,
    /// The VAR's BTF type id.
    pub var: TypeId,
    /// The variable's type.
    pub ty: TypeId,
    pub offset: u64,
    pub size: u64,
    /// `static` in C (a local symbol).
    pub is_static: bool,
}

/// A `.kconfig` or `.ksyms` extern.
#[derive(Clone, Debug)]
pub struct Extern {
    pub name: String,
    /// `.kconfig` or `.ksyms`.
    pub section: String,
    pub var: TypeId,
    pub ty: TypeId,
    /// The size of its type (`None` for `extern const void sym __ksym;`).
    pub size: Option<u64>,
    /// Declared `__weak`.
    pub weak: bool,
}

/// The globals of an object.
#[derive(Clone, Debug, Default)]
pub struct Globals {
    /// Data sections in section-header order.
    pub sections: Vec<DataSection>,
    pub externs: Vec<Extern>,
}

fn section_kind(name: &str) -> Option<SectionKind> {
    let is = |base: &str| name == base || name.starts_with(&format!("{base}."));
    if is(".bss") {
        Some(SectionKind::Bss)
    } else if is(".data") {
        Some(SectionKind::Data)
    } else if is(".rodata") {
        Some(SectionKind::Rodata)
    } else {
        None
    }
}

/// The largest data section accepted: its map's value (a `u32` size for libbpf; the
/// kernel caps an array's value far lower). Larger would make a section struct rustc
/// cannot lay out on 32-bit hosts.
pub const MAX_SECTION: u64 = 1 << 30;

const SHT_PROGBITS: u32 = 1;
const SHT_NOBITS: u32 = 8;
const SHF_ALLOC: u64 = 2;
const STT_OBJECT: u8 = 1;
const STB_LOCAL: u8 = 0;
const STB_WEAK: u8 = 2;

/// Finds every data section and extern of an object.
pub fn decode(ir: &Ir, elf: &ElfInfo) -> KResult<Globals> {
    let mut out = Globals::default();
    // One pass over the types, not one per section (20,000 sections × 200,000 types
    // took 11 s). The first DATASEC of a name, as a search in id order finds it.
    let mut datasecs: std::collections::HashMap<&str, TypeId> = Default::default();
    for id in ir.first_id..ir.types.len() as TypeId {
        if let (Kind::Datasec { .. }, Some(n)) = (&ir.get(id).kind, ir.name(id)) {
            datasecs.entry(n).or_insert(id);
        }
    }
    let find_datasec = |name: &str| datasecs.get(name).copied();
    for sec in &elf.sections {
        let Some(kind) = section_kind(&sec.name) else {
            continue;
        };
        if !matches!(sec.kind, SHT_PROGBITS | SHT_NOBITS) || sec.flags & SHF_ALLOC == 0 {
            continue;
        }
        if sec.size > MAX_SECTION {
            return Err(ErrorKind::DataSection {
                section: sec.name.clone(),
                index: sec.index,
                what: format!(
                    "its size (sh_size) is {} bytes, more than a BPF map value holds (bpfgen accepts up to {MAX_SECTION})",
                    sec.size
                ),
            });
        }
        let datasec = find_datasec(&sec.name);
        let mut vars = Vec::new();
        if let Some(ds) = datasec {
            let Kind::Datasec { vars: entries } = &ir.get(ds).kind else {
                continue;
            };
            for e in entries {
                let (name, ty) = match (&ir.get(e.var).name, &ir.get(e.var).kind) {
                    (Some(n), Kind::Var { target }) => (n.clone(), *target),
                    _ => {
                        return Err(ErrorKind::ty(
                            ds,
                            format!("an entry of DATASEC `{}` is not a named VAR", sec.name),
                        ))
                    }
                };
                let gerr = |what: String| ErrorKind::Global {
                    section: sec.name.clone(),
                    var: name.clone(),
                    what,
                };
                let sym = elf
                    .symbols
                    .iter()
                    .find(|s| s.section == Some(sec.index) && s.name == name && s.kind == STT_OBJECT)
                    .ok_or_else(|| {
                        gerr("no ELF symbol of that name in the section (bpfgen takes offsets from the symbol table, as libbpf does)".into())
                    })?;
                let size = ir
                    .size_of(ty)
                    .map_err(|e| gerr(format!("its type has no size: {e}")))?;
                if sym.size != size {
                    return Err(gerr(format!(
                        "the ELF symbol is {} bytes but its BTF type is {size} bytes",
                        sym.size
                    )));
                }
                if sym.value.checked_add(size).is_none_or(|end| end > sec.size) {
                    return Err(gerr(format!(
                        "bytes {}..{} run past the end of the section ({} bytes)",
                        sym.value,
                        sym.value.saturating_add(size),
                        sec.size
                    )));
                }
                vars.push(GlobalVar {
                    name,
                    var: e.var,
                    ty,
                    offset: sym.value,
                    size,
                    is_static: sym.binding == STB_LOCAL,
                });
            }
        }
        vars.sort_by(|a, b| (a.offset, a.size, &a.name).cmp(&(b.offset, b.size, &b.name)));
        out.sections.push(DataSection {
            name: sec.name.clone(),
            kind,
            size: sec.size,
            datasec,
            vars,
        });
    }
    for section in [".kconfig", ".ksyms"] {
        let Some(ds) = find_datasec(section) else {
            continue;
        };
        let Kind::Datasec { vars } = &ir.get(ds).kind else {
            continue;
        };
        for e in vars {
            let (Some(name), Kind::Var { target }) = (&ir.get(e.var).name, &ir.get(e.var).kind)
            else {
                continue;
            };
            let weak = elf
                .symbols
                .iter()
                .any(|s| &s.name == name && s.section.is_none() && s.binding == STB_WEAK);
            let sized = ir.strip(*target).ok().map(|b| &ir.get(b).kind);
            let size = match sized {
                Some(Kind::Void) | Some(Kind::Fwd { .. }) | Some(Kind::FuncProto) | None => None,
                _ => ir.size_of(*target).ok(),
            };
            out.externs.push(Extern {
                name: name.clone(),
                section: section.to_string(),
                var: e.var,
                ty: *target,
                size,
                weak,
            });
        }
    }
    Ok(out)
}

/// How a data section's bytes are covered by the generated struct.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecSlot {
    /// Variable `var` (index into [`DataSection::vars`]) as a field.
    Var { var: usize, offset: u64, size: u64 },
    /// Variable `var` at an offset its type's alignment does not allow (clang does
    /// not over-align BPF globals, e.g. a 64-byte aligned `struct net_device` in
    /// `.bss`): held as bytes, with accessors.
    Bytes { var: usize, offset: u64, size: u64 },
    /// Bytes no variable covers, inside the section.
    Pad { offset: u64, len: u64 },
    /// Bytes after the section's end, up to a multiple of the struct's alignment.
    Tail { offset: u64, len: u64 },
}

/// The layout of a data section's struct.
#[derive(Clone, Debug)]
pub struct SecLayout {
    /// `size_of` the struct: the section size rounded up to `align`.
    pub size: u64,
    pub align: u32,
    /// Whether `#[repr(align(N))]` is needed for every host to agree.
    pub align_attr: bool,
    pub slots: Vec<SecSlot>,
}

/// Lays out a data section as a struct: each variable at its symbol's offset,
/// explicit padding between them and after the section's end up to the struct's
/// alignment (the largest alignment of its variables' types).
pub fn section_layout(layouts: &mut Layouts<'_>, sec: &DataSection) -> KResult<SecLayout> {
    let mut align: u32 = 1;
    let mut guaranteed: u32 = 1;
    let mut slots = Vec::new();
    let mut cursor: u64 = 0;
    for (i, v) in sec.vars.iter().enumerate() {
        let gerr = |what: String| ErrorKind::Global {
            section: sec.name.clone(),
            var: v.name.clone(),
            what,
        };
        let a = layouts.align_of(v.ty)?;
        if v.offset < cursor {
            return Err(gerr(format!(
                "bytes {}..{} overlap the variable before it",
                v.offset,
                v.offset + v.size
            )));
        }
        if v.offset > cursor {
            slots.push(SecSlot::Pad {
                offset: cursor,
                len: v.offset - cursor,
            });
        }
        if v.offset % u64::from(a) == 0 {
            align = align.max(a);
            guaranteed = guaranteed.max(layouts.guaranteed_align(v.ty)?);
            slots.push(SecSlot::Var {
                var: i,
                offset: v.offset,
                size: v.size,
            });
        } else {
            slots.push(SecSlot::Bytes {
                var: i,
                offset: v.offset,
                size: v.size,
            });
        }
        cursor = v.offset + v.size;
    }
    if sec.size > cursor {
        slots.push(SecSlot::Pad {
            offset: cursor,
            len: sec.size - cursor,
        });
    }
    let size = sec.size.div_ceil(u64::from(align)) * u64::from(align);
    if size > sec.size {
        slots.push(SecSlot::Tail {
            offset: sec.size,
            len: size - sec.size,
        });
    }
    Ok(SecLayout {
        size,
        align,
        align_attr: align > guaranteed,
        slots,
    })
}

/// Field names of a section's variables: C names as identifiers (`compute.calls` →
/// `compute_calls`), made unique.
pub fn var_field_names(sec: &DataSection) -> Vec<String> {
    let members: Vec<crate::ir::Member> = sec
        .vars
        .iter()
        .map(|v| crate::ir::Member {
            name: Some(v.name.clone()),
            ty: v.ty,
            bit_offset: 0,
            bits: None,
        })
        .collect();
    field_names(&members)
}

/// Names anonymous structs, unions and enums that maps and globals use by value
/// (`wants`: the type, the name it should get, e.g. `hash__key` or `cfg`, and its
/// origin for docs), and the anonymous types nested in them, by `naming.rs`'s rules
/// (`{parent}__{member}`; a taken name gets `_{kind}`). Named types are left alone.
pub fn name_anonymous(
    ir: &Ir,
    names: &mut Names,
    wants: &[(TypeId, String, String)],
) -> KResult<()> {
    let mut taken = Taken::of(names);
    for (ty, want, origin) in wants {
        let Some(t) = anon_target(ir, *ty)? else {
            continue;
        };
        if names.roles.contains_key(&t) {
            continue;
        }
        let rust = taken.claim(ident(want), kind_word(&ir.get(t).kind));
        names.roles.insert(t, Role::Item(rust));
        names.anon_origin.insert(t, origin.clone());
        name_nested(ir, names, &mut taken, t)?;
    }
    Ok(())
}
