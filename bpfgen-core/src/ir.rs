//! The type graph the generator works on: one enum variant per BTF kind, names
//! resolved, every type id checked to point at an existing type. Walks along
//! typedef/qualifier/array chains are iterative and bounded, so hostile chains
//! (cycles, 10k-deep typedefs) give an error, never a hang or a stack overflow.

use crate::btf::Loaded;
use crate::error::{ErrorKind, KResult};
use crate::object::Endian;

pub type TypeId = u32;

#[derive(Clone, Debug)]
pub struct Type {
    /// The C name; `None` for anonymous types.
    pub name: Option<String>,
    pub kind: Kind,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Void,
    Int(Int),
    Float {
        size: u32,
    },
    Ptr {
        target: TypeId,
    },
    Array {
        elem: TypeId,
        len: u32,
    },
    Struct(Composite),
    Union(Composite),
    Enum(Enum),
    Fwd {
        union: bool,
    },
    Typedef {
        target: TypeId,
    },
    /// const, volatile, restrict and type tags: layout-neutral.
    Qual {
        target: TypeId,
    },
    Func,
    FuncProto,
    Var {
        target: TypeId,
    },
    Datasec {
        vars: Vec<SecVar>,
    },
    DeclTag,
}

#[derive(Clone, Debug)]
pub struct Int {
    pub size: u32,
    pub signed: bool,
    pub char: bool,
    pub bool: bool,
    /// Number of value bits (BTF_INT_BITS).
    pub bits: u32,
    /// Bit offset of the value (BTF_INT_OFFSET; legacy bitfield encoding).
    pub bit_offset: u32,
}

#[derive(Clone, Debug)]
pub struct Composite {
    pub size: u32,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug)]
pub struct Member {
    /// `None` for C11 anonymous members.
    pub name: Option<String>,
    pub ty: TypeId,
    pub bit_offset: u32,
    /// Width of a bitfield member; `None` for ordinary members.
    pub bits: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Enum {
    pub size: u32,
    pub signed: bool,
    pub is64: bool,
    /// Enumerators with their value's raw bits (sign-extended to 64 bits when signed).
    pub values: Vec<(String, u64)>,
}

#[derive(Clone, Debug)]
pub struct SecVar {
    pub var: TypeId,
    pub offset: u32,
    pub size: u32,
}

/// The whole graph. Index = BTF type id; id 0 is `void`.
pub struct Ir {
    pub types: Vec<Type>,
    pub endian: Endian,
    /// First id of the main blob (1, or the first split id when a base is used).
    pub first_id: TypeId,
}

impl Ir {
    pub fn get(&self, id: TypeId) -> &Type {
        // Every id stored in the graph was checked in `build`.
        &self.types[id as usize]
    }

    pub fn name(&self, id: TypeId) -> Option<&str> {
        self.get(id).name.as_deref()
    }

    /// Follows typedefs and qualifiers to the underlying type.
    pub fn strip(&self, id: TypeId) -> KResult<TypeId> {
        self.walk(id, true)
    }

    /// Follows qualifiers only (typedefs are kept: they name the type).
    pub fn strip_quals(&self, id: TypeId) -> KResult<TypeId> {
        self.walk(id, false)
    }

    fn walk(&self, start: TypeId, typedefs: bool) -> KResult<TypeId> {
        let mut id = start;
        for _ in 0..=self.types.len() {
            match &self.get(id).kind {
                Kind::Qual { target } => id = *target,
                Kind::Typedef { target } if typedefs => id = *target,
                _ => return Ok(id),
            }
        }
        Err(ErrorKind::ty(start, "typedef/qualifier chain is cyclic"))
    }

