//! Items of a fixed shape written directly as text, in exactly the layout prettyplease
//! gives them, to skip the syn parse and prettyplease pass that costs about 2 µs per
//! output line: a struct's definition (docs, attributes, fields) and its `Default`.
//! Every function returns `None` where prettyplease might print something else (a line
//! past its 89-column margin, a doc string with control characters, a type other than
//! a path or an array); the caller then emits tokens. The `prettyplease_fixed_point`
//! tests (every fixture, and all of vmlinux on request) keep this honest.

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// prettyplease's line width.
const MARGIN: usize = 89;

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
    if doc.chars().any(char::is_control) {
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
        out.push_str(
            "#[derive(\n    ::zerocopy::FromBytes,\n    ::zerocopy::IntoBytes,\n    ::zerocopy::KnownLayout,\n    ::zerocopy::Immutable\n)]\n",
        );
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
