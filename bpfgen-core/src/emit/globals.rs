//! `pub mod globals`: one struct per data section, laid out as the section's bytes
//! (the value of the one-element array map libbpf and aya create for it), and the
//! object's `.kconfig` / `.ksyms` externs.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::maps::c_type;
use super::{ident, lit, prim, Emitter};
use crate::error::KResult;
use crate::globals::{section_layout, var_field_names, DataSection, Globals, SecSlot, SectionKind};
use crate::naming::bare;

/// Names the `globals` module defines in the type namespace.
const RESERVED: &[&str] = &["SectionDef", "Extern"];

/// The struct name of each section that has one (`.data.custom` → `data_custom`),
/// unique and clear of [`RESERVED`]; `None` for sections without a DATASEC.
pub(crate) fn struct_names(g: &Globals) -> Vec<Option<String>> {
    let mut used: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
    g.sections
        .iter()
        .map(|s| {
            s.datasec?;
            let mut n = crate::naming::ident(s.name.trim_start_matches('.'));
            if used.contains(bare(&n)) {
                n = format!("{}_section", bare(&n));
            }
            while !used.insert(bare(&n).to_string()) {
                n.push('_');
            }
            Some(n)
        })
        .collect()
}

/// How C names a variable, for docs: `static variable `calls` of function `compute``.
pub(crate) fn var_words(name: &str, is_static: bool) -> String {
    match name.split_once('.') {
        Some((func, var)) if is_static => {
            format!("static variable `{var}` of function `{func}`")
        }
        _ if is_static => format!("static variable `{name}`"),
        _ => format!("global `{name}`"),
    }
}