    /// Size in bytes of a value of type `id`.
    pub fn size_of(&self, start: TypeId) -> KResult<u64> {
        let mut id = start;
        let mut mult: u64 = 1;
        for _ in 0..=self.types.len() {
            let size = match &self.get(id).kind {
                Kind::Qual { target } | Kind::Typedef { target } => {
                    id = *target;
                    continue;
                }
                Kind::Array { elem, len } => {
                    mult = mult
                        .checked_mul(u64::from(*len))
                        .filter(|m| *m <= u64::from(u32::MAX))
                        .ok_or_else(|| ErrorKind::ty(id, "array size overflows 4 GiB"))?;
                    id = *elem;
                    continue;
                }
                Kind::Int(i) => i.size,
                Kind::Float { size } => *size,
                Kind::Ptr { .. } => 8,
                Kind::Struct(c) | Kind::Union(c) => c.size,
                Kind::Enum(e) => e.size,
                Kind::Void => return Err(ErrorKind::ty(start, "a value of type void has no size")),
                Kind::Fwd { .. } => {
                    return Err(ErrorKind::ty(
                        start,
                        format!(
                            "incomplete type (forward declaration of `{}`) used by value",
                            self.name(id).unwrap_or("?")
                        ),
                    ))
                }
                Kind::Func
                | Kind::FuncProto
                | Kind::Var { .. }
                | Kind::Datasec { .. }
                | Kind::DeclTag => return Err(ErrorKind::ty(start, "not a data type")),
            };
            return mult
                .checked_mul(u64::from(size))
                .filter(|s| *s <= u64::from(u32::MAX))
                .ok_or_else(|| ErrorKind::ty(start, "size overflows 4 GiB"));
        }
        Err(ErrorKind::ty(start, "type chain is cyclic"))
    }

