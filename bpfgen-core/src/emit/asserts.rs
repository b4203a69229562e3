//! The compile-time layout proof of each type: one `const _` item that hands three
//! arrays to `__bpfgen_layout::check` — the `offset_of!` of every field, then
//! `size_of` and `align_of` (and any size an accessor relies on); the values the BTF
//! gives; and one sentence per entry. Const evaluation stops at the first entry that
//! differs and fails the build with its sentence, so a moved field names itself:
//! "bpfgen: offset of `lay_holes::b` differs from the BTF (8)".
//!
//! Why arrays and one call rather than an `assert!` per field: on all of vmlinux
//! (65,000 fields) that form is what `cargo check` pays for most, per statement; a
//! call with three arrays has no branch per field and measured about a quarter
//! cheaper (`bench/check_forms.sh`). The `offset_of!`s themselves cost the rest.
//!
//! These blocks are a large part of the output and have one fixed shape, so their text
//! is written here directly, in exactly the layout prettyplease gives it (the
//! `prettyplease_fixed_point` test re-formats every fixture's output and compares
//! byte for byte); a block with a line that might not fit prettyplease's 89-column
//! margin, or with extra checks whose types need formatting, goes through prettyplease.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::lit;
use super::text::{plain, MARGIN};

/// An assertion block, as formatted text or as tokens for prettyplease.
pub(super) enum Block {
    Text(String),
    Tokens(TokenStream),
}

/// One more size an accessor relies on: `size_of::<ty>() == size`.
pub(super) struct SizeCheck {
    pub ty: TokenStream,
    pub size: u32,
    pub msg: String,
}

pub(super) fn struct_block(
    ty: &Ident,
    name: &str,
    size: u32,
    align: u32,
    fields: &[(Ident, u32)],
    extra: &[SizeCheck],
) -> Block {
    let name = crate::naming::bare(name);
    let tys = ty.to_string();
    let mut what: Vec<String> = fields
        .iter()
        .map(|(f, off)| {
            format!(
                "bpfgen: offset of `{name}::{}` differs from the BTF ({off})",
                crate::naming::bare(&f.to_string())
            )
        })
        .collect();
    what.push(format!(
        "bpfgen: size of `{name}` differs from the BTF ({size})"
    ));
    what.push(format!(
        "bpfgen: alignment of `{name}` differs from the BTF ({align})"
    ));
    let mut expected: Vec<u64> = fields.iter().map(|(_, o)| u64::from(*o)).collect();
    expected.push(u64::from(size));
    expected.push(u64::from(align));
    if extra.is_empty() {
        let mut actual: Vec<String> = fields
            .iter()
            .map(|(f, _)| format!("offset_of!({tys}, {f})"))
            .collect();
        actual.push(format!("::core::mem::size_of::<{tys}>()"));
        actual.push(format!("::core::mem::align_of::<{tys}>()"));
        if let Some(text) = block_text(!fields.is_empty(), &actual, &expected, &what) {
            return Block::Text(text);
        }
    }
    let mut actual: Vec<TokenStream> = fields
        .iter()
        .map(|(f, _)| quote!(offset_of!(#ty, #f)))
        .collect();
    actual.push(quote!(::core::mem::size_of::<#ty>()));
    actual.push(quote!(::core::mem::align_of::<#ty>()));
    for c in extra {
        let t = &c.ty;
        actual.push(quote!(::core::mem::size_of::<#t>()));
        expected.push(u64::from(c.size));
        what.push(c.msg.clone());
    }
    let expected = expected.into_iter().map(lit);
    let call = quote! {
        __bpfgen_layout::check([#(#actual),*], [#(#expected),*], [#(#what),*])
    };
    Block::Tokens(if fields.is_empty() {
        quote!(const _: () = #call;)
    } else {
        quote! {
            const _: () = {
                use ::core::mem::offset_of;
                #call
            };
        }
    })
}

/// `[a, b, c]` + `tail` on one line at `indent`, when it fits the margin.
fn one_line(out: &mut String, indent: usize, items: &[String], tail: &str) -> bool {
    let len: usize = items.iter().map(|s| s.len() + 2).sum::<usize>() + indent + tail.len();
    if len > MARGIN {
        return false;
    }
    out.push_str(&" ".repeat(indent));
    out.push('[');
    out.push_str(&items.join(", "));
    out.push(']');
    out.push_str(tail);
    out.push('\n');
    true
}

/// A bracketed list as prettyplease prints it at `indent` (the column of the line
/// holding `[`), followed by `tail`: on one line when it fits, else one element per
/// line with a trailing comma. `None` when an element line would not fit.
fn list(out: &mut String, indent: usize, items: &[String], tail: &str) -> Option<()> {
    if one_line(out, indent, items, tail) {
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
/// last (which may overhang the margin).
fn fill(out: &mut String, indent: usize, items: &[String], tail: &str) {
    if one_line(out, indent, items, tail) {
        return;
    }
    let pad = " ".repeat(indent);
    out.push_str(&pad);
    out.push_str("[\n");
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

/// The block as prettyplease prints it, or `None` when a line could wrap differently.
fn block_text(
    with_fields: bool,
    actual: &[String],
    expected: &[u64],
    what: &[String],
) -> Option<String> {
    if !what.iter().all(|w| plain(w)) {
        return None;
    }
    let expected: Vec<String> = expected.iter().map(u64::to_string).collect();
    let what: Vec<String> = what.iter().map(|w| format!("\"{w}\"")).collect();
    let mut out = String::with_capacity(160 + 120 * actual.len());
    // The call is the block's tail expression (indent 4) or the const's value (0).
    let (indent, head, close) = if with_fields {
        (
            4,
            "const _: () = {\n    use ::core::mem::offset_of;\n    __bpfgen_layout::check(\n",
            "    )\n};\n",
        )
    } else {
        (0, "const _: () = __bpfgen_layout::check(\n", ");\n")
    };
    out.push_str(head);
    list(&mut out, indent + 4, actual, ",")?;
    fill(&mut out, indent + 4, &expected, ",");
    list(&mut out, indent + 4, &what, ",")?;
    out.push_str(close);
    Some(out)
}

/// The const fn every block calls, emitted once at the end of a file.
pub(super) fn helper() -> TokenStream {
    quote! {
        /// Layout checks of the types above, run by the compiler (const evaluation).
        #[doc(hidden)]
        mod __bpfgen_layout {
            /// Fails the build with `what[i]` at the first `i` where `actual[i]` is
            /// not `expected[i]`. (`dead_code`: only `const _` items call it, which
            /// rustc 1.85 does not count as uses.)
            #[allow(dead_code)]
            pub(super) const fn check<const N: usize>(
                actual: [usize; N],
                expected: [usize; N],
                what: [&str; N],
            ) {
                let mut i = 0;
                while i < N {
                    if actual[i] != expected[i] {
                        ::core::panic!("{}", what[i]);
                    }
                    i += 1;
                }
            }
        }
    }
}
