//! Items of a fixed shape written directly as text, in exactly the layout prettyplease
//! gives them, to skip the syn parse and prettyplease pass that costs about 2 µs per
//! output line: a struct's definition (docs, attributes, fields) and its `Default`.
//! Every function returns `None` where prettyplease might print something else (a line
//! past its 89-column margin, a doc string with control characters, a type other than
//! a path or an array); the caller then emits tokens. The `prettyplease_fixed_point`
//! tests (every fixture, and all of vmlinux on request) keep this honest.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// prettyplease's line width.
pub(super) const MARGIN: usize = 89;

/// zerocopy's four derives, as prettyplease breaks them.
const ZEROCOPY_DERIVE: &str = "#[derive(\n    ::zerocopy::FromBytes,\n    ::zerocopy::IntoBytes,\n    ::zerocopy::KnownLayout,\n    ::zerocopy::Immutable\n)]\n";

/// A doc string prettyplease prints as a plain `///` line.
pub(super) fn doc_ok(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// A string that is written between quotes as it is (no escapes needed).
pub(super) fn plain(s: &str) -> bool {
    !s.contains(['"', '\\']) && doc_ok(s)
}

/// A type as prettyplease prints it: paths (`::core::primitive::u8`, `super::x`) and
/// arrays of them (`[[u8; 4]; 2]`).
pub(super) fn ty_text(ty: &TokenStream) -> Option<String> {
    let mut out = String::new();
    let mut it = ty.clone().into_iter().peekable();
    while let Some(t) = it.next() {
        match t {
            TokenTree::Ident(i) => out.push_str(&i.to_string()),
            TokenTree::Punct(p) if p.as_char() == ':' => match it.next() {
                Some(TokenTree::Punct(q)) if q.as_char() == ':' => out.push_str("::"),
                _ => return None,
            },
            TokenTree::Group(g) if g.delimiter() == Delimiter::Bracket => {
                // `[T; N]`
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                let semi = inner
                    .iter()
                    .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))?;
                let (elem, rest) = inner.split_at(semi);
                let [TokenTree::Literal(n)] = &rest[1..] else {
                    return None;
                };
                let elem = ty_text(&elem.iter().cloned().collect())?;
                out.push_str(&format!("[{elem}; {n}]"));
            }
            _ => return None,
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `[a, b, c]` + `tail` on one line at `indent`, when it fits the margin. The tail of
/// the last argument of a call (its trailing comma) may overhang the margin.
fn one_line(
    out: &mut String,
    indent: usize,
    open: &str,
    items: &[String],
    tail: &str,
    last: bool,
) -> bool {
    let counted = if last { 0 } else { tail.len() };
    let len: usize =
        items.iter().map(|s| s.len() + 2).sum::<usize>() + indent + open.len() - 1 + counted;
    if len > MARGIN {
        return false;
    }
    out.push_str(&" ".repeat(indent));
    out.push_str(open);
    out.push_str(&items.join(", "));
    out.push(']');
    out.push_str(tail);
    out.push('\n');
    true
}

/// A bracketed list as prettyplease prints it at `indent` (the column of the line
/// holding `[`), followed by `tail`: on one line when it fits, else one element per
/// line with a trailing comma. `None` when an element line would not fit.
pub(super) fn list(out: &mut String, indent: usize, items: &[String], tail: &str) -> Option<()> {
    if one_line(out, indent, "[", items, tail, false) {
        return Some(());
    }
    let pad = " ".repeat(indent);
    out.push_str(&pad);
    out.push_str("[\n");
    for it in items {
        if indent + 4 + it.len() + 1 > MARGIN {
            return None;
        }
        out.push_str(&pad);
        out.push_str("    ");
        out.push_str(it);
        out.push_str(",\n");
    }
    out.push_str(&pad);
    out.push(']');
    out.push_str(tail);
    out.push('\n');
    Some(())
}

/// A list of integer literals as prettyplease prints it: on one line when it fits,
/// else filled — as many `n,` per line as fit the margin, a trailing comma after the
/// last (which may overhang the margin). `open` is `[` or `&[`; `last`: the list is a
/// call's last argument.
pub(super) fn fill(
    out: &mut String,
    indent: usize,
    open: &str,
    items: &[String],
    tail: &str,
    last: bool,
) {
    if one_line(out, indent, open, items, tail, last) {
        return;
    }
    let pad = " ".repeat(indent);
    out.push_str(&pad);
    out.push_str(open);
    out.push('\n');
    let mut line = String::new();
    for (k, it) in items.iter().enumerate() {
        // The last element's comma is the trailing one, which the margin ignores.
        let comma = usize::from(k + 1 < items.len());
        if !line.is_empty() && line.len() + 1 + it.len() + comma > MARGIN {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if line.is_empty() {
            line.push_str(&pad);
            line.push_str("    ");
        } else {
            line.push(' ');
        }
        line.push_str(it);
        line.push(',');
    }
    out.push_str(&line);
    out.push('\n');
    out.push_str(&pad);
    out.push(']');
    out.push_str(tail);
    out.push('\n');
}

/// `/// doc` at `indent`, as prettyplease (plus bpfgen's `/// ` spacing) prints it.
fn doc_line(out: &mut String, indent: &str, doc: &str) -> Option<()> {
    if !doc_ok(doc) {
        return None;
    }
    out.push_str(indent);
    out.push_str("///");
    if !doc.is_empty() && !doc.starts_with(' ') {
        out.push(' ');
    }
    out.push_str(doc);
    out.push('\n');
    Some(())
}

/// One field of a struct definition: docs, name (raw identifiers as `r#x`), type.
pub(super) struct Field {
    pub doc: Option<String>,
    pub name: String,
    pub ty: TokenStream,
}

/// A struct definition: docs, `repr`, derives, `allow`, fields.
pub(super) fn struct_def(
    docs: &[String],
    repr: &str,
    zerocopy: bool,
    allow: &str,
    name: &str,
    fields: &[Field],
) -> Option<String> {
    let mut out = String::with_capacity(256 + 64 * fields.len());
    for d in docs {
        doc_line(&mut out, "", d)?;
    }
    out.push_str(repr);
    out.push('\n');
    if zerocopy {
        out.push_str(ZEROCOPY_DERIVE);
    }
    out.push_str(allow);
    out.push('\n');
    let head = format!("pub struct {name} {{");
    if head.len() > MARGIN {
        return None;
    }
    if fields.is_empty() {
        out.push_str(&head);
        out.push_str("}\n");
        return Some(out);
    }
    out.push_str(&head);
    out.push('\n');
    for f in fields {
        if let Some(d) = &f.doc {
            doc_line(&mut out, "    ", d)?;
        }
        let line = format!("    pub {}: {},", f.name, ty_text(&f.ty)?);
        if line.len() > MARGIN {
            return None;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("}\n");
    Some(out)
}

/// The zero-filling `Default` of `name`: zerocopy's `new_zeroed`, or `mem::zeroed`
/// with its `// SAFETY:` line.
pub(super) fn default_impl(name: &str, zerocopy: bool, safety: &str) -> Option<String> {
    let head = format!("impl ::core::default::Default for {name} {{");
    if head.len() > MARGIN {
        return None;
    }
    let body = if zerocopy {
        "        <Self as ::zerocopy::FromZeros>::new_zeroed()\n".to_string()
    } else {
        format!("        // SAFETY: {safety}\n        unsafe {{ ::core::mem::zeroed() }}\n")
    };
    Some(format!(
        "{head}\n    #[inline]\n    fn default() -> Self {{\n{body}    }}\n}}\n"
    ))
}

/// `pub type name = ty;` with its doc.
pub(super) fn typedef_item(doc: &str, name: &str, ty: &TokenStream) -> Option<String> {
    let mut out = String::new();
    doc_line(&mut out, "", doc)?;
    out.push_str("#[allow(dead_code, non_camel_case_types)]\n");
    let line = format!("pub type {name} = {};", ty_text(ty)?);
    if line.len() > MARGIN {
        return None;
    }
    out.push_str(&line);
    out.push('\n');
    Some(out)
}

/// What an enum's newtype, constants and `Debug` are made of.
pub(super) struct Enum<'a> {
    pub docs: &'a [String],
    pub repr: &'a str,
    pub zerocopy: bool,
    pub name: &'a str,
    /// The integer primitive (`i32`).
    pub int: &'a str,
    /// (doc, Rust name, value) of each constant.
    pub consts: &'a [(String, String, String)],
    /// (value, C name) of each name `Debug` prints (the first of each value; names
    /// hold no whitespace).
    pub arms: &'a [(String, String)],
    /// The name `Debug` prints for unknown values.
    pub label: &'a str,
}

/// An enum's newtype, its constants, its trait impls and its `Debug`, as prettyplease
/// prints them.
///
/// Only `PartialEq` is derived: a derived `PartialEq` is what lets the constants be
/// used as `match` patterns. `Eq`, `Clone`, `Copy` and `Default` are written out (a
/// derive costs `cargo check` more: the 2,400 enums of vmlinux with the former
/// `derive(Clone, Copy, PartialEq, Eq, Hash, Default)` cost 1.5 s and 170 MB more), and
/// `Debug` looks the value up in a table instead of a `match` (2 s less there).
pub(super) fn enum_item(e: &Enum<'_>) -> Option<String> {
    if !plain(e.label) || e.arms.iter().any(|(_, c)| !plain(c)) {
        return None;
    }
    let fits = |l: &str| l.len() <= MARGIN;
    let mut out = String::with_capacity(1024 + 96 * e.consts.len());
    for d in e.docs {
        doc_line(&mut out, "", d)?;
    }
    out.push_str(e.repr);
    out.push_str("\n#[derive(PartialEq)]\n");
    if e.zerocopy {
        out.push_str(ZEROCOPY_DERIVE);
    }
    out.push_str("#[allow(dead_code, non_camel_case_types)]\n");
    let n = e.name;
    let def = format!("pub struct {n}(pub ::core::primitive::{});", e.int);
    let consts_head = format!("impl {n} {{");
    // The trait impls, in order: attribute lines, `impl … for` line, body lines.
    let impl_for = |t: &str| format!("impl ::core::{t} for {n} {{");
    let impls = [
        ("", impl_for("cmp::Eq") + "}", ""),
        (
            "",
            impl_for("clone::Clone"),
            "    #[inline]\n    fn clone(&self) -> Self {\n        *self\n    }\n}\n",
        ),
        ("", impl_for("marker::Copy") + "}", ""),
        (
            "#[allow(clippy::derivable_impls)]\n",
            impl_for("default::Default"),
            "    #[inline]\n    fn default() -> Self {\n        Self(0)\n    }\n}\n",
        ),
    ];
    let debug_head = impl_for("fmt::Debug");
    if !fits(&def)
        || !fits(&consts_head)
        || !fits(&debug_head)
        || !impls.iter().all(|(_, h, _)| fits(h))
    {
        return None;
    }
    out.push_str(&def);
    out.push_str("\n#[allow(dead_code, non_upper_case_globals)]\n");
    if e.consts.is_empty() {
        out.push_str(&format!("impl {n} {{}}\n"));
    } else {
        out.push_str(&consts_head);
        out.push('\n');
        for (doc, name, v) in e.consts {
            doc_line(&mut out, "    ", doc)?;
            let l = format!("    pub const {name}: Self = Self({v});");
            if !fits(&l) {
                return None;
            }
            out.push_str(&l);
            out.push('\n');
        }
        out.push_str("}\n");
    }
    for (attrs, head, body) in &impls {
        out.push_str(attrs);
        out.push_str(head);
        out.push('\n');
        out.push_str(body);
    }
    out.push_str(&debug_head);
    out.push_str(
        "\n    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\n",
    );
    // `__bpfgen_fmt::variant(f, "label", &self.0, ::core::primitive::i128::from(self.0), "A B", &[0, 1])`
    let values: Vec<String> = e.arms.iter().map(|(v, _)| v.clone()).collect();
    let names = format!(
        "\"{}\"",
        e.arms
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let label = format!("\"{}\"", e.label);
    let flat = format!(
        "        __bpfgen_fmt::variant(f, {label}, &self.0, ::core::primitive::i128::from(self.0), {names}, &[{}])",
        values.join(", ")
    );
    if fits(&flat) {
        out.push_str(&flat);
        out.push('\n');
    } else {
        out.push_str("        __bpfgen_fmt::variant(\n            f,\n");
        // Literals get a line each, however long: prettyplease cannot break them.
        for a in [
            label.as_str(),
            "&self.0",
            "::core::primitive::i128::from(self.0)",
            names.as_str(),
        ] {
            out.push_str("            ");
            out.push_str(a);
            out.push_str(",\n");
        }
        // Negative values are not plain literals: prettyplease might not fill them.
        if values.iter().any(|v| v.starts_with('-')) {
            return None;
        }
        fill(&mut out, 12, "&[", &values, ",", true);
        out.push_str("        )\n");
    }
    out.push_str("    }\n}\n");
    Some(out)
}

/// A union's `Default`: all `size` bytes zero.
pub(super) fn union_default(name: &str, size: u32) -> Option<String> {
    let head = format!("impl ::core::default::Default for {name} {{");
    if head.len() > MARGIN {
        return None;
    }
    Some(format!(
        "#[allow(clippy::derivable_impls)]\n{head}\n    fn default() -> Self {{\n        Self {{ _data: [0; {size}] }}\n    }}\n}}\n"
    ))
}
