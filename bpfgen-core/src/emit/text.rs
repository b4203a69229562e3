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
    out.push_str("#[allow(non_camel_case_types)]\n");
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
    /// (value, C name) of each `Debug` arm.
    pub arms: &'a [(String, String)],
    /// The name `Debug` prints for unknown values.
    pub label: &'a str,
}

/// An enum's newtype, its constants and its `Debug`, as prettyplease prints them.
pub(super) fn enum_item(e: &Enum<'_>) -> Option<String> {
    if !plain(e.label) || e.arms.iter().any(|(_, c)| !plain(c)) {
        return None;
    }
    let fits = |l: &str| l.len() <= MARGIN;
    let mut out = String::with_capacity(512 + 96 * e.consts.len());
    for d in e.docs {
        doc_line(&mut out, "", d)?;
    }
    out.push_str(e.repr);
    out.push_str("\n#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]\n");
    if e.zerocopy {
        out.push_str(ZEROCOPY_DERIVE);
    }
    out.push_str("#[allow(non_camel_case_types)]\n");
    let def = format!("pub struct {}(pub ::core::primitive::{});", e.name, e.int);
    let head = format!("impl {} {{", e.name);
    if !fits(&def) || !fits(&head) {
        return None;
    }
    out.push_str(&def);
    out.push_str("\n#[allow(non_upper_case_globals)]\n");
    if e.consts.is_empty() {
        out.push_str(&format!("impl {} {{}}\n", e.name));
    } else {
        out.push_str(&head);
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
    let dh = format!("impl ::core::fmt::Debug for {} {{", e.name);
    if !fits(&dh) {
        return None;
    }
    out.push_str(&dh);
    out.push_str(
        "\n    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\n        match self.0 {\n",
    );
    for (v, c) in e.arms {
        let l = format!("            {v} => f.write_str(\"{c}\"),");
        if !fits(&l) {
            return None;
        }
        out.push_str(&l);
        out.push('\n');
    }
    let l = format!(
        "            _ => f.debug_tuple(\"{}\").field(&self.0).finish(),",
        e.label
    );
    if !fits(&l) {
        return None;
    }
    out.push_str(&l);
    out.push_str("\n        }\n    }\n}\n");
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
