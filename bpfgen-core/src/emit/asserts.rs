//! The compile-time layout proof of each type: one `const _: () = { … };` block with
//! the `offset_of!` of every field, then `size_of` and `align_of` (fields first: a
//! const block stops at its first failure, and a moved field then names itself). A
//! mismatch is a build error that names the type and field: size and alignment are `if … { panic!(…) }`
//! with a sentence; field offsets are one-line `assert!(offset_of!(T, f) == N)`,
//! whose failure rustc reports by quoting that condition.
//!
//! These blocks are most of the output and have one fixed shape, and prettyplease
//! spends microseconds per `assert!` re-parsing macro arguments. So the block's text
//! is written here directly, in exactly the layout prettyplease gives it (the
//! `prettyplease_fixed_point` test re-formats every fixture's output and compares
//! byte for byte); any line that might not fit its 89-column margin sends the block
//! through prettyplease instead.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::lit;

/// prettyplease's line width.
const MARGIN: usize = 89;

/// An assertion block, as formatted text or as tokens for prettyplease.
pub(super) enum Block {
    Text(String),
    Tokens(TokenStream),
}

pub(super) fn struct_block(
    ty: &Ident,
    name: &str,
    size: u32,
    align: u32,
    fields: &[(Ident, u32)],
    extra: &[TokenStream],
) -> Block {
    let name = crate::naming::bare(name);
    let ms = format!("bpfgen: size of `{name}` differs from the BTF ({size})");
    let ma = format!("bpfgen: alignment of `{name}` differs from the BTF ({align})");
    if extra.is_empty() {
        if let Some(text) = block_text(&ty.to_string(), size, align, &ms, &ma, fields) {
            return Block::Text(text);
        }
    }
    let (s, a) = (lit(u64::from(size)), lit(u64::from(align)));
    let offs = fields.iter().map(|(f, off)| {
        let o = lit(u64::from(*off));
        quote!(assert!(offset_of!(#ty, #f) == #o);)
    });
    let use_offset_of = if fields.is_empty() {
        quote!()
    } else {
        quote!(
            use ::core::mem::offset_of;
        )
    };
    Block::Tokens(quote! {
        const _: () = {
            #use_offset_of
            #(#offs)*
            if ::core::mem::size_of::<#ty>() != #s { ::core::panic!(#ms) }
            if ::core::mem::align_of::<#ty>() != #a { ::core::panic!(#ma) }
            #(#extra)*
        };
    })
}

/// The block as prettyplease prints it, or `None` when a line could wrap.
fn block_text(
    ty: &str,
    size: u32,
    align: u32,
    ms: &str,
    ma: &str,
    fields: &[(Ident, u32)],
) -> Option<String> {
    let mut out = String::with_capacity(128 + 48 * fields.len());
    out.push_str("const _: () = {\n");
    if !fields.is_empty() {
        out.push_str("    use ::core::mem::offset_of;\n");
    }
    for (f, off) in fields {
        let line = format!("    assert!(offset_of!({ty}, {f}) == {off});\n");
        if line.len() - 1 > MARGIN - 8 {
            return None;
        }
        out.push_str(&line);
    }
    for (what, value, msg) in [("size_of", size, ms), ("align_of", align, ma)] {
        let cond = format!("    if ::core::mem::{what}::<{ty}>() != {value} {{\n");
        if cond.len() - 1 > MARGIN - 8 {
            return None;
        }
        out.push_str(&cond);
        let call = format!("        ::core::panic!(\"{msg}\")\n");
        if call.len() - 1 <= MARGIN {
            out.push_str(&call);
        } else {
            // The argument moves to its own line; a string literal never breaks.
            out.push_str("        ::core::panic!(\n            \"");
            out.push_str(msg);
            out.push_str("\"\n        )\n");
        }
        out.push_str("    }\n");
    }
    out.push_str("};\n");
    Some(out)
}