impl Emitter<'_> {
    /// The formatted `globals` module; each section's struct is formatted on its own
    /// and spliced in (20,000 sections once held gigabytes of tokens).
    pub(super) fn globals_module(&mut self, g: &Globals) -> KResult<String> {
        let names = struct_names(g);
        let mut structs = String::new();
        let mut sections = Vec::new();
        for (sec, name) in g.sections.iter().zip(&names) {
            let n = &sec.name;
            let size = lit(sec.size);
            let writable = sec.kind != SectionKind::Rodata;
            let has = match name {
                Some(s) => {
                    let t = self.section_struct(sec, s)?;
                    structs.push_str(&super::format_inner(t, &self.safety_msgs.borrow())?);
                    true
                }
                None => false,
            };
            sections.push(quote! {
                SectionDef { name: #n, size: #size, writable: #writable, has_struct: #has }
            });
        }
        let mut externs = Vec::new();
        for e in &g.externs {
            let n = &e.name;
            let s = &e.section;
            let ct = c_type(self, e.ty);
            let size = match e.size {
                Some(s) => {
                    let l = lit(s);
                    quote!(::core::option::Option::Some(#l))
                }
                None => quote!(::core::option::Option::None),
            };
            let w = e.weak;
            externs.push(quote! {
                Extern { name: #n, section: #s, c_type: #ct, size: #size, weak: #w }
            });
        }
        let doc = [
            format!(
                "The global variables of `{}`: one struct per data section, laid out exactly as the section's bytes (the value of the one-element array map that libbpf and aya create for the section and name after it), and its `.kconfig` / `.ksyms` externs.",
                self.cfg.source
            ),
            String::new(),
            "Offsets come from the ELF symbol table, as libbpf computes them at load time (in the object's BTF they are still 0).".to_string(),
        ];
        let strt = prim("str");
        let usize_t = prim("usize");
        let boolt = prim("bool");
        let mark = super::splice_mark();
        let outer = quote! {
            #(#[doc = #doc])*
            #[allow(dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals, clippy::module_inception)]
            pub mod globals {
                /// A data section of the object.
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                pub struct SectionDef {
                    /// The ELF section's name (`.data`, `.rodata.str1.1`, …): also the name of the map libbpf (prefixed with the object's name) and aya make of it.
                    pub name: &'static #strt,
                    /// The section's size: the map's value size.
                    pub size: #usize_t,
                    /// `false` for `.rodata*`, which programs cannot write once loaded.
                    pub writable: #boolt,
                    /// Whether a struct here describes it (sections without variables in the BTF, such as compiler string sections, have none).
                    pub has_struct: #boolt,
                }

                /// An extern variable: `.kconfig` (filled in by libbpf from the kernel's configuration) or `.ksyms` (a kernel symbol). The object holds no place for it: libbpf lays `.kconfig` out itself, so no offset is given.
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                pub struct Extern {
                    pub name: &'static #strt,
                    /// `.kconfig` or `.ksyms`.
                    pub section: &'static #strt,
                    /// Its C type.
                    pub c_type: &'static #strt,
                    /// Bytes of its type (`None` for `extern const void sym __ksym;`).
                    pub size: ::core::option::Option<#usize_t>,
                    /// Declared `__weak`: may be missing at load time.
                    pub weak: #boolt,
                }

                /// Every data section of the object, in section-header order.
                pub const SECTIONS: &[SectionDef] = &[#(#sections),*];

                /// Every `.kconfig` and `.ksyms` extern.
                pub const EXTERNS: &[Extern] = &[#(#externs),*];

                #mark
            }
        };
        let msgs = std::mem::take(&mut *self.safety_msgs.borrow_mut());
        super::splice(&super::format_tokens(outer, &msgs)?, &structs)
    }

    fn section_struct(&mut self, sec: &DataSection, name: &str) -> KResult<TokenStream> {
        let layout = section_layout(&mut self.layouts, sec)?;
        let fnames = var_field_names(sec);
        let mut used: HashSet<String> = fnames.iter().map(|f| bare(f).to_string()).collect();
        let mut unique = |want: String| {
            let mut n = want;
            while !used.insert(n.clone()) {
                n.push('_');
            }
            ident(&n)
        };
        let to_file = quote!(super::);
        let name_i = ident(name);
        let u8t = prim("u8");
        let mut fields = Vec::new();
        let mut debug = Vec::new();
        let mut offsets = Vec::new();
        let mut accessors = Vec::new();
        let mut size_checks = Vec::new();
        for slot in &layout.slots {
            match slot {
                SecSlot::Var { var, offset, size } => {
                    let v = &sec.vars[*var];
                    let f = ident(&fnames[*var]);
                    let ty = self.rust_ty_in(v.ty, &to_file)?;
                    let d = format!(
                        "C {} (`{}`, BTF VAR id {}): {size} byte{} at offset {offset}.",
                        var_words(&v.name, v.is_static),
                        c_type(self, v.ty),
                        v.var,
                        if *size == 1 { "" } else { "s" }
                    );
                    fields.push(quote!(#[doc = #d] pub #f: #ty,));
                    let l = &v.name;
                    debug.push(quote!(d.field(#l, &self.#f);));
                    offsets.push((f, *offset));
                }
                SecSlot::Bytes { var, offset, size } => {
                    let v = &sec.vars[*var];
                    let getter = ident(&fnames[*var]);
                    let setter = ident(&format!("set_{}", bare(&fnames[*var])));
                    let f = unique(format!("{}_bytes", bare(&fnames[*var])));
                    let ty = self.rust_ty_in(v.ty, &to_file)?;
                    let n = lit(*size);
                    let d = format!(
                        "C {} (`{}`, BTF VAR id {}) at offset {offset}, which its type's alignment does not allow: held as bytes; use `{}()` / `{}()`.",
                        var_words(&v.name, v.is_static),
                        c_type(self, v.ty),
                        v.var,
                        getter,
                        setter
                    );
                    fields.push(quote!(#[doc = #d] pub #f: [#u8t; #n],));
                    let l = &v.name;
                    debug.push(quote!(d.field(#l, &self.#getter());));
                    offsets.push((f.clone(), *offset));
                    let s1 = self.safety(format!(
                        "`{f}` holds exactly a `{}` (size asserted below), every bit pattern is a valid generated type, and the read is unaligned.",
                        ty.to_string().replace(' ', "")
                    ));
                    let s2 = self.safety(format!(
                        "`{f}` holds exactly a `{}` (size asserted below) and the write is unaligned; generated types have no padding, so every byte written is initialised.",
                        ty.to_string().replace(' ', "")
                    ));
                    let gd = format!("Reads C `{l}`.");
                    let sd = format!("Writes C `{l}`.");
                    accessors.push(quote! {
                        #[doc = #gd]
                        #[inline]
                        pub fn #getter(&self) -> #ty {
                            #s1 unsafe { ::core::ptr::read_unaligned(self.#f.as_ptr().cast::<#ty>()) }
                        }
                        #[doc = #sd]
                        #[inline]
                        pub fn #setter(&mut self, value: #ty) {
                            #s2 unsafe { ::core::ptr::write_unaligned(self.#f.as_mut_ptr().cast::<#ty>(), value) }
                        }
                    });
                    let msg = format!("bpfgen: `{l}` must be {size} bytes");
                    size_checks.push(
                        quote!(if ::core::mem::size_of::<#ty>() != #n { ::core::panic!(#msg) }),
                    );
                }
                SecSlot::Pad { offset, len } => {
                    let f = unique(format!("_pad_{offset}"));
                    let n = lit(*len);
                    let d = format!(
                        "Bytes {offset}..{} of the section, which no variable covers: padding, or constants the compiler placed without a symbol (keep them as read: update a section read-modify-write).",
                        offset + len
                    );
                    fields.push(quote!(#[doc = #d] pub #f: [#u8t; #n],));
                    offsets.push((f, *offset));
                }
                SecSlot::Tail { offset, len } => {
                    let f = unique(format!("_pad_{offset}"));
                    let n = lit(*len);
                    let d = format!(
                        "Padding after the end of the section ({len} bytes, up to the struct's alignment): not part of the section or its map's value (see `SECTION_SIZE`)."
                    );
                    fields.push(quote!(#[doc = #d] pub #f: [#u8t; #n],));
                    offsets.push((f, *offset));
                }
            }
        }
        let kind = match sec.kind {
            SectionKind::Bss => "zero-initialised",
            SectionKind::Data => "initialised, writable",
            SectionKind::Rodata => "read-only for programs once loaded: set it before loading",
        };
        let mut doc = vec![
            format!(
                "C section `{}` (BTF DATASEC id {}, {kind}): {} bytes, {} variables; this struct is {} bytes, aligned to {}.",
                sec.name,
                sec.datasec.unwrap_or(0),
                sec.size,
                sec.vars.len(),
                layout.size,
                layout.align
            ),
            String::new(),
            "Every variable is a field at its offset in the section, every other byte explicit padding. `from_section_bytes` / `to_section_bytes` convert from and to the section's bytes (the value of its map).".to_string(),
        ];
        if layout.size != sec.size {
            doc.push(String::new());
            doc.push(format!(
                "The section is {} bytes, not a multiple of the alignment: the last {} bytes of the struct are not part of it.",
                sec.size,
                layout.size - sec.size
            ));
        }
        let repr = if layout.align_attr {
            let a = lit(u64::from(layout.align));
            quote!(#[repr(C, align(#a))])
        } else {
            quote!(#[repr(C)])
        };
        let derives = self.derives();
        let derives = quote!(#[derive(Clone, Copy)] #derives);
        let default_body = if self.cfg.zerocopy {
            quote!(<Self as ::zerocopy::FromZeros>::new_zeroed())
        } else {
            let s = self.safety(
                "every field is an integer, float or byte array (or a generated type made of them), for which all-zero bytes are a valid value.".to_string(),
            );
            quote!(#s unsafe { ::core::mem::zeroed() })
        };
        let secname = &sec.name;
        let ss = lit(sec.size);
        let s_from = self.safety(format!(
            "`{}` is `repr(C)` with no implicit padding and fields of integers, floats and byte arrays (or generated types made of them), so any bytes are a valid value; the copy writes {} bytes, within its {} bytes.",
            bare(name), sec.size, layout.size
        ));
        let s_to = self.safety(format!(
            "`{}` has no implicit padding, so its first {} bytes are initialised.",
            bare(name),
            sec.size
        ));
        let (sz, al) = (lit(layout.size), lit(u64::from(layout.align)));
        let ms = format!(
            "bpfgen: size of `globals::{}` differs from the section layout ({})",
            bare(name),
            layout.size
        );
        let ma = format!(
            "bpfgen: alignment of `globals::{}` differs from the section layout ({})",
            bare(name),
            layout.align
        );
        let offs = offsets.iter().map(|(f, o)| {
            let o = lit(*o);
            quote!(assert!(offset_of!(#name_i, #f) == #o);)
        });
        let use_offset_of = if offsets.is_empty() {
            quote!()
        } else {
            quote!(
                use ::core::mem::offset_of;
            )
        };
        let dbg_name = &sec.name;
        let strt = prim("str");
        let usize_t = prim("usize");
        Ok(quote! {
            #(#[doc = #doc])*
            #repr
            #derives
            pub struct #name_i { #(#fields)* }

            impl ::core::default::Default for #name_i {
                #[inline]
                fn default() -> Self { #default_body }
            }

            impl ::core::fmt::Debug for #name_i {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    // Statements, not one `.field()` chain: a section may hold
                    // tens of thousands of variables, too deep an expression for
                    // the formatter's recursion.
                    let mut d = f.debug_struct(#dbg_name);
                    #(#debug)*
                    d.finish()
                }
            }

            impl #name_i {
                /// The ELF section (and so libbpf's and aya's map) this struct lays out.
                pub const SECTION: &'static #strt = #secname;
                /// Bytes of the section: its map's value size.
                pub const SECTION_SIZE: #usize_t = #ss;

                /// The struct holding the section's bytes (e.g. a lookup of its map).
                pub fn from_section_bytes(bytes: &[#u8t; #ss]) -> Self {
                    let mut value = <Self as ::core::default::Default>::default();
                    #s_from
                    unsafe {
                        ::core::ptr::copy_nonoverlapping(bytes.as_ptr(), ::core::ptr::from_mut(&mut value).cast::<#u8t>(), #ss);
                    }
                    value
                }

                /// The section's bytes this struct holds (e.g. to update its map).
                pub fn to_section_bytes(&self) -> [#u8t; #ss] {
                    let mut bytes = [0; #ss];
                    #s_to
                    unsafe {
                        ::core::ptr::copy_nonoverlapping(::core::ptr::from_ref(self).cast::<#u8t>(), bytes.as_mut_ptr(), #ss);
                    }
                    bytes
                }

                #(#accessors)*
            }

            const _: () = {
                #use_offset_of
                if ::core::mem::size_of::<#name_i>() != #sz { ::core::panic!(#ms) }
                if ::core::mem::align_of::<#name_i>() != #al { ::core::panic!(#ma) }
                #(#offs)*
                #(#size_checks)*
            };
        })
    }
}
