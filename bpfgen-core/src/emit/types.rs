//! Items: structs, unions (as exact-size storage with accessors), enums (as integer
//! newtypes), typedefs and opaque forward declarations.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::text::MARGIN;
use super::{asserts, ident, int_name, lit, prim, text, Emitter};
use crate::error::{ErrorKind, KResult};
use crate::ir::{Composite, Kind, TypeId};
use crate::layout::Slot;
use crate::naming::{bare, field_names};
use crate::object::Endian;

/// Members and methods of one generated impl, with unique method names.
#[derive(Default)]
struct Accessors {
    methods: Vec<TokenStream>,
    /// The same methods as prettyplease prints them, where known.
    texts: Vec<Option<String>>,
    used: HashSet<String>,
}

impl Accessors {
    /// The impl of `name` holding every method, with its lint opt-outs, as prettyplease
    /// prints it, when every method has a text form and the head fits the margin.
    fn impl_text(&self, name: &str) -> Option<String> {
        if self.texts.len() != self.methods.len() || name.len() + 7 > MARGIN {
            return None;
        }
        let ms: Vec<&str> = self
            .texts
            .iter()
            .map(Option::as_deref)
            .collect::<Option<_>>()?;
        Some(if ms.is_empty() {
            format!("{ACCESSOR_ALLOWS_TEXT}impl {name} {{}}\n")
        } else {
            format!("{ACCESSOR_ALLOWS_TEXT}impl {name} {{\n{}}}\n", ms.concat())
        })
    }

    fn unique(&mut self, want: String) -> proc_macro2::Ident {
        let mut name = want;
        while !self.used.insert(bare(&name).to_string()) {
            name.push('_');
        }
        ident(&name)
    }
}

/// A getter's and a setter's bodies (lines at indent 8, as prettyplease prints them)
/// and the value's type, as text.
struct AccessText {
    ret: String,
    get: Vec<String>,
    set: Vec<String>,
}

impl AccessText {
    fn new(ret: &TokenStream, get: Vec<String>, set: Vec<String>) -> Option<Self> {
        let ret = text::ty_text(ret)?;
        let code = |l: &&String| !l.trim_start().starts_with("//");
        let fits = get
            .iter()
            .chain(&set)
            .filter(code)
            .all(|l| l.len() <= MARGIN);
        fits.then_some(AccessText { ret, get, set })
    }

    /// Both methods, with their docs, as prettyplease prints them in an impl block.
    fn methods(&self, gd: &str, g: &str, sd: &str, s: &str) -> Option<String> {
        if !text::doc_ok(gd) || !text::doc_ok(sd) {
            return None;
        }
        let getter = format!("    pub fn {g}(&self) -> {} {{", self.ret);
        let setter = format!("    pub fn {s}(&mut self, value: {}) {{", self.ret);
        if getter.len() > MARGIN || setter.len() > MARGIN {
            return None;
        }
        let mut out = String::with_capacity(400);
        for (doc, head, body) in [(gd, getter, &self.get), (sd, setter, &self.set)] {
            out.push_str(&format!("    /// {doc}\n    #[inline]\n{head}\n"));
            for l in body {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str("    }\n");
        }
        Some(out)
    }
}

/// `// SAFETY: msg` and `unsafe { f(args) }` as the body of a method, as prettyplease
/// prints it: on one line, or the block broken, or the call's arguments too.
fn unsafe_call(msg: &str, f: &str, args: &[String]) -> Option<Vec<String>> {
    let call = format!("{f}({})", args.join(", "));
    let safety = format!("        // SAFETY: {msg}");
    let one = format!("        unsafe {{ {call} }}");
    if one.len() <= MARGIN {
        return Some(vec![safety, one]);
    }
    let mut out = vec![safety, "        unsafe {".to_string()];
    let inner = format!("            {call}");
    if inner.len() <= MARGIN {
        out.push(inner);
    } else {
        out.push(format!("            {f}("));
        for a in args {
            out.push(format!("                {a},"));
        }
        out.push("            )".to_string());
    }
    out.push("        }".to_string());
    Some(out)
}

/// How to read and write a value held as bytes.
enum Scalar {
    /// An integer or float: `T::from_le_bytes`.
    Num(TokenStream),
    /// An enum newtype around an integer.
    Enum(TokenStream, TokenStream),
}

/// Why `mem::zeroed` is sound for a generated type.
const ZEROED_SAFETY: &str = "every field is an integer, float or byte array (or a generated type made of them), for which all-zero bytes are a valid value.";

/// [`Emitter::repr`] as text.
fn repr_text(align: u32, attr: bool) -> String {
    if attr {
        format!("#[repr(C, align({align}))]")
    } else {
        "#[repr(C)]".to_string()
    }
}

impl Emitter<'_> {
    /// The item's layout check, which `emit` gathers into a block with its neighbours'.
    fn layout_check(&mut self, c: KResult<asserts::Check>) -> KResult<()> {
        self.uses_layout = true;
        self.check = Some(c?);
        Ok(())
    }

