//! `Debug` impls of structs and unions: one call of the file's `__bpfgen_fmt::fields`
//! with the C members as a slice of `(label, &dyn Debug)` (padding left out, accessors
//! called). Printed like `#[derive(Debug)]` would (`name { a: 1, b: 2 }`), but a slice
//! is much cheaper to compile than a `.field()` chain: on all of vmlinux (60,000
//! members) `cargo check` took 3 s less (`bench/check_forms.sh`).
//!
//! Like the assertion blocks, the shape is fixed, so the text is written directly in
//! prettyplease's layout: the call on one line when it fits the 89-column margin, else
//! one argument per line and the slice one member per line. Anything that might wrap
//! differently (a long line, a label needing escapes) goes through prettyplease.

use proc_macro2::TokenStream;

use super::asserts::Block;
use super::text::{plain, MARGIN};

/// `fields`: (label, expression such as `self.a` or `self.b()`).
pub(super) fn debug_impl(ty: &str, label: &str, fields: &[(String, String)]) -> Block {
    match text(ty, label, fields) {
        Some(t) => Block::Text(t),
        None => Block::Tokens(tokens(ty, label, fields)),
    }
}

fn text(ty: &str, label: &str, fields: &[(String, String)]) -> Option<String> {
    if !plain(label) || fields.iter().any(|(l, _)| !plain(l)) {
        return None;
    }
    let head = format!("impl ::core::fmt::Debug for {ty} {{\n");
    if head.len() - 1 > MARGIN {
        return None;
    }
    let elems: Vec<String> = fields
        .iter()
        .map(|(l, e)| format!("(\"{l}\", &{e})"))
        .collect();
    let slice = format!("&[{}]", elems.join(", "));
    let name = format!("\"{label}\"");
    let one_line = format!("__bpfgen_fmt::fields(f, {name}, {slice})");
    let mut out = String::with_capacity(200 + 40 * fields.len());
    out.push_str(&head);
    out.push_str(
        "    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\n",
    );
    if 8 + one_line.len() <= MARGIN {
        out.push_str("        ");
        out.push_str(&one_line);
        out.push('\n');
    } else {
        out.push_str("        __bpfgen_fmt::fields(\n            f,\n");
        if 12 + name.len() + 1 > MARGIN {
            return None;
        }
        out.push_str("            ");
        out.push_str(&name);
        out.push_str(",\n");
        // The slice is the last argument: its trailing comma overhangs the margin.
        if 12 + slice.len() <= MARGIN {
            out.push_str("            ");
            out.push_str(&slice);
            out.push_str(",\n");
        } else {
            out.push_str("            &[\n");
            for e in &elems {
                if 16 + e.len() + 1 > MARGIN {
                    return None;
                }
                out.push_str("                ");
                out.push_str(e);
                out.push_str(",\n");
            }
            out.push_str("            ],\n");
        }
        out.push_str("        )\n");
    }
    out.push_str("    }\n}\n");
    Some(out)
}

fn tokens(ty: &str, label: &str, fields: &[(String, String)]) -> TokenStream {
    let elems: Vec<String> = fields
        .iter()
        .map(|(l, e)| format!("({l:?}, &{e})"))
        .collect();
    let src = format!(
        "impl ::core::fmt::Debug for {ty} {{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ __bpfgen_fmt::fields(f, {label:?}, &[{}]) }} }}",
        elems.join(", ")
    );
    // Every piece is an identifier, a field access or a string literal written with
    // Rust's own escaping, so this always tokenizes.
    src.parse().unwrap_or_default()
}

/// The function every `Debug` impl calls, emitted once at the end of a file.
pub(super) fn helper() -> TokenStream {
    quote::quote! {
        /// `Debug` of the structs and unions above (`name { a: 1, b: 2 }`).
        #[doc(hidden)]
        mod __bpfgen_fmt {
            pub(super) fn fields(
                f: &mut ::core::fmt::Formatter<'_>,
                name: &str,
                fields: &[(&str, &dyn ::core::fmt::Debug)],
            ) -> ::core::fmt::Result {
                let mut d = f.debug_struct(name);
                for (label, value) in fields {
                    d.field(label, value);
                }
                d.finish()
            }
        }
    }
}
