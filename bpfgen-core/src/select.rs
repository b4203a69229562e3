//! Which types become items: the roots the user asked for (or every named type of an
//! object) and everything they hold by value. Pointers are not followed: they are
//! 64-bit addresses in the generated code.

use std::collections::HashSet;

use crate::error::{ErrorKind, KResult};
use crate::ir::{Ir, Kind, TypeId};
use crate::naming::{Names, Role};

/// Every type with a name of its own (and top-level anonymous enums) at or after
/// `first_id` (the split BTF's own types when a base is used), and what they hold by
/// value: `--all`. Item ids in BTF id order.
pub fn all(ir: &Ir, names: &Names) -> Vec<TypeId> {
    let start = (ir.first_id..ir.types.len() as TypeId)
        .filter(|id| {
            names.item(*id).is_some() || matches!(names.roles.get(id), Some(Role::SameAs(_)))
        })
        .collect();
    closure(ir, names, start)
}

/// The types with these C (or generated Rust) names; a name that matches nothing is an
/// error with close matches (`object`: the input is an object, whose BTF holds only
/// the types its code reaches, which the error then explains).
pub fn named(ir: &Ir, names: &Names, wanted: &[String], object: bool) -> KResult<Vec<TypeId>> {
    let mut start: Vec<TypeId> = Vec::new();
    for w in wanted {
        let before = start.len();
        for (id, t) in ir.types.iter().enumerate() {
            let id = id as TypeId;
            let Some(role) = names.roles.get(&id) else {
                continue;
            };
            let rust = match role {
                Role::Item(n) => Some(crate::naming::bare(n)),
                Role::SameAs(_) => None,
            };
            if t.name.as_deref() == Some(w.as_str()) || rust == Some(w.as_str()) {
                start.push(id);
            }
        }
        if start.len() == before {
            return Err(ErrorKind::TypeNotFound {
                name: w.clone(),
                close: close_matches(ir, names, w),
                object,
            });
        }
    }
    Ok(start)
}

/// `start` and everything it holds by value (through members, typedefs, qualifiers
/// and arrays; not through pointers): item ids in BTF id order.
pub fn closure(ir: &Ir, names: &Names, start: Vec<TypeId>) -> Vec<TypeId> {
    let mut seen: HashSet<TypeId> = HashSet::new();
    let mut items: Vec<TypeId> = Vec::new();
    let mut stack = start;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        match names.roles.get(&id) {
            Some(Role::Item(_)) => items.push(id),
            Some(Role::SameAs(t)) => {
                stack.push(*t);
                continue;
            }
            None => {}
        }
        match &ir.get(id).kind {
            Kind::Struct(c) | Kind::Union(c) => stack.extend(c.members.iter().map(|m| m.ty)),
            Kind::Typedef { target } | Kind::Qual { target } => stack.push(*target),
            Kind::Array { elem, .. } => stack.push(*elem),
            _ => {}
        }
    }
    items.sort_unstable();
    items
}

/// Longest `--type` name close matches are looked for.
const MAX_SUGGESTED_LEN: usize = 256;

/// Up to five names that look like `wanted`, best first.
fn close_matches(ir: &Ir, names: &Names, wanted: &str) -> Vec<String> {
    // Jaro-Winkler costs the product of the lengths: a name far longer than any C
    // name (vmlinux's longest is under 100 characters) is matched by nothing.
    if wanted.len() > MAX_SUGGESTED_LEN {
        return Vec::new();
    }
    let mut scored: Vec<(f64, String)> = Vec::new();
    let mut seen = HashSet::new();
    for (id, t) in ir.types.iter().enumerate() {
        if !names.roles.contains_key(&(id as TypeId)) {
            continue;
        }
        if let Some(n) = &t.name {
            if seen.insert(n.clone()) {
                let s = strsim::jaro_winkler(wanted, n);
                if s >= 0.8 {
                    scored.push((s, n.clone()));
                }
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.into_iter().take(5).map(|(_, n)| n).collect()
}
