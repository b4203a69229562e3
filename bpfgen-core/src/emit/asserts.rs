//! The compile-time layout proof of each type: one `const _: () = { … };` block with
//! `size_of`, `align_of` and the `offset_of!` of every field, written as
//! `if … { panic!(…) }` (prettyplease formats that; `assert!` bodies stay raw tokens). A mismatch is a build
//! error whose message names the type and field.

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
    let offs = fields.iter().map(|(f, off, c)| {
        let o = lit(u64::from(*off));
        let m = format!(
            "bpfgen: offset of `{name}.{}` (C `{c}`) differs from the BTF ({off})",
            crate::naming::bare(&f.to_string())
        );
        quote!(if ::core::mem::offset_of!(#ty, #f) != #o { ::core::panic!(#m) })
    });
    quote! {
        const _: () = {
            if ::core::mem::size_of::<#ty>() != #s { ::core::panic!(#ms) }
            if ::core::mem::align_of::<#ty>() != #a { ::core::panic!(#ma) }
            #(#offs)*
            #(#extra)*
        };
    }
}
