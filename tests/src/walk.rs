//! The list of layout checks for one fixture, shared by `build.rs` (which turns it into
//! the Rust probes) and `tests/oracle.rs` (which turns it into a C program and compares).
//!
//! NOT a module of the `bpfgen_tests` library (the library is `no_std`): both users pull
//! it in with `#[path = …] mod walk;`.
//!
//! Every struct/union/enum item of `report()` becomes checks keyed by its C spelling:
//! - `"<ctype>|sizeof"`, `"<ctype>|_Alignof"`: `sizeof` / `_Alignof` of the type (C
//!   keywords, so no member designator can collide with them: vmlinux has members
//!   named `size` and `align`);
//! - `"<ctype>|<desig>"`: byte offset (`offsetof`) of a non-bitfield member, or the bit
//!   range of a bitfield member (found by a bit scan in C);
//! - `"<ctype>|<desig>:size"`: `sizeof` of a non-bitfield member;
//! - `"<ctype>|<desig>:typeof:size"` / `":typeof:align"`, where `<desig>` ends in `[0]`
//!   for each array dimension: size and alignment of an anonymous member type (reachable
//!   in C only through `__typeof__` of the member).
//!
//! `<desig>` is the C designator accepted by `offsetof`: `a`, `hdr.x`, `arr[0].x`, and
//! members of unnamed (C11 anonymous) struct/union members are flattened exactly as C
//! flattens them (`struct nm_outer|v4`). Anonymous types have no C spelling of their
//! own; they are checked through the parents that hold them (`reached`). A top-level
//! anonymous enum is reached through the `*_ANCHOR` macro hook of the fixture header
//! (see fixtures/README.md): the C program defines the macro to a variable name, and
//! the enum is measured as `__typeof__(variable)`.
//!
//! Each check also carries how Rust computes the same number, when it can:
//! - `rust_const`: an expression for the compile-time `PROBE` table (`size_of`,
//!   `align_of`, sums of `offset_of!`). Union members are accessor-only (a union is
//!   `{ _data: [u8; N] }`), so nothing inside a union has a `rust_const` offset; those
//!   members are covered by the runtime probe instead.
//! - `rust_set`: a statement for the runtime probe that sets the member to all ones on a
//!   zeroed value `v` of the top-level type, through fields, array element 0, and
//!   getter/setter pairs (union members, members held as bytes) — the bits that become
//!   one must be exactly the member's C bit range. This covers bitfields, union members
//!   and bytes-held members, which `offset_of!` cannot reach.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bpfgen_core::ir::{Kind, TypeId};
use bpfgen_core::report::{MemberReport, TypeReport};
use bpfgen_core::Model;

/// What the report says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// A size, alignment or byte offset.
    Num(u64),
    /// A bitfield: first bit (little-endian numbering, from the start of the
    /// top-level type) and width.
    Bits { bit_offset: u64, bits: u64 },
}

/// How C computes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CExpr {
    /// An expression of type `size_t`.
    Num(String),
    /// Zero a `ctype`, assign -1 to `.desig`, scan which bits became one.
    BitScan { ctype: String, desig: String },
}

#[derive(Clone, Debug)]
pub struct Check {
    pub key: String,
    pub expected: Expected,
    pub c: CExpr,
    pub rust_const: Option<String>,
    /// Rust type (path) of the top-level value for `rust_set`.
    pub rust_top: String,
    pub rust_set: Option<String>,
}

/// A step from the top-level value down to a member.
#[derive(Clone, Debug)]
enum Step {
    Field(String),
    Index(usize),
    /// Getter and setter (union member, member held as bytes).
    Accessor(String, String),
}

#[derive(Default, Debug)]
pub struct Walk {
    pub checks: Vec<Check>,
    /// `#define` lines the C program needs before including the header.
    pub c_defines: Vec<(String, String)>,
    /// Every report item: how it is checked ("direct" = has a C spelling).
    pub reached: BTreeMap<String, String>,
    /// Report items no check reaches, with the reason (must stay empty).
    pub unreached: Vec<String>,
    /// Checks deliberately not made, with the reason.
    pub skipped: Vec<String>,
    pub types_checked: usize,
    pub members_checked: usize,
}

/// Where the fixture's header is: the last `#include "x.h"` of its `.bpf.c` (a tracing
/// fixture includes `vmlinux.h` first).
pub fn header_of(bpf_c: &str) -> String {
    bpf_c
        .lines()
        .filter_map(|l| l.trim().strip_prefix("#include \""))
        .filter_map(|l| l.strip_suffix('"'))
        .rfind(|h| h.ends_with(".h"))
        .expect("the .bpf.c includes its fixture header")
        .to_string()
}