    /// A `Debug` impl (text, or tokens where it has no text form), noting the tuple
    /// shape its call uses.
    fn debug_block(&mut self, b: asserts::Block, values: usize) -> asserts::Block {
        self.fmt_shapes |= super::debug::shapes(values);
        b
    }

    /// Puts a struct's or union's parts in file order — definition, `Default`,
    /// accessors (if any), `Clone`/`Copy`, `Debug` — each as text where it has a text
    /// form, else as tokens formatted in place. `head`: the definition and `Default` as
    /// text (both or neither); `tokens`: the same two as tokens; `accessors`: the impl's
    /// text comes from the accessors, its tokens are given.
    fn put_parts(
        &self,
        head: Option<[String; 2]>,
        tokens: impl FnOnce() -> [TokenStream; 2],
        accessors: (&Accessors, &str, Option<TokenStream>),
        clone_copy: asserts::Block,
        debug: asserts::Block,
    ) {
        match head {
            Some(texts) => texts.map(|t| self.put(asserts::Block::Text(t))),
            None => tokens().map(|t| self.put(asserts::Block::Tokens(t))),
        };
        let (acc, name, impl_tokens) = accessors;
        if let Some(impl_tokens) = impl_tokens {
            self.put(
                match acc.impl_text(name).filter(|_| !self.cfg.tokens_only) {
                    Some(t) => asserts::Block::Text(t),
                    None => asserts::Block::Tokens(impl_tokens),
                },
            );
        }
        self.put(clone_copy);
        self.put(debug);
    }

