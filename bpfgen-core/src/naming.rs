//! Stable Rust names for C types and members.
//!
//! Rules (also in the README):
//! - Named C types keep their C name verbatim (`struct vip_key` → `vip_key`).
//! - Rust keywords become raw identifiers (`type` → `r#type`); the ones that cannot be
//!   raw (`self`, `Self`, `super`, `crate`, `_`) get a trailing underscore (`self_`).
//!   Characters that cannot appear in an identifier become `_`; a leading digit gets a
//!   leading `_`.
//! - An anonymous struct/union/enum is named after where it is first used, walking
//!   named types in BTF id order: `{parent}__{member}`, or `{parent}__anon{k}` for the
//!   k-th (from 0) unnamed member of `parent`. Nothing depends on a global counter, so
//!   adding an unrelated anonymous type elsewhere renames nothing.
//! - `typedef struct { … } foo_t;` names the anonymous struct `foo_t`; a typedef with
//!   the same name as its target (`typedef struct z z;`) adds no item; a forward
//!   declaration with a complete definition of the same name adds no item.
//! - A top-level anonymous enum is named `anon_enum_{FIRST_ENUMERATOR}`.
//! - Clashes (same name in different C namespaces, duplicate definitions) are settled
//!   in BTF id order, structs/unions/enums first: the first keeps the name, a later one
//!   becomes `{name}_{kind}` (`x_typedef`), then `{name}_{kind}_{n}` from n = 2.
//! - An enum named like a binding of the generated impls ([`BINDINGS`]: `f`, `value`,
//!   `b`) always clashes: `enum f` → `f_enum`.

use std::collections::{HashMap, HashSet};

use crate::error::KResult;
use crate::ir::{Ir, Kind, TypeId};

const RAW_OK: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];
const NO_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Names the generated impls bind next to the types (`fmt(&self, f)`, `set_x(&mut self,
/// value)`, `let mut b` in union accessors). A tuple struct of the same name would turn
/// those bindings into patterns naming it (E0530), so an enum — the only tuple struct
/// emitted — never takes one: `enum value` becomes `value_enum`, like any other clash.
pub const BINDINGS: &[&str] = &["b", "f", "value"];

/// The Rust identifier text for a C name (possibly `r#…`).
pub fn ident(c: &str) -> String {
    let mut s: String = c
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '_' {
                ch
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push('_');
    }
    if s.as_bytes()[0].is_ascii_digit() {
        s.insert(0, '_');
    }
    if NO_RAW.contains(&s.as_str()) {
        s.push('_');
    } else if RAW_OK.contains(&s.as_str()) {
        s.insert_str(0, "r#");
    }
    s
}

/// The identifier without a `r#` prefix (for building derived names).
pub fn bare(id: &str) -> &str {
    id.strip_prefix("r#").unwrap_or(id)
}

/// What a type id turns into in Rust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// An item of its own with this name.
    Item(String),
    /// No item: use the Rust type of this other type id (same-name typedef, fwd of a
    /// defined type, typedef that named its anonymous target).
    SameAs(TypeId),
}

/// Names for every type of the graph that can become an item.
pub struct Names {
    pub roles: HashMap<TypeId, Role>,
    /// For anonymous types named from a use: `parent.member` of that first use.
    pub anon_origin: HashMap<TypeId, String>,
}

impl Names {
    pub fn item(&self, id: TypeId) -> Option<&str> {
        match self.roles.get(&id) {
            Some(Role::Item(n)) => Some(n),
            _ => None,
        }
    }
}

/// Names the generated file defines next to the types (modules, the embedded object,
/// file-level helpers). A C type of one of these names is renamed like any clash
/// (`struct maps` → `maps_struct`); names starting with `__bpfgen` are reserved too.
pub const GENERATED: &[&str] = &[
    "maps",
    "globals",
    "programs",
    "aya_glue",
    "libbpf_glue",
    "OBJECT",
];

/// Rust's primitive type names. A generated item of one of these names would change
/// what the name means wherever the file is glob-imported (`pub type bool = u8` breaks
/// `let b: bool = true`), so a C type of such a name is renamed like any clash
/// (`typedef _Bool bool` → `bool_typedef`) — unless it is a typedef that stands for
/// that very primitive (`typedef __u32 u32`), which changes nothing.
pub const PRIMITIVES: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64",
];

/// The names already given, and the clash rule: a taken name gets `_{kind}`, then
/// `_{kind}_{n}` from n = 2.
pub struct Taken(HashSet<String>);

impl Default for Taken {
    fn default() -> Self {
        Self::new()
    }
}

impl Taken {
    /// No C name given yet; the generated and primitive names already unavailable.
    pub fn new() -> Self {
        Taken(
            GENERATED
                .iter()
                .chain(PRIMITIVES)
                .map(|s| s.to_string())
                .collect(),
        )
    }

