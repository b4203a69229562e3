//! `Debug` impls of structs and unions: `f.debug_struct("name")` with a `.field` per
//! C member (padding left out, accessors called). Like the assertion blocks, their shape
//! is fixed, so the text is written directly in prettyplease's layout: the chain on one
//! line when it fits the 89-column margin, else one call per line. Anything that might
//! wrap differently (a long line, a label needing escapes) goes through prettyplease.

use proc_macro2::TokenStream;

use super::asserts::Block;

const MARGIN: usize = 89;

/// `fields`: (label, expression such as `self.a` or `self.b()`).
pub(super) fn debug_impl(ty: &str, label: &str, fields: &[(String, String)]) -> Block {
    match text(ty, label, fields) {
        Some(t) => Block::Text(t),
        None => Block::Tokens(tokens(ty, label, fields)),
    }
}

fn plain(s: &str) -> bool {
    !s.contains(['"', '\\']) && s.chars().all(|c| !c.is_control())
}

fn text(ty: &str, label: &str, fields: &[(String, String)]) -> Option<String> {
    if !plain(label) || fields.iter().any(|(l, _)| !plain(l)) {
        return None;
    }
    let head = format!("impl ::core::fmt::Debug for {ty} {{\n");
    if head.len() - 1 > MARGIN - 8 {
        return None;
    }
    let start = format!("f.debug_struct(\"{label}\")");
    let calls: Vec<String> = fields
        .iter()
        .map(|(l, e)| format!(".field(\"{l}\", &{e})"))
        .collect();
    let one_line: usize =
        8 + start.len() + calls.iter().map(String::len).sum::<usize>() + ".finish()".len();
    let mut out = String::with_capacity(200 + 40 * fields.len());
    out.push_str(&head);
    out.push_str(
        "    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\n",
    );
    if one_line <= MARGIN {
        out.push_str("        ");
        out.push_str(&start);
        for c in &calls {
            out.push_str(c);
        }
        out.push_str(".finish()\n");
    } else {
        if 8 + start.len() > MARGIN - 8 {
            return None;
        }
        out.push_str("        ");
        out.push_str(&start);
        out.push('\n');
        for c in &calls {
            if 12 + c.len() > MARGIN - 8 {
                return None;
            }
            out.push_str("            ");
            out.push_str(c);
            out.push('\n');
        }
        out.push_str("            .finish()\n");
    }
    out.push_str("    }\n}\n");
    Some(out)
}

fn tokens(ty: &str, label: &str, fields: &[(String, String)]) -> TokenStream {
    let mut chain = String::new();
    for (l, e) in fields {
        chain.push_str(&format!(".field({l:?}, &{e})"));
    }
    let src = format!(
        "impl ::core::fmt::Debug for {ty} {{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ f.debug_struct({label:?}){chain}.finish() }} }}"
    );
    // Every piece is an identifier, a field access or a string literal written with
    // Rust's own escaping, so this always tokenizes.
    src.parse().unwrap_or_default()
}