    /// A zero-filling `Default` (all-zero bytes are a valid value of every generated type).
    fn default_impl(&self, name: &proc_macro2::Ident) -> TokenStream {
        let body = if self.cfg.zerocopy {
            quote!(<Self as ::zerocopy::FromZeros>::new_zeroed())
        } else {
            let s = self.safety(ZEROED_SAFETY.to_string());
            quote!(#s unsafe { ::core::mem::zeroed() })
        };
        quote! {
            impl ::core::default::Default for #name {
                #[inline]
                fn default() -> Self { #body }
            }
        }
    }

    fn repr(&self, align: u32, attr: bool) -> TokenStream {
        if attr {
            let a = lit(u64::from(align));
            quote!(#[repr(C, align(#a))])
        } else {
            quote!(#[repr(C)])
        }
    }

    fn doc_head(&self, id: TypeId, size: u32, align: u32) -> String {
        format!(
            "C `{}` (BTF type id {id}): {size} bytes, aligned to {align}.",
            self.c_spelling(id)
        )
    }

    fn scalar(&self, ty: TypeId) -> KResult<Option<Scalar>> {
        let s = self.ir.strip(ty)?;
        Ok(match &self.ir.get(s).kind {
            Kind::Int(i) => Some(Scalar::Num(prim(int_name(i.size, i.signed)))),
            Kind::Ptr { .. } => Some(Scalar::Num(prim("u64"))),
            Kind::Float { size: 4 } => Some(Scalar::Num(prim("f32"))),
            Kind::Float { size: 8 } => Some(Scalar::Num(prim("f64"))),
            Kind::Enum(e) => Some(Scalar::Enum(
                self.rust_ty(s)?,
                prim(int_name(e.size, e.signed)),
            )),
            _ => None,
        })
    }

    /// Getter and setter bodies for a value of type `ty` stored in bytes
    /// `storage[off..off + n]` (`storage` is a `[u8; total]` place), as tokens, and as
    /// prettyplease prints them (lines at indent 8) where their shape is known: bytes
    /// from offset 0 (a union member, a packed struct's member), lines within the margin.
    #[allow(clippy::type_complexity)]
    fn bytes_access(
        &self,
        storage: &TokenStream,
        off: u32,
        n: u32,
        total: u32,
        ty: TypeId,
        checks: &mut Vec<asserts::SizeCheck>,
    ) -> KResult<(TokenStream, TokenStream, TokenStream, Option<AccessText>)> {
        let (from_t, to_t) = match self.ir.endian {
            Endian::Little => ("from_le_bytes", "to_le_bytes"),
            Endian::Big => ("from_be_bytes", "to_be_bytes"),
        };
        let (from, to) = (ident(from_t), ident(to_t));
        let whole = off == 0 && n == total;
        let (o, e, nl) = (
            lit(u64::from(off)),
            lit(u64::from(off + n)),
            lit(u64::from(n)),
        );
        let read = if whole {
            quote!(#storage)
        } else {
            quote!({
                let mut b = [0u8; #nl];
                b.copy_from_slice(&#storage[#o..#e]);
                b
            })
        };
        let write = |bytes: TokenStream| {
            if whole {
                quote!(#storage = #bytes;)
            } else {
                quote!(#storage[#o..#e].copy_from_slice(&#bytes);)
            }
        };
        let st = storage.to_string().replace(' ', "");
        // The statements of the block that copies the first `n` bytes out, at `indent`.
        let copy_text = |indent: usize| -> [String; 3] {
            let pad = " ".repeat(indent);
            [
                format!("{pad}let mut b = [0u8; {n}];"),
                format!("{pad}b.copy_from_slice(&{st}[0..{n}]);"),
                format!("{pad}b"),
            ]
        };
        let write_text = |bytes: &str| {
            if whole {
                format!("        {st} = {bytes};")
            } else {
                format!("        {st}[0..{n}].copy_from_slice(&{bytes});")
            }
        };
        Ok(match self.scalar(ty)? {
            Some(Scalar::Num(p)) => {
                let ret = self.rust_ty(ty)?;
                let text = (off == 0).then(|| {
                    let p = super::text::ty_text(&p)?;
                    let get = if whole {
                        vec![format!("        {p}::{from_t}({st})")]
                    } else {
                        let mut r = vec![format!("        {p}::{from_t}({{")];
                        r.extend(copy_text(12));
                        r.push("        })".to_string());
                        r
                    };
                    AccessText::new(&ret, get, vec![write_text(&format!("value.{to_t}()"))])
                });
                (
                    ret,
                    quote!(#p::#from(#read)),
                    write(quote!(value.#to())),
                    text.flatten(),
                )
            }
            Some(Scalar::Enum(en, p)) => {
                let text = (off == 0).then(|| {
                    let (e, p) = (super::text::ty_text(&en)?, super::text::ty_text(&p)?);
                    let get = if whole {
                        let one = format!("        {e}({p}::{from_t}({st}))");
                        if one.len() <= MARGIN {
                            vec![one]
                        } else {
                            vec![
                                format!("        {e}("),
                                format!("            {p}::{from_t}({st}),"),
                                "        )".to_string(),
                            ]
                        }
                    } else {
                        let mut r = vec![format!("        {e}(")];
                        r.push(format!("            {p}::{from_t}({{"));
                        r.extend(copy_text(16));
                        r.push("            }),".to_string());
                        r.push("        )".to_string());
                        r
                    };
                    AccessText::new(&en, get, vec![write_text(&format!("value.0.{to_t}()"))])
                });
                (
                    en.clone(),
                    quote!(#en(#p::#from(#read))),
                    write(quote!(value.0.#to())),
                    text.flatten(),
                )
            }
            None => {
                let ret = self.rust_ty(ty)?;
                checks.push(asserts::SizeCheck {
                    ty: ret.clone(),
                    offset: off,
                    size: n,
                });
                let _ = total;
                let ptr = if off == 0 {
                    quote!(#storage.as_ptr())
                } else {
                    quote!(#storage.as_ptr().add(#o))
                };
                let ptr_mut = if off == 0 {
                    quote!(#storage.as_mut_ptr())
                } else {
                    quote!(#storage.as_mut_ptr().add(#o))
                };
                let rt = ret.to_string().replace(' ', "");
                let m1 = format!(
                    "bytes {off}..{} of `{st}` hold a `{rt}` (size asserted at compile time); every bit pattern is a valid generated type, and the read is unaligned.",
                    off + n,
                );
                let m2 = format!(
                    "bytes {off}..{} of `{st}` are in bounds (size asserted at compile time) and the write is unaligned; generated types have no padding, so every byte written is initialised.",
                    off + n,
                );
                let text = (off == 0).then(|| {
                    let r = super::text::ty_text(&ret)?;
                    let get = unsafe_call(
                        &m1,
                        "::core::ptr::read_unaligned",
                        &[format!("{st}.as_ptr().cast::<{r}>()")],
                    )?;
                    let set = unsafe_call(
                        &m2,
                        "::core::ptr::write_unaligned",
                        &[
                            format!("{st}.as_mut_ptr().cast::<{r}>()"),
                            "value".to_string(),
                        ],
                    )?;
                    AccessText::new(&ret, get, set)
                });
                let s1 = self.safety(m1);
                let s2 = self.safety(m2);
                (
                    ret.clone(),
                    quote!(#s1 unsafe { ::core::ptr::read_unaligned(#ptr.cast::<#ret>()) }),
                    quote!(#s2 unsafe { ::core::ptr::write_unaligned(#ptr_mut.cast::<#ret>(), value) }),
                    text.flatten(),
                )
            }
        })
    }

    pub(super) fn struct_item(&mut self, id: TypeId) -> KResult<TokenStream> {
        let layout = self.layouts.composite(id)?.clone();
        let Kind::Struct(c) = &self.ir.get(id).kind else {
            return Err(ErrorKind::ty(id, "internal: not a struct"));
        };
        let c: &Composite = c;
        let name = self.item_name(id)?.to_string();
        let name_i = ident(&name);
        let fnames = field_names(&c.members);
        let mut used: HashSet<String> = fnames.iter().map(|f| bare(f).to_string()).collect();
        let mut unique_field = |want: String| {
            let mut n = want;
            while !used.insert(n.clone()) {
                n.push('_');
            }
            ident(&n)
        };
        let mut acc = Accessors::default();
        let mut text_fields: Vec<text::Field> = Vec::new();
        let mut debug: Vec<(String, String)> = Vec::new();
        let mut offsets = Vec::new();
        let mut checks = Vec::new();
        let c_label = |i: usize| -> String {
            c.members[i]
                .name
                .clone()
                .unwrap_or_else(|| bare(&fnames[i]).to_string())
        };
        for slot in &layout.slots {
            match slot {
                Slot::Field {
                    member,
                    offset,
                    size,
                } => {
                    let m = &c.members[*member];
                    let f = ident(&fnames[*member]);
                    let ty = self.rust_ty(m.ty)?;
                    let is_array = matches!(
                        self.ir.get(self.ir.strip(m.ty)?).kind,
                        Kind::Array { len: 0, .. }
                    );
                    let tdoc = (*size == 0 && is_array).then(|| format!(
                        "C `{}` at offset {offset}: flexible array member; its elements continue past the end of the struct.",
                        c_label(*member)
                    ));
                    text_fields.push(text::Field {
                        doc: tdoc,
                        name: f.to_string(),
                        ty,
                    });
                    let l = c_label(*member);
                    debug.push((l.clone(), super::debug::member(&f.to_string(), *size)));
                    offsets.push((f, *offset));
                }
                Slot::Bytes {
                    member,
                    offset,
                    size,
                } => {
                    let m = &c.members[*member];
                    let getter_name = fnames[*member].clone();
                    let store = unique_field(format!("{}_bytes", bare(&getter_name)));
                    let n = lit(u64::from(*size));
                    let u8t = prim("u8");
                    let l = c_label(*member);
                    let d = format!(
                        "C `{l}` at offset {offset}, held as bytes because the C layout does not align it for its type; use `{}()` and `set_{}()`.",
                        bare(&getter_name),
                        bare(&getter_name)
                    );
                    text_fields.push(text::Field {
                        doc: Some(d),
                        name: store.to_string(),
                        ty: quote!([#u8t; #n]),
                    });
                    offsets.push((store.clone(), *offset));
                    let storage = quote!(self.#store);
                    let (ret, get, set, text) =
                        self.bytes_access(&storage, 0, *size, *size, m.ty, &mut checks)?;
                    let g = acc.unique(getter_name.clone());
                    let s = acc.unique(format!("set_{}", bare(&getter_name)));
                    let gd = format!("Reads C `{l}`.");
                    let sd = format!("Writes C `{l}`.");
                    acc.texts.push(
                        text.and_then(|t| t.methods(&gd, &g.to_string(), &sd, &s.to_string())),
                    );
                    acc.methods.push(quote! {
                        #[doc = #gd]
                        #[inline]
                        pub fn #g(&self) -> #ret { #get }
                        #[doc = #sd]
                        #[inline]
                        pub fn #s(&mut self, value: #ret) { #set }
                    });
                    debug.push((l.clone(), format!("self.{g}()")));
                }
                Slot::Bits {
                    offset,
                    len,
                    members,
                } => {
                    let store = unique_field(format!("_bitfield_{offset}"));
                    let n = lit(u64::from(*len));
                    let u8t = prim("u8");
                    let names: Vec<String> = members
                        .iter()
                        .map(|&i| format!("`{}`", c_label(i)))
                        .collect();
                    let d = format!(
                        "Bitfield storage, bytes {offset}..{} of the struct: C {}; use the accessors.",
                        offset + len,
                        names.join(", ")
                    );
                    text_fields.push(text::Field {
                        doc: Some(d),
                        name: store.to_string(),
                        ty: quote!([#u8t; #n]),
                    });
                    offsets.push((store.clone(), *offset));
                    for &i in members {
                        let Some(bf) = &layout.bitfields[i] else {
                            continue;
                        };
                        let rel = bf.bit_offset - offset * 8;
                        let storage = quote!(self.#store);
                        let l = c_label(i);
                        let g = acc.unique(fnames[i].clone());
                        let s = acc.unique(format!("set_{}", bare(&fnames[i])));
                        let (m, t) = self.bitfield_accessors(
                            &storage,
                            rel,
                            bf.bits,
                            c.members[i].ty,
                            &l,
                            &g,
                            &s,
                        )?;
                        acc.methods.push(m);
                        acc.texts.push(t);
                        debug.push((l.clone(), format!("self.{g}()")));
                    }
                }
                Slot::Pad { offset, len } => {
                    let store = unique_field(format!("_pad_{offset}"));
                    let n = lit(u64::from(*len));
                    let u8t = prim("u8");
                    let d = format!("Padding: {len} bytes the C compiler leaves unused.");
                    text_fields.push(text::Field {
                        doc: Some(d),
                        name: store.to_string(),
                        ty: quote!([#u8t; #n]),
                    });
                    offsets.push((store, *offset));
                }
            }
        }
        let mut doc = vec![self.doc_head(id, layout.size, layout.align)];
        if layout.packed {
            doc.push(String::new());
            doc.push("Packed in C: members its layout leaves unaligned are held as bytes, with accessors.".into());
        }
        let repr = self.repr(layout.align, layout.align_attr);
        let derives = self.derives();
        let clone_copy = self.clone_copy(&name);
        let cname = self.c_spelling(id);
        let cname_short = c_short(&cname, &name);
        let debug_impl = self.debug_block(
            super::debug::debug_impl(
                &name_i.to_string(),
                &cname_short,
                &debug,
                self.cfg.tokens_only,
            ),
            debug.len(),
        );
        let methods = &acc.methods;
        let impl_block = if methods.is_empty() {
            quote!()
        } else {
            let allow = accessor_allows();
            quote! {
                #allow
                impl #name_i { #(#methods)* }
            }
        };
        self.layout_check(asserts::check(
            &name_i,
            &name,
            layout.size,
            layout.align,
            &offsets,
            &checks,
            self.cfg.tokens_only,
        ))?;
        let head_text = text::struct_def(
            &doc,
            &repr_text(layout.align, layout.align_attr),
            self.cfg.zerocopy,
            "#[allow(dead_code, non_camel_case_types, non_snake_case)]",
            &name,
            &text_fields,
        )
        .zip(text::default_impl(&name, self.cfg.zerocopy, ZEROED_SAFETY))
        .filter(|_| !self.cfg.tokens_only);
        let head = head_text.map(|(def, default)| [def, default]);
        let accessors = (!methods.is_empty()).then_some(impl_block);
        let tokens = || {
            let fields = text_fields.iter().map(|f| {
                let (n, ty) = (ident(&f.name), &f.ty);
                match &f.doc {
                    Some(d) => quote!(#[doc = #d] pub #n: #ty,),
                    None => quote!(pub #n: #ty,),
                }
            });
            let def = quote! {
                #(#[doc = #doc])*
                #repr
                #derives
                #[allow(dead_code, non_camel_case_types, non_snake_case)]
                pub struct #name_i { #(#fields)* }
            };
            [def, self.default_impl(&name_i)]
        };
        self.put_parts(
            head,
            tokens,
            (&acc, &name, accessors),
            clone_copy,
            debug_impl,
        );
        Ok(TokenStream::new())
    }

    pub(super) fn union_item(&mut self, id: TypeId) -> KResult<TokenStream> {
        let layout = self.layouts.composite(id)?.clone();
        let Kind::Union(c) = &self.ir.get(id).kind else {
            return Err(ErrorKind::ty(id, "internal: not a union"));
        };
        let name = self.item_name(id)?.to_string();
        let name_i = ident(&name);
        let fnames = field_names(&c.members);
        let size = layout.size;
        let n = lit(u64::from(size));
        let u8t = prim("u8");
        let mut acc = Accessors::default();
        let mut debug: Vec<(String, String)> = Vec::new();
        let mut checks = Vec::new();
        let storage = quote!(self._data);
        for (i, m) in c.members.iter().enumerate() {
            let l = m
                .name
                .clone()
                .unwrap_or_else(|| bare(&fnames[i]).to_string());
            let g = acc.unique(fnames[i].clone());
            let s = acc.unique(format!("set_{}", bare(&fnames[i])));
            if let Some(bf) = &layout.bitfields[i] {
                let (m, t) =
                    self.bitfield_accessors(&storage, bf.bit_offset, bf.bits, m.ty, &l, &g, &s)?;
                acc.methods.push(m);
                acc.texts.push(t);
            } else {
                let off = m.bit_offset / 8;
                let msize = u32::try_from(self.ir.size_of(m.ty)?).unwrap_or(u32::MAX);
                let (ret, get, set, text) =
                    self.bytes_access(&storage, off, msize, size, m.ty, &mut checks)?;
                let gd = format!("Reads the union as its C member `{l}`.");
                let sd = format!("Writes C member `{l}` (bytes past its size keep their value).");
                acc.texts
                    .push(text.and_then(|t| t.methods(&gd, &g.to_string(), &sd, &s.to_string())));
                acc.methods.push(quote! {
                    #[doc = #gd]
                    #[inline]
                    pub fn #g(&self) -> #ret { #get }
                    #[doc = #sd]
                    #[inline]
                    pub fn #s(&mut self, value: #ret) { #set }
                });
            }
            debug.push((l.clone(), format!("self.{g}()")));
        }
        let doc = vec![
            self.doc_head(id, size, layout.align),
            String::new(),
            "A C union: its bytes are `_data`; each member is read and written through its accessor.".to_string(),
        ];
        let repr = self.repr(layout.align, layout.align_attr);
        let derives = self.derives();
        let clone_copy = self.clone_copy(&name);
        let cname = self.c_spelling(id);
        let cname_short = c_short(&cname, &name);
        let debug_impl = self.debug_block(
            super::debug::debug_impl(
                &name_i.to_string(),
                &cname_short,
                &debug,
                self.cfg.tokens_only,
            ),
            debug.len(),
        );
        let methods = &acc.methods;
        let d = "The union's bytes.";
        let allow = accessor_allows();
        self.layout_check(asserts::check(
            &name_i,
            &name,
            size,
            layout.align,
            &[],
            &checks,
            self.cfg.tokens_only,
        ))?;
        let head_text = text::struct_def(
            &doc,
            &repr_text(layout.align, layout.align_attr),
            self.cfg.zerocopy,
            "#[allow(dead_code, non_camel_case_types)]",
            &name,
            &[text::Field {
                doc: Some(d.to_string()),
                name: "_data".to_string(),
                ty: quote!([#u8t; #n]),
            }],
        )
        .zip(text::union_default(&name, size))
        .filter(|_| !self.cfg.tokens_only);
        let head = head_text.map(|(def, default)| [def, default]);
        let tokens = || {
            let def = quote! {
                #(#[doc = #doc])*
                #repr
                #derives
                #[allow(dead_code, non_camel_case_types)]
                pub struct #name_i {
                    #[doc = #d]
                    pub _data: [#u8t; #n],
                }
            };
            let default = quote! {
                #[allow(clippy::derivable_impls)]
                impl ::core::default::Default for #name_i {
                    fn default() -> Self { Self { _data: [0; #n] } }
                }
            };
            [def, default]
        };
        let impl_block = quote! {
            #allow
            impl #name_i {
                #(#methods)*
            }
        };
        self.put_parts(
            head,
            tokens,
            (&acc, &name, Some(impl_block)),
            clone_copy,
            debug_impl,
        );
        Ok(TokenStream::new())
    }

    pub(super) fn enum_item(&mut self, id: TypeId) -> KResult<TokenStream> {
        let Kind::Enum(e) = &self.ir.get(id).kind else {
            return Err(ErrorKind::ty(id, "internal: not an enum"));
        };
        let name = self.item_name(id)?.to_string();
        let bits = e.size * 8;
        // (doc, Rust name, value) of each constant; (value, C name) of each value's
        // first name, which `Debug` prints.
        let mut consts: Vec<(String, String, String)> = Vec::new();
        let mut arms: Vec<(String, String)> = Vec::new();
        let mut seen_vals = HashSet::new();
        let mut used = HashSet::new();
        for (cname, raw) in &e.values {
            let v = fit(*raw, bits, e.signed).ok_or_else(|| {
                ErrorKind::ty(
                    id,
                    format!(
                        "enumerator `{cname}` = {raw:#x} does not fit the enum's {} bytes",
                        e.size
                    ),
                )
            })?;
            let mut rust = crate::naming::ident(cname);
            while !used.insert(bare(&rust).to_string()) {
                rust.push('_');
            }
            let vtext = if e.signed {
                (v as i64).to_string()
            } else {
                v.to_string()
            };
            consts.push((format!("C `{cname}` = {vtext}"), rust, vtext.clone()));
            if seen_vals.insert(v) {
                // BTF names are C identifiers; whitespace would split `Debug`'s list.
                arms.push((vtext, cname.replace(char::is_whitespace, "_")));
            }
        }
        let align_note = if e.size == 8 {
            " (`repr(C, align(8))`: 8-aligned on every host)"
        } else {
            ""
        };
        let doc = [
            format!(
                "C `{}` (BTF type id {id}): {} bytes, {}{align_note}.",
                self.c_spelling(id),
                e.size,
                if e.signed { "signed" } else { "unsigned" },
            ),
            String::new(),
            "An integer newtype, not a Rust `enum`: the kernel's bytes may hold any value."
                .to_string(),
            "Known values are associated constants.".to_string(),
        ];
        let cname_short = c_short(&self.c_spelling(id), &name);
        let name_i = ident(&name);
        self.layout_check(asserts::check(
            &name_i,
            &name,
            e.size,
            e.size,
            &[],
            &[],
            self.cfg.tokens_only,
        ))?;
        let repr_text = if e.size == 8 {
            "#[repr(C, align(8))]"
        } else {
            "#[repr(transparent)]"
        };
        let int = int_name(e.size, e.signed);
        let shape = text::Enum {
            docs: &doc,
            repr: repr_text,
            zerocopy: self.cfg.zerocopy,
            name: &name,
            int,
            consts: &consts,
            arms: &arms,
            label: &cname_short,
        };
        self.uses_variant = true;
        if let Some(t) = text::enum_item(&shape).filter(|_| !self.cfg.tokens_only) {
            self.put(asserts::Block::Text(t));
            return Ok(TokenStream::new());
        }
        // The same item through prettyplease (a line too long, a name needing escapes).
        let repr: TokenStream = repr_text.parse().unwrap_or_default();
        let repr_ty = prim(int);
        let zc = if self.cfg.zerocopy {
            quote!(#[derive(::zerocopy::FromBytes, ::zerocopy::IntoBytes, ::zerocopy::KnownLayout, ::zerocopy::Immutable)])
        } else {
            quote!()
        };
        let num = |v: &str| -> TokenStream { v.parse().unwrap_or_default() };
        let cs = consts.iter().map(|(d, r, v)| {
            let (c, v) = (ident(r), num(v));
            quote!(#[doc = #d] pub const #c: Self = Self(#v);)
        });
        let values = arms.iter().map(|(v, _)| num(v));
        let names = arms
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(quote! {
            #(#[doc = #doc])*
            #repr
            #[derive(PartialEq)]
            #zc
            #[allow(dead_code, non_camel_case_types)]
            pub struct #name_i(pub #repr_ty);

            #[allow(dead_code, non_upper_case_globals)]
            impl #name_i { #(#cs)* }

            impl ::core::cmp::Eq for #name_i {}
            impl ::core::clone::Clone for #name_i {
                #[inline]
                fn clone(&self) -> Self { *self }
            }
            impl ::core::marker::Copy for #name_i {}
            #[allow(clippy::derivable_impls)]
            impl ::core::default::Default for #name_i {
                #[inline]
                fn default() -> Self { Self(0) }
            }
            impl ::core::fmt::Debug for #name_i {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    __bpfgen_fmt::variant(
                        f,
                        #cname_short,
                        &self.0,
                        ::core::primitive::i128::from(self.0),
                        #names,
                        &[#(#values),*],
                    )
                }
            }
        })
    }

    pub(super) fn typedef_item(&mut self, id: TypeId, target: TypeId) -> KResult<TokenStream> {
        let name = self.item_name(id)?.to_string();
        let name_i = ident(&name);
        let ty = self.rust_ty(target)?;
        let doc = format!("C `{}` (BTF type id {id}).", self.c_spelling(id));
        if let Some(t) = text::typedef_item(&doc, &name, &ty).filter(|_| !self.cfg.tokens_only) {
            self.put(asserts::Block::Text(t));
            return Ok(TokenStream::new());
        }
        Ok(quote! {
            #[doc = #doc]
            #[allow(dead_code, non_camel_case_types)]
            pub type #name_i = #ty;
        })
    }

    pub(super) fn opaque_item(&mut self, id: TypeId) -> TokenStream {
        let name = self.names.item(id).unwrap_or("_").to_string();
        let name_i = ident(&name);
        let doc = format!(
            "C `{}` (BTF type id {id}): only declared, never defined, in the BTF. Opaque: use it behind pointers (which are `u64` here).",
            self.c_spelling(id)
        );
        let derives = self.derives();
        let clone_copy = self.clone_copy(&name);
        let u8t = prim("u8");
        self.put(asserts::Block::Tokens(quote! {
            #[doc = #doc]
            #[repr(C)]
            #derives
            #[derive(Debug, Default)]
            #[allow(dead_code, non_camel_case_types)]
            pub struct #name_i { _opaque: [#u8t; 0] }
        }));
        self.put(clone_copy);
        TokenStream::new()
    }
}

/// The lints an impl of accessors opts out of. Accessor names are C member names
/// (`len()`, `new()`, `clone()`, `into_x()`, `set_x()`), so clippy's method-naming
/// conventions cannot be followed: `len` without `is_empty`, `new` taking `self` and
/// not returning `Self`, a `clone` that is not `Clone::clone`, `to_*`/`into_*`/`from_*`
/// taking `&self` (with `avoid-breaking-exported-api = false`). `identity_op`: offsets
/// of 0 in the accessor bodies.
/// [`accessor_allows`] as prettyplease prints it.
const ACCESSOR_ALLOWS_TEXT: &str = "#[allow(\n    dead_code,\n    non_snake_case,\n    clippy::identity_op,\n    clippy::len_without_is_empty,\n    clippy::new_ret_no_self,\n    clippy::should_implement_trait,\n    clippy::wrong_self_convention\n)]\n";

fn accessor_allows() -> TokenStream {
    quote! {
        #[allow(
            dead_code,
            non_snake_case,
            clippy::identity_op,
            clippy::len_without_is_empty,
            clippy::new_ret_no_self,
            clippy::should_implement_trait,
            clippy::wrong_self_convention
        )]
    }
}

/// `struct foo` → `foo` for Debug output of named types; anonymous ones use the Rust name.
fn c_short(c: &str, rust: &str) -> String {
    if c.starts_with("anonymous") {
        bare(rust).to_string()
    } else {
        c.split_whitespace().last().unwrap_or(rust).to_string()
    }
}

/// `raw` as the `bits`-wide value of an enum, if it fits.
fn fit(raw: u64, bits: u32, signed: bool) -> Option<u64> {
    if bits >= 64 {
        return Some(raw);
    }
    let mask = (1u64 << bits) - 1;
    if signed {
        let v = raw as i64;
        let (min, max) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
        if (min..=max).contains(&v) {
            Some(v as u64)
        } else if raw <= mask {
            // Stored zero-extended: reinterpret the low bits.
            let shift = 64 - bits;
            Some((((raw << shift) as i64) >> shift) as u64)
        } else {
            None
        }
    } else if raw <= mask {
        Some(raw)
    } else if (raw as i64) < 0 && (raw as i64) >= -(1i64 << (bits - 1)) {
        // A negative value in an enum BTF calls unsigned (older BTF): keep its bits.
        Some(raw & mask)
    } else {
        None
    }
}