    /// Every item name `names` has given so far (and the names [`Taken::new`] holds).
    pub fn of(names: &Names) -> Self {
        let mut t = Taken::new();
        t.0.extend(names.roles.values().filter_map(|r| match r {
            Role::Item(n) => Some(bare(n).to_string()),
            Role::SameAs(_) => None,
        }));
        t
    }

    /// Claims `want` for a typedef that stands for the primitive of the same name
    /// (`typedef __u32 u32`), which a glob import may bring in harmlessly — once: a
    /// second such typedef clashes like any other name.
    fn claim_primitive_alias(&mut self, want: &str) -> String {
        if self.0.insert(format!("{want} (alias)")) {
            want.to_string()
        } else {
            self.claim(ident(want), "typedef")
        }
    }

    /// `want`, or the first free variant of it.
    pub fn claim(&mut self, want: String, kind: &str) -> String {
        let binding = kind == "enum" && BINDINGS.contains(&bare(&want));
        let reserved = bare(&want).starts_with("__bpfgen");
        if !binding && !reserved && self.0.insert(bare(&want).to_string()) {
            return want;
        }
        let base = bare(&want).to_string();
        let mut cand = format!("{base}_{kind}");
        let mut n = 2;
        while !self.0.insert(cand.clone()) {
            cand = format!("{base}_{kind}_{n}");
            n += 1;
        }
        cand
    }
}

pub fn kind_word(k: &Kind) -> &'static str {
    match k {
        Kind::Struct(_) => "struct",
        Kind::Union(_) => "union",
        Kind::Enum(_) => "enum",
        Kind::Typedef { .. } => "typedef",
        _ => "fwd",
    }
}

/// Assigns names to the whole graph (independent of which types get selected, so
/// `--type` never changes a name).
pub fn assign(ir: &Ir) -> KResult<Names> {
    let mut roles: HashMap<TypeId, Role> = HashMap::new();
    let anon_origin: HashMap<TypeId, String> = HashMap::new();
    let mut taken = Taken::new();
    let n = ir.types.len() as TypeId;
    let is_tagged = |id: TypeId| {
        matches!(
            ir.get(id).kind,
            Kind::Struct(_) | Kind::Union(_) | Kind::Enum(_)
        )
    };

    // 1. Named structs, unions and enums.
    let mut defined: HashMap<&str, TypeId> = HashMap::new();
    for id in 0..n {
        let t = ir.get(id);
        if let (Some(name), true) = (&t.name, is_tagged(id)) {
            let rust = taken.claim(ident(name), kind_word(&t.kind));
            roles.insert(id, Role::Item(rust));
            defined.entry(name.as_str()).or_insert(id);
        }
    }
    // 2. Typedefs and forward declarations.
    for id in 0..n {
        let t = ir.get(id);
        let Some(name) = &t.name else { continue };
        match &t.kind {
            Kind::Typedef { target } => {
                let target = ir.strip_quals(*target)?;
                let tt = ir.get(target);
                if !is_data(&tt.kind) {
                    continue; // typedef of a function type or void: not data
                }
                if is_tagged(target) && tt.name.as_deref() == Some(name.as_str()) {
                    roles.insert(id, Role::SameAs(target));
                } else if is_tagged(target) && tt.name.is_none() && !roles.contains_key(&target) {
                    let rust = taken.claim(ident(name), kind_word(&tt.kind));
                    roles.insert(target, Role::Item(rust));
                    roles.insert(id, Role::SameAs(target));
                } else if primitive_of(ir, target) == Some(name.as_str()) {
                    let rust = taken.claim_primitive_alias(name);
                    roles.insert(id, Role::Item(rust));
                } else {
                    let rust = taken.claim(ident(name), "typedef");
                    roles.insert(id, Role::Item(rust));
                }
            }
            Kind::Fwd { union } => match defined.get(name.as_str()) {
                Some(def)
                    if matches!(
                        (&ir.get(*def).kind, union),
                        (Kind::Struct(_), false) | (Kind::Union(_), true)
                    ) =>
                {
                    roles.insert(id, Role::SameAs(*def));
                }
                _ => {
                    let rust = taken.claim(ident(name), "fwd");
                    roles.insert(id, Role::Item(rust));
                }
            },
            _ => {}
        }
    }
    // 3. Anonymous types, named from their first use, parents in id order.
    let mut names = Names { roles, anon_origin };
    for root in 0..n {
        if matches!(names.roles.get(&root), Some(Role::Item(_))) && is_tagged(root) {
            name_nested(ir, &mut names, &mut taken, root)?;
        }
    }
    let Names {
        mut roles,
        anon_origin,
    } = names;
    // 4. Top-level anonymous enums.
    for id in 0..n {
        if roles.contains_key(&id) {
            continue;
        }
        if let (None, Kind::Enum(e)) = (&ir.get(id).name, &ir.get(id).kind) {
            if let Some((first, _)) = e.values.first() {
                let rust = taken.claim(format!("anon_enum_{}", bare(&ident(first))), "enum");
                roles.insert(id, Role::Item(rust));
            }
        }
    }
    Ok(Names { roles, anon_origin })
}

