//! A layout table of the selected types: sizes, alignments, and the offset of every
//! member, with the C designator that reaches it. Tests compare it with what a C
//! compiler computes; `bpfgen layout` prints it.

use crate::error::KResult;
use crate::ir::{Kind, TypeId};
use crate::layout::{Layouts, Slot};
use crate::naming::field_names;
use crate::Model;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeReport {
    pub id: TypeId,
    /// Rust item name.
    pub rust: String,
    /// C type name usable in `sizeof(...)`, when it has one (`struct foo`, `foo_t`).
    pub c_type: Option<String>,
    pub kind: &'static str,
    pub size: u32,
    pub align: u32,
    pub members: Vec<MemberReport>,
    /// Padding slots (offset, length) of structs.
    pub holes: Vec<(u32, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberReport {
    /// C member name (`None` for anonymous members).
    pub c_name: Option<String>,
    /// Rust field or accessor name.
    pub rust: String,
    pub bit_offset: u32,
    /// Byte size of the member's type.
    pub size: u32,
    /// Width of a bitfield.
    pub bits: Option<u32>,
    /// The member's type, when it is a struct/union item (for walking into anonymous members).
    pub nested: Option<TypeId>,
    /// How the Rust type holds it: "field", "bytes", "bits".
    pub held_as: &'static str,
    /// The member's C type, spelled for reading (`__u32`, `struct foo *`, `char[16]`).
    pub c_type: String,
}

/// Reports for struct/union/enum items among `items`.
pub fn report(model: &Model, items: &[TypeId]) -> KResult<Vec<TypeReport>> {
    let ir = &model.ir;
    let mut layouts = Layouts::new(ir);
    let mut out = Vec::new();
    for &id in items {
        let t = ir.get(id);
        let Some(rust) = model.names.item(id) else {
            continue;
        };
        let rust = crate::naming::bare(rust).to_string();
        match &t.kind {
            Kind::Struct(c) | Kind::Union(c) => {
                let l = layouts.composite(id)?.clone();
                let word = if l.is_union { "union" } else { "struct" };
                let c_type = c_type_name(model, id, word);
                let fnames = field_names(&c.members);
                let mut held: Vec<&'static str> = vec!["field"; c.members.len()];
                let mut holes = Vec::new();
                for s in &l.slots {
                    match s {
                        Slot::Bytes { member, .. } => held[*member] = "bytes",
                        Slot::Bits { members, .. } => {
                            members.iter().for_each(|&m| held[m] = "bits")
                        }
                        Slot::Pad { offset, len } => holes.push((*offset, *len)),
                        Slot::Field { .. } => {}
                    }
                }
                if l.is_union {
                    for (i, b) in l.bitfields.iter().enumerate() {
                        held[i] = if b.is_some() { "bits" } else { "bytes" };
                    }
                }
                let mut members = Vec::new();
                for (i, m) in c.members.iter().enumerate() {
                    let nested = ir.strip(m.ty)?;
                    let nested = matches!(ir.get(nested).kind, Kind::Struct(_) | Kind::Union(_))
                        .then_some(nested);
                    members.push(MemberReport {
                        c_name: m.name.clone(),
                        rust: crate::naming::bare(&fnames[i]).to_string(),
                        bit_offset: l.bitfields[i]
                            .as_ref()
                            .map_or(m.bit_offset, |b| b.bit_offset),
                        size: u32::try_from(ir.size_of(m.ty)?).unwrap_or(u32::MAX),
                        bits: l.bitfields[i].as_ref().map(|b| b.bits),
                        nested,
                        held_as: held[i],
                        c_type: c_type_of(ir, m.ty),
                    });
                }
                out.push(TypeReport {
                    id,
                    rust,
                    c_type,
                    kind: word,
                    size: l.size,
                    align: l.align,
                    members,
                    holes,
                });
            }
            Kind::Enum(e) => out.push(TypeReport {
                id,
                rust,
                c_type: c_type_name(model, id, "enum"),
                kind: "enum",
                size: e.size,
                align: e.size,
                members: Vec::new(),
                holes: Vec::new(),
            }),
            _ => {}
        }
    }
    Ok(out)
}

/// `struct foo`, or the typedef that names an anonymous type.
fn c_type_name(model: &Model, id: TypeId, word: &str) -> Option<String> {
    let ir = &model.ir;
    if let Some(n) = &ir.get(id).name {
        return Some(format!("{word} {n}"));
    }
    // An anonymous type named by a typedef: the typedef's C name works in sizeof.
    for (tid, role) in &model.names.roles {
        if *role == crate::naming::Role::SameAs(id) {
            if let (Kind::Typedef { .. }, Some(n)) = (&ir.get(*tid).kind, &ir.get(*tid).name) {
                return Some(n.clone());
            }
        }
    }
    None
}

/// A readable C spelling of type `id` (qualifiers dropped; pointers and arrays
/// written after the element type, as pahole does). Bounded: hostile cycles give `?`.
pub fn c_type_of(ir: &crate::ir::Ir, id: TypeId) -> String {
    let mut suffix = String::new();
    let mut stars = String::new();
    let mut cur = id;
    for _ in 0..64 {
        let t = ir.get(cur);
        let word = match &t.kind {
            Kind::Qual { target } => {
                cur = *target;
                continue;
            }
            Kind::Array { elem, len } if stars.is_empty() => {
                suffix.push_str(&format!("[{len}]"));
                cur = *elem;
                continue;
            }
            Kind::Ptr { target } => {
                stars.push('*');
                cur = *target;
                continue;
            }
            Kind::FuncProto => return format!("fn {stars}{suffix}"),
            Kind::Struct(_) | Kind::Fwd { union: false } => "struct ",
            Kind::Union(_) | Kind::Fwd { union: true } => "union ",
            Kind::Enum(_) => "enum ",
            Kind::Void => return format!("void {stars}{suffix}"),
            _ => "",
        };
        let name = t.name.as_deref().unwrap_or("{...}");
        let sep = if stars.is_empty() { "" } else { " " };
        return format!("{word}{name}{sep}{stars}{suffix}");
    }
    format!("?{suffix}")
}