/// `#ifndef FOO_ANCHOR` hooks of a header and the first enumerator of the anonymous
/// enum each one anchors.
fn anchors(header: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(p) = rest.find("#ifndef ") {
        let after = &rest[p + 8..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = after;
        if !name.ends_with("_ANCHOR") {
            continue;
        }
        let e = rest.find("enum {").expect("an anchor precedes `enum {`");
        let first: String = rest[e + 6..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.push((name, first));
    }
    out
}

pub fn ident(s: &str) -> String {
    bpfgen_core::naming::ident(s)
}

struct Ctx<'a> {
    model: &'a Model,
    by_id: HashMap<TypeId, &'a TypeReport>,
    /// Rust module path of the generated types, e.g. `crate::layout`.
    rust_mod: String,
    walk: Walk,
    keys: BTreeSet<String>,
}

/// The top-level type being walked.
struct Top {
    ctype: String,
    key: String,
    rust: String,
}

/// Where a member's parent sits.
#[derive(Clone)]
struct Base {
    desig: String,
    bytes: u64,
    rust_off: RustOff,
    steps: Vec<Step>,
}

/// The parent's offset in the top-level Rust type, as a constant expression.
#[derive(Clone)]
enum RustOff {
    /// The parent is the top-level type.
    Zero,
    Expr(String),
    /// Inside a union (accessor-only): no `offset_of!` path.
    Unknown,
}

pub fn walk(model: &Model, header: &str, rust_mod: &str) -> Walk {
    let items = model
        .select(&bpfgen_core::Options::default())
        .unwrap_or_else(|e| panic!("select: {e}"));
    let reports =
        bpfgen_core::report::report(model, &items).unwrap_or_else(|e| panic!("report: {e:?}"));
    walk_reports(model, &reports, header, rust_mod)
}

/// [`walk`] over given reports (e.g. of a `--all` selection of raw BTF). A report whose
/// `c_type` the caller cleared is not checked from the top: only through a parent, if
/// it is anonymous, else it is listed in `unreached`.
pub fn walk_reports(model: &Model, reports: &[TypeReport], header: &str, rust_mod: &str) -> Walk {
    let mut cx = Ctx {
        model,
        by_id: reports.iter().map(|r| (r.id, r)).collect(),
        rust_mod: rust_mod.to_string(),
        walk: Walk::default(),
        keys: BTreeSet::new(),
    };
    let anchors = anchors(header);
    for tr in reports {
        let rust = format!("{}::{}", cx.rust_mod, ident(&tr.rust));
        let top = match &tr.c_type {
            Some(ct) => Top {
                ctype: ct.clone(),
                key: ct.clone(),
                rust,
            },
            None => {
                // A top-level anonymous enum, reachable through an anchor macro.
                let first = match &model.ir.get(tr.id).kind {
                    Kind::Enum(e) => e.values.first().map(|v| v.0.clone()),
                    _ => None,
                };
                let anchor = anchors
                    .iter()
                    .find(|(_, f)| Some(f) == first.as_ref() && tr.kind == "enum");
                match anchor {
                    Some((mac, first)) => {
                        let var = format!("bpfgen_oracle_{}", mac.to_lowercase());
                        cx.walk.c_defines.push((mac.clone(), var.clone()));
                        cx.walk.reached.insert(
                            tr.rust.clone(),
                            format!("top-level anonymous enum, through `{mac}`"),
                        );
                        Top {
                            ctype: format!("__typeof__({var})"),
                            key: format!("enum <anonymous {first}>"),
                            rust,
                        }
                    }
                    None => continue, // anonymous: reached through its parent, or not
                }
            }
        };
        if tr.c_type.is_some() {
            cx.walk
                .reached
                .insert(tr.rust.clone(), "direct".to_string());
        }
        cx.walk.types_checked += 1;
        cx.type_checks(&top, &top.ctype, "", &top.rust.clone(), tr);
        if tr.kind != "enum" {
            let base = Base {
                desig: String::new(),
                bytes: 0,
                rust_off: RustOff::Zero,
                steps: Vec::new(),
            };
            cx.members(&top, tr, &base);
        }
    }
    for tr in reports {
        if !cx.walk.reached.contains_key(&tr.rust) {
            cx.walk.unreached.push(format!(
                "{} `{}` (BTF id {}): no C spelling and no parent reaches it",
                tr.kind, tr.rust, tr.id
            ));
        }
    }
    cx.walk
}

impl<'a> Ctx<'a> {
    fn push(&mut self, check: Check) {
        assert!(
            self.keys.insert(check.key.clone()),
            "duplicate check key `{}` (a member named like a check suffix?)",
            check.key
        );
        self.walk.checks.push(check);
    }

    /// `size` and `align` of a type, spelled in C as `cexpr` (a type name).
    fn type_checks(&mut self, top: &Top, cexpr: &str, suffix: &str, rust: &str, tr: &TypeReport) {
        for (what, c, r, v) in [
            ("size", "sizeof", "size_of", tr.size),
            ("align", "_Alignof", "align_of", tr.align),
        ] {
            let key = if suffix.is_empty() {
                format!("{}|{c}", top.key)
            } else {
                format!("{}|{suffix}:typeof:{what}", top.key)
            };
            self.push(Check {
                key,
                expected: Expected::Num(u64::from(v)),
                c: CExpr::Num(format!("{c}({cexpr})")),
                rust_const: Some(format!("::core::mem::{r}::<{rust}>()")),
                rust_top: top.rust.clone(),
                rust_set: None,
            });
        }
    }

    /// The anonymous struct/union/enum a member holds (through qualifiers and
    /// arrays), with the number of array dimensions and whether it is zero-length.
    fn anon_of(&self, ty: TypeId) -> (Option<&'a TypeReport>, usize, bool) {
        let ir = &self.model.ir;
        let mut id = ty;
        let mut dims = 0;
        let mut zero_len = false;
        loop {
            match &ir.get(id).kind {
                Kind::Qual { target } => id = *target,
                Kind::Array { elem, len } => {
                    dims += 1;
                    zero_len |= *len == 0;
                    id = *elem;
                }
                Kind::Struct(_) | Kind::Union(_) | Kind::Enum(_) => {
                    let r = self.by_id.get(&id).copied().filter(|r| r.c_type.is_none());
                    return (r, dims, zero_len);
                }
                _ => return (None, dims, zero_len),
            }
        }
    }

    fn members(&mut self, top: &Top, tr: &TypeReport, base: &Base) {
        let is_union = tr.kind == "union";
        let (Kind::Struct(c) | Kind::Union(c)) = &self.model.ir.get(tr.id).kind else {
            panic!("{} is not a struct or union", tr.rust)
        };
        let member_types: Vec<TypeId> = c.members.iter().map(|m| m.ty).collect();
        let rust_ty = format!("{}::{}", self.rust_mod, ident(&tr.rust));
        for (m, &mty) in tr.members.iter().zip(&member_types) {
            self.member(top, tr, &rust_ty, is_union, m, mty, base);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn member(
        &mut self,
        top: &Top,
        parent: &TypeReport,
        parent_rust: &str,
        in_union: bool,
        m: &MemberReport,
        mty: TypeId,
        base: &Base,
    ) {
        let desig = match &m.c_name {
            Some(n) if base.desig.is_empty() => n.clone(),
            Some(n) => format!("{}.{n}", base.desig),
            None => base.desig.clone(),
        };
        let key = format!("{}|{desig}", top.key);
        let field = ident(&m.rust);
        // Getter name: a union reserves `bytes()` for its raw bytes, so a member named
        // `bytes` gets `bytes_()` (emit/types.rs, union_item).
        let getter = if in_union && m.rust == "bytes" {
            "bytes_".to_string()
        } else {
            field.clone()
        };
        let setter = format!("set_{}", m.rust);
        let (anon, dims, zero_len) = self.anon_of(mty);

        if let Some(bits) = m.bits {
            // A bitfield: only through its accessors.
            let mut steps = base.steps.clone();
            steps.push(Step::Accessor(String::new(), setter));
            self.walk.members_checked += 1;
            self.push(Check {
                key,
                expected: Expected::Bits {
                    bit_offset: base.bytes * 8 + u64::from(m.bit_offset),
                    bits: u64::from(bits),
                },
                c: CExpr::BitScan {
                    ctype: top.ctype.clone(),
                    desig,
                },
                rust_const: None,
                rust_top: top.rust.clone(),
                rust_set: Some(set_stmt(&steps)),
            });
            return;
        }

        let bytes = base.bytes + u64::from(m.bit_offset / 8);
        // Compile-time offset of this member within the top-level type.
        let rust_const = if in_union {
            None
        } else {
            let f = match m.held_as {
                "field" => Some(field.clone()),
                "bytes" => Some(format!("{}_bytes", m.rust)),
                _ => None,
            };
            match (&base.rust_off, f) {
                (_, None) | (RustOff::Unknown, _) => None,
                (RustOff::Zero, Some(f)) => {
                    Some(format!("::core::mem::offset_of!({parent_rust}, {f})"))
                }
                (RustOff::Expr(b), Some(f)) => {
                    Some(format!("{b} + ::core::mem::offset_of!({parent_rust}, {f})"))
                }
            }
        };
        let mut steps = base.steps.clone();
        let leaf_step = if in_union || m.held_as == "bytes" {
            Step::Accessor(getter, setter)
        } else {
            Step::Field(field.clone())
        };

        if m.c_name.is_some() {
            self.walk.members_checked += 1;
            let mut set_steps = steps.clone();
            set_steps.push(leaf_step.clone());
            let sized = m.size > 0;
            if !sized {
                self.walk.skipped.push(format!(
                    "{key}: zero-size member (flexible/zero-length array or empty struct): offset checked, no size or bit-range check"
                ));
            }
            self.push(Check {
                key: key.clone(),
                expected: Expected::Num(bytes),
                c: CExpr::Num(format!("offsetof({}, {desig})", top.ctype)),
                rust_const: rust_const.clone(),
                rust_top: top.rust.clone(),
                rust_set: sized.then(|| set_stmt(&set_steps)),
            });
            if zero_len {
                // `sizeof` of a flexible array member is an error in C.
                self.walk.skipped.push(format!(
                    "{key}:size: zero-length array, C cannot take sizeof of a flexible array member"
                ));
            } else {
                let size_const = match (in_union, m.held_as) {
                    (true, _) => None,
                    (false, "field") => {
                        Some(format!("crate::field_size(|s: &{parent_rust}| &s.{field})"))
                    }
                    (false, "bytes") => Some(format!(
                        "crate::field_size(|s: &{parent_rust}| &s.{}_bytes)",
                        m.rust
                    )),
                    _ => None,
                };
                self.push(Check {
                    key: format!("{key}:size"),
                    expected: Expected::Num(u64::from(m.size)),
                    c: CExpr::Num(format!("sizeof((({} *)0)->{desig})", top.ctype)),
                    rust_const: size_const,
                    rust_top: top.rust.clone(),
                    rust_set: None,
                });
            }
        }

        let Some(anon) = anon else { return };
        let elem_desig = format!("{desig}{}", "[0]".repeat(dims));
        let elem_rust = format!("{}::{}", self.rust_mod, ident(&anon.rust));
        let how = match &m.c_name {
            Some(_) => {
                // Named member of anonymous type: C reaches the type with __typeof__.
                let cexpr = format!("__typeof__((({} *)0)->{elem_desig})", top.ctype);
                self.type_checks(top, &cexpr, &elem_desig, &elem_rust, anon);
                format!("through `{}|{elem_desig}`", top.key)
            }
            None => format!(
                "unnamed member of `{}`: no C spelling, its members are checked flattened",
                parent.rust
            ),
        };
        self.walk.reached.entry(anon.rust.clone()).or_insert(how);
        if anon.kind == "enum" {
            return;
        }
        steps.push(leaf_step);
        if dims > 0 {
            steps.push(Step::Index(dims));
        }
        let next = Base {
            desig: if m.c_name.is_some() {
                elem_desig
            } else {
                base.desig.clone()
            },
            bytes,
            rust_off: match rust_const {
                Some(e) => RustOff::Expr(e),
                None => RustOff::Unknown,
            },
            steps,
        };
        self.members(top, anon, &next);
    }
}

/// Statement that sets the member reached by `steps` (the last one is the member
/// itself) to all ones on `v`.
fn set_stmt(steps: &[Step]) -> String {
    fn go(place: &str, steps: &[Step], depth: usize) -> String {
        match steps {
            [] => unreachable!(),
            [last] => match last {
                Step::Field(f) => format!("{place}.{f} = crate::ones();"),
                Step::Accessor(_, s) => format!("{place}.{s}(crate::ones());"),
                Step::Index(_) => unreachable!("an index is never last"),
            },
            [first, rest @ ..] => match first {
                Step::Field(f) => go(&format!("{place}.{f}"), rest, depth),
                Step::Index(n) => go(&format!("{place}{}", "[0]".repeat(*n)), rest, depth),
                Step::Accessor(g, s) => {
                    let t = format!("t{depth}");
                    format!(
                        "{{ let mut {t} = {place}.{g}(); {} {place}.{s}({t}); }}",
                        go(&t, rest, depth + 1)
                    )
                }
            },
        }
    }
    go("v", steps, 0)
}