    /// Ids of the types `id` refers to directly (for reachability walks).
    pub fn refs(&self, id: TypeId) -> Vec<TypeId> {
        match &self.get(id).kind {
            Kind::Ptr { target }
            | Kind::Typedef { target }
            | Kind::Qual { target }
            | Kind::Var { target } => vec![*target],
            Kind::Array { elem, .. } => vec![*elem],
            Kind::Struct(c) | Kind::Union(c) => c.members.iter().map(|m| m.ty).collect(),
            Kind::Datasec { vars } => vars.iter().map(|v| v.var).collect(),
            _ => Vec::new(),
        }
    }
}

/// Converts the btf-rs view into the graph, checking every reference.
pub fn build(loaded: &Loaded) -> KResult<Ir> {
    let btf = &loaded.btf;
    let last = loaded.last_id();
    let mut types = Vec::with_capacity(last as usize + 1);
    for id in 0..=last {
        let t = btf
            .resolve_type_by_id(id)
            .map_err(|e| ErrorKind::ty(id, format!("cannot decode: {e}")))?;
        types.push(convert(loaded, id, &t)?);
    }
    let ir = Ir {
        types,
        endian: loaded.raw.endian,
        first_id: loaded.raw.first_id,
    };
    for id in 0..=last {
        for r in ir.refs(id) {
            if r > last {
                return Err(ErrorKind::ty(
                    id,
                    format!("refers to type id {r}, past the last type id {last}"),
                ));
            }
        }
    }
    check_chains(&ir)?;
    check_array_dims(&ir)?;
    check_nesting(&ir)?;
    Ok(ir)
}

/// Deepest nesting of structs and unions held by value: rustc's own limit for the
/// generated types (129 levels: "reached the recursion limit finding the struct tail").
/// Checked when the graph is built, so every stage after it (naming, whose names grow
/// with the depth; layout; reports) only ever sees bounded nesting.
pub const MAX_NESTING: u32 = 128;

/// Every struct and union nests at most [`MAX_NESTING`] deep. Iterative and linear: one
/// depth-first walk over the by-value edges with memoised depths. A struct that holds
/// itself is left to the layout stage, which names it.
fn check_nesting(ir: &Ir) -> KResult<()> {
    const UNSEEN: u32 = u32::MAX;
    const ON_PATH: u32 = u32::MAX - 1;
    let n = ir.types.len();
    let mut depth = vec![UNSEEN; n];
    let by_value = |id: usize| -> Vec<usize> {
        match &ir.types[id].kind {
            Kind::Struct(c) | Kind::Union(c) => c.members.iter().map(|m| m.ty as usize).collect(),
            Kind::Typedef { target } | Kind::Qual { target } | Kind::Array { elem: target, .. } => {
                vec![*target as usize]
            }
            _ => Vec::new(),
        }
    };
    for root in 0..n {
        if depth[root] != UNSEEN {
            continue;
        }
        // (node, its children, how many of them are done)
        let mut stack = vec![(root, by_value(root), 0usize)];
        depth[root] = ON_PATH;
        while let Some((node, children, next)) = stack.last_mut() {
            if let Some(&child) = children.get(*next) {
                *next += 1;
                if child < n && depth[child] == UNSEEN {
                    depth[child] = ON_PATH;
                    let grand = by_value(child);
                    stack.push((child, grand, 0));
                }
                continue;
            }
            let node = *node;
            let below = children
                .iter()
                .filter(|&&c| c < n && depth[c] < ON_PATH)
                .map(|&c| depth[c])
                .max()
                .unwrap_or(0);
            let own = u32::from(matches!(
                ir.types[node].kind,
                Kind::Struct(_) | Kind::Union(_)
            ));
            let d = below + own;
            if d > MAX_NESTING {
                return Err(ErrorKind::ty(
                    node as TypeId,
                    format!("structs nested more than {MAX_NESTING} levels deep"),
                ));
            }
            depth[node] = d;
            stack.pop();
        }
    }
    Ok(())
}

/// Most dimensions an array may have (`int m[1][1]…`): far beyond C code, and below
/// what rustc accepts (about 120 nested arrays overflow its trait solver for `Debug`).
pub const MAX_ARRAY_DIMS: u32 = 64;

/// Arrays of arrays (through typedefs and qualifiers) nest at most [`MAX_ARRAY_DIMS`]
/// deep. Linear: each chain is walked once, its depths memoised (chains are acyclic:
/// [`check_chains`] ran first).
fn check_array_dims(ir: &Ir) -> KResult<()> {
    let mut dims: Vec<u32> = vec![u32::MAX; ir.types.len()];
    for start in 0..ir.types.len() {
        let mut path = Vec::new();
        let mut cur = start;
        // Down to a known depth or the first element that is not an array.
        let mut below = loop {
            if dims[cur] != u32::MAX {
                break dims[cur];
            }
            match &ir.types[cur].kind {
                Kind::Array { elem, .. }
                | Kind::Typedef { target: elem }
                | Kind::Qual { target: elem } => {
                    path.push(cur);
                    cur = *elem as usize;
                }
                _ => {
                    dims[cur] = 0;
                    break 0;
                }
            }
        };
        for &id in path.iter().rev() {
            if matches!(ir.types[id].kind, Kind::Array { .. }) {
                below += 1;
                if below > MAX_ARRAY_DIMS {
                    return Err(ErrorKind::ty(
                        id as TypeId,
                        format!("array with more than {MAX_ARRAY_DIMS} dimensions"),
                    ));
                }
            }
            dims[id] = below;
        }
    }
    Ok(())
}

/// Typedef, qualifier and array edges must end somewhere: a cycle through them
/// (`typedef a` → `const a`) would make an alias of itself or an infinite array.
/// Linear: each id is walked once (white → grey on the current path → black).
fn check_chains(ir: &Ir) -> KResult<()> {
    const WHITE: u8 = 0;
    const GREY: u8 = 1;
    const BLACK: u8 = 2;
    let mut state = vec![WHITE; ir.types.len()];
    let next = |id: TypeId| match &ir.get(id).kind {
        Kind::Typedef { target } | Kind::Qual { target } => Some(*target),
        Kind::Array { elem, .. } => Some(*elem),
        _ => None,
    };
    let mut path = Vec::new();
    for start in 0..ir.types.len() as TypeId {
        let mut id = start;
        while state[id as usize] == WHITE {
            state[id as usize] = GREY;
            path.push(id);
            match next(id) {
                Some(t) => id = t,
                None => break,
            }
        }
        if state[id as usize] == GREY && next(id).is_some() {
            return Err(ErrorKind::ty(
                id,
                "typedef/qualifier/array chain is cyclic (the type would contain itself)",
            ));
        }
        for p in path.drain(..) {
            state[p as usize] = BLACK;
        }
    }
    Ok(())
}

fn convert(loaded: &Loaded, id: TypeId, t: &btf_rs::Type) -> KResult<Type> {
    use btf_rs::{BtfType, Type as B};
    let btf = &loaded.btf;
    let name_of = |x: &dyn BtfType| -> KResult<Option<String>> {
        let n = btf
            .resolve_name(x)
            .map_err(|e| ErrorKind::ty(id, format!("bad name: {e}")))?;
        Ok(if n.is_empty() { None } else { Some(n) })
    };
    let target_of = |x: &dyn BtfType| -> KResult<TypeId> {
        x.get_type_id()
            .ok_or_else(|| ErrorKind::ty(id, "missing referenced type"))
    };
    let size_u32 = |s: usize| -> u32 { u32::try_from(s).unwrap_or(u32::MAX) };
    let (name, kind) = match t {
        B::Void => (None, Kind::Void),
        B::Int(i) => {
            let word = loaded.int_word(id).unwrap_or(0);
            (
                name_of(i)?,
                Kind::Int(Int {
                    size: size_u32(i.size()),
                    signed: i.is_signed(),
                    char: i.is_char(),
                    bool: i.is_bool(),
                    bits: word & 0xff,
                    bit_offset: (word >> 16) & 0xff,
                }),
            )
        }
        B::Float(f) => (
            name_of(f)?,
            Kind::Float {
                size: size_u32(f.size()),
            },
        ),
        B::Ptr(p) => (
            None,
            Kind::Ptr {
                target: target_of(p)?,
            },
        ),
        B::Array(a) => (
            None,
            Kind::Array {
                elem: target_of(a)?,
                len: u32::try_from(a.len()).unwrap_or(u32::MAX),
            },
        ),
        B::Struct(s) | B::Union(s) => {
            let mut members = Vec::with_capacity(s.members.len());
            for m in &s.members {
                members.push(Member {
                    name: name_of(m)?,
                    ty: target_of(m)?,
                    bit_offset: m.bit_offset(),
                    bits: m.bitfield_size().filter(|b| *b != 0),
                });
            }
            let c = Composite {
                size: size_u32(s.size()),
                members,
            };
            let kind = if matches!(t, B::Struct(_)) {
                Kind::Struct(c)
            } else {
                Kind::Union(c)
            };
            (name_of(s)?, kind)
        }
        B::Enum(e) => {
            let mut values = Vec::with_capacity(e.members.len());
            for m in &e.members {
                let raw = m.val();
                let v = if e.is_signed() {
                    raw as i32 as i64 as u64
                } else {
                    u64::from(raw)
                };
                values.push((name_of(m)?.unwrap_or_default(), v));
            }
            (
                name_of(e)?,
                Kind::Enum(Enum {
                    size: size_u32(e.size()),
                    signed: e.is_signed(),
                    is64: false,
                    values,
                }),
            )
        }
        B::Enum64(e) => {
            let mut values = Vec::with_capacity(e.members.len());
            for m in &e.members {
                values.push((name_of(m)?.unwrap_or_default(), m.val()));
            }
            (
                name_of(e)?,
                Kind::Enum(Enum {
                    size: size_u32(e.size()),
                    signed: e.is_signed(),
                    is64: true,
                    values,
                }),
            )
        }
        B::Fwd(f) => (
            name_of(f)?,
            Kind::Fwd {
                union: f.is_union(),
            },
        ),
        B::Typedef(td) => (
            name_of(td)?,
            Kind::Typedef {
                target: target_of(td)?,
            },
        ),
        B::Volatile(q) | B::Const(q) | B::Restrict(q) => (
            None,
            Kind::Qual {
                target: target_of(q)?,
            },
        ),
        B::TypeTag(q) => (
            None,
            Kind::Qual {
                target: target_of(q)?,
            },
        ),
        B::Func(f) => (name_of(f)?, Kind::Func),
        B::FuncProto(_) => (None, Kind::FuncProto),
        B::Var(v) => (
            name_of(v)?,
            Kind::Var {
                target: target_of(v)?,
            },
        ),
        B::Datasec(d) => {
            let mut vars = Vec::with_capacity(d.variables.len());
            for v in &d.variables {
                vars.push(SecVar {
                    var: target_of(v)?,
                    offset: v.offset(),
                    size: size_u32(v.size()),
                });
            }
            (name_of(d)?, Kind::Datasec { vars })
        }
        B::DeclTag(_) => (None, Kind::DeclTag),
        #[allow(unreachable_patterns)]
        _ => {
            return Err(ErrorKind::ty(
                id,
                format!("BTF kind `{}` is not supported", t.name()),
            ))
        }
    };
    // Sanity of sizes that the layout relies on.
    if let Kind::Float { size } = &kind {
        if !matches!(size, 2 | 4 | 8 | 12 | 16) {
            return Err(ErrorKind::ty(id, format!("FLOAT of size {size}")));
        }
    }
    if let Kind::Enum(e) = &kind {
        if !matches!(e.size, 1 | 2 | 4 | 8) {
            return Err(ErrorKind::ty(
                id,
                format!("ENUM of size {} (expected 1, 2, 4 or 8)", e.size),
            ));
        }
    }
    Ok(Type { name, kind })
}

/// The Rust primitive the generated code uses for an integer of `size` bytes
/// (`_Bool` and `char` included: they are bytes, any value allowed).
pub fn int_rust_name(size: u32, signed: bool) -> &'static str {
    match (size, signed) {
        (1, false) => "u8",
        (1, true) => "i8",
        (2, false) => "u16",
        (2, true) => "i16",
        (4, false) => "u32",
        (4, true) => "i32",
        (8, false) => "u64",
        (8, true) => "i64",
        (_, false) => "u128",
        (_, true) => "i128",
    }
}