/// Names the anonymous structs, unions and enums `root` holds by value, and theirs in
/// turn, depth-first in member order: `{parent}__{member}`, or `{parent}__anon{k}` for
/// the k-th unnamed member. Types that already have a name are left alone.
pub fn name_nested(ir: &Ir, names: &mut Names, taken: &mut Taken, root: TypeId) -> KResult<()> {
    let mut stack = vec![root];
    while let Some(parent) = stack.pop() {
        let (Kind::Struct(c) | Kind::Union(c)) = &ir.get(parent).kind else {
            continue;
        };
        let Some(Role::Item(pname)) = names.roles.get(&parent) else {
            continue;
        };
        let pname = bare(pname).to_string();
        let pc = match (&ir.get(parent).name, names.anon_origin.get(&parent)) {
            (Some(n), _) => n.clone(),
            (None, Some(o)) => o.clone(),
            (None, None) => pname.clone(),
        };
        let mut anon_k = 0;
        let mut children = Vec::new();
        for m in &c.members {
            let (label, c_path) = match &m.name {
                Some(name) => (bare(&ident(name)).to_string(), format!("{pc}.{name}")),
                None => {
                    let l = format!("anon{anon_k}");
                    anon_k += 1;
                    (l.clone(), format!("{pc}.<{l}>"))
                }
            };
            if let Some(t) = anon_target(ir, m.ty)? {
                if let std::collections::hash_map::Entry::Vacant(slot) = names.roles.entry(t) {
                    let rust = taken.claim(format!("{pname}__{label}"), kind_word(&ir.get(t).kind));
                    slot.insert(Role::Item(rust));
                    names.anon_origin.insert(t, c_path);
                    children.push(t);
                }
            }
        }
        // Depth-first, in member order.
        stack.extend(children.into_iter().rev());
    }
    Ok(())
}

/// The anonymous struct/union/enum a member of type `ty` holds by value, if any
/// (through qualifiers and arrays, not through typedefs or pointers).
pub fn anon_target(ir: &Ir, ty: TypeId) -> KResult<Option<TypeId>> {
    let mut id = ty;
    for _ in 0..=ir.types.len() {
        let t = ir.get(id);
        match &t.kind {
            Kind::Qual { target } => id = *target,
            Kind::Array { elem, .. } => id = *elem,
            Kind::Struct(_) | Kind::Union(_) | Kind::Enum(_) if t.name.is_none() => {
                return Ok(Some(id))
            }
            _ => return Ok(None),
        }
    }
    Err(crate::error::ErrorKind::ty(
        ty,
        "array/qualifier chain is cyclic",
    ))
}

/// The Rust primitive the generated code uses for `id` (through typedefs and
/// qualifiers), if it is one: integers by size and sign (`_Bool` is `u8`), `f32`, `f64`.
fn primitive_of(ir: &Ir, id: TypeId) -> Option<&'static str> {
    let mut id = id;
    for _ in 0..=ir.types.len() {
        match &ir.get(id).kind {
            Kind::Typedef { target } | Kind::Qual { target } => id = *target,
            Kind::Int(i) => return Some(crate::ir::int_rust_name(i.size, i.signed)),
            Kind::Float { size: 4 } => return Some("f32"),
            Kind::Float { size: 8 } => return Some("f64"),
            _ => return None,
        }
    }
    None
}

fn is_data(k: &Kind) -> bool {
    !matches!(
        k,
        Kind::Void
            | Kind::Func
            | Kind::FuncProto
            | Kind::Var { .. }
            | Kind::Datasec { .. }
            | Kind::DeclTag
    )
}

/// Field names of one struct/union: C names as identifiers, `__anon{k}` for unnamed
/// members, made unique within the type (a clash gets a trailing `_`).
pub fn field_names(members: &[crate::ir::Member]) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    let mut anon_k = 0;
    let mut out = Vec::with_capacity(members.len());
    for m in members {
        let mut name = match &m.name {
            Some(n) => ident(n),
            None => {
                let s = format!("__anon{anon_k}");
                anon_k += 1;
                s
            }
        };
        while !used.insert(bare(&name).to_string()) {
            name.push('_');
        }
        out.push(name);
    }
    out
}
