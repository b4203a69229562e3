//! `Debug` impls of structs and unions: one call of the file's `__bpfgen_fmt::fields`
//! with the C member names as one string and the values as a slice of `&dyn Debug`
//! (padding left out, accessors called). Printed like `#[derive(Debug)]` would
//! (`name { a: 1, b: 2 }`), but one call with a slice is much cheaper to compile than a
//! `.field()` chain, and one string of names cheaper than a label per value
//! (`bench/check_forms.sh`: 5.2 s → 3.6 s → 2.8 s for 2,000 structs of 40 fields).
//!
//! Like the assertion blocks, the shape is fixed, so the text is written directly in
//! prettyplease's layout: the call on one line when it fits the 89-column margin, else
//! one argument per line and the slice one member per line. Anything that might wrap
//! differently (a long line, a name needing escapes) goes through prettyplease.

use proc_macro2::TokenStream;

use super::asserts::Block;
use super::text::{plain, MARGIN};

/// `fields`: (C label, expression such as `self.a` or `self.b()`).
pub(super) fn debug_impl(ty: &str, label: &str, fields: &[(String, String)]) -> Block {
    let names = names(fields);
    match text(ty, label, &names, fields) {
        Some(t) => Block::Text(t),
        None => Block::Tokens(tokens(ty, label, &names, fields)),
    }
}

/// The labels, space-separated. BTF member names are C identifiers (the kernel rejects
/// anything else); should one hold whitespace anyway, it shows with `_` in its place
/// rather than splitting into two labels.
fn names(fields: &[(String, String)]) -> String {
    let words: Vec<String> = fields
        .iter()
        .map(|(l, _)| l.replace(char::is_whitespace, "_"))
        .collect();
    words.join(" ")
}

fn text(ty: &str, label: &str, names: &str, fields: &[(String, String)]) -> Option<String> {
    if !plain(label) || !plain(names) {
        return None;
    }
    let head = format!("impl ::core::fmt::Debug for {ty} {{\n");
    if head.len() - 1 > MARGIN {
        return None;
    }
    let elems: Vec<String> = fields.iter().map(|(_, e)| format!("&{e}")).collect();
    let slice = format!("&[{}]", elems.join(", "));
    let (name, names) = (format!("\"{label}\""), format!("\"{names}\""));
    let one_line = format!("__bpfgen_fmt::fields(f, {name}, {names}, {slice})");
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
        // Both strings are single literals: a line each, however long (prettyplease
        // cannot break them either).
        for s in [&name, &names] {
            out.push_str("            ");
            out.push_str(s);
            out.push_str(",\n");
        }
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

fn tokens(ty: &str, label: &str, names: &str, fields: &[(String, String)]) -> TokenStream {
    let elems: Vec<String> = fields.iter().map(|(_, e)| format!("&{e}")).collect();
    let src = format!(
        "impl ::core::fmt::Debug for {ty} {{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ __bpfgen_fmt::fields(f, {label:?}, {names:?}, &[{}]) }} }}",
        elems.join(", ")
    );
    // Every piece is an identifier, a field access or a string literal written with
    // Rust's own escaping, so this always tokenizes.
    src.parse().unwrap_or_default()
}

/// The functions the `Debug` impls call (those some impl uses), emitted once at the end
/// of a file.
pub(super) fn helper(fields: bool, variant: bool) -> TokenStream {
    let fields = fields.then(|| {
        quote::quote! {
            /// `names`: the members' names, space-separated, one per value.
            pub(super) fn fields(
                f: &mut ::core::fmt::Formatter<'_>,
                name: &str,
                names: &str,
                values: &[&dyn ::core::fmt::Debug],
            ) -> ::core::fmt::Result {
                let mut d = f.debug_struct(name);
                for (label, value) in names.split(' ').zip(values) {
                    d.field(label, value);
                }
                d.finish()
            }
        }
    });
    let variant = variant.then(|| {
        quote::quote! {
            /// An enum's value: the first of `names` (space-separated) whose entry of
            /// `values` is `value`, else `name(raw)`.
            pub(super) fn variant(
                f: &mut ::core::fmt::Formatter<'_>,
                name: &str,
                raw: &dyn ::core::fmt::Debug,
                value: i128,
                names: &str,
                values: &[i128],
            ) -> ::core::fmt::Result {
                match names.split(' ').zip(values).find(|(_, v)| **v == value) {
                    Some((known, _)) => f.write_str(known),
                    None => f.debug_tuple(name).field(raw).finish(),
                }
            }
        }
    });
    quote::quote! {
        /// `Debug` of the types above: structs and unions as `name { a: 1, b: 2 }`, enums
        /// as the value's name (or `name(42)`).
        #[doc(hidden)]
        mod __bpfgen_fmt {
            #fields
            #variant
        }
    }
}
