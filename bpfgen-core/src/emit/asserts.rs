//! The compile-time layout proof of each type: one `const _: () = { … };` block with
//! `size_of`, `align_of` and the `offset_of!` of every field. A mismatch is a build
//! error that names the type and field: size and alignment are `if … { panic!(…) }`
//! with a sentence; field offsets are one-line `assert!(offset_of!(T, f) == N)`,
//! whose failure rustc reports by quoting that condition.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::lit;

pub(super) fn struct_block(
    ty: &Ident,
    name: &str,
    size: u32,
    align: u32,
    fields: &[(Ident, u32, String)],
    extra: &[TokenStream],
) -> TokenStream {
    let name = crate::naming::bare(name);
    let (s, a) = (lit(u64::from(size)), lit(u64::from(align)));
    let ms = format!("bpfgen: size of `{name}` differs from the BTF ({size} bytes)");
    let ma = format!("bpfgen: alignment of `{name}` differs from the BTF ({align})");
    // `assert!` without a message: rustc's error then quotes the condition, which
    // names the type, the field and the BTF offset, in one short line per field.
    let offs = fields.iter().map(|(f, off, _)| {
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
    quote! {
        const _: () = {
            #use_offset_of
            if ::core::mem::size_of::<#ty>() != #s { ::core::panic!(#ms) }
            if ::core::mem::align_of::<#ty>() != #a { ::core::panic!(#ma) }
            #(#offs)*
            #(#extra)*
        };
    }
}
