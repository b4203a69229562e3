//! `pub mod aya_glue` (`--aya`): `aya::Pod` for the generated types, a typed aya
//! handle per map, readers and writers of the data sections, and setters of globals
//! through `EbpfLoader::override_global`. Written for aya 0.14.

use proc_macro2::TokenStream;
use quote::quote;

use super::globals::struct_names;
use super::maps::module_names;
use super::{ident, lit, prim, Emitter};
use crate::error::KResult;
use crate::globals::{Globals, SectionKind};
use crate::ir::{Kind, TypeId};
use crate::layout::Slot;
use crate::maps::{map_type as mt, MapSpec};
use crate::naming::bare;

impl Emitter<'_> {
    /// The glue module. `items`: the generated items (for `Pod`); `skeleton`: the
    /// maps and globals, when emitted; `embedded`: whether `OBJECT` exists.
    pub(super) fn aya_module(
        &mut self,
        items: &[TypeId],
        skeleton: Option<(&[MapSpec], &Globals)>,
        embedded: bool,
    ) -> KResult<String> {
        let mut pods = Vec::new();
        for &id in items {
            let Some(name) = self.names.item(id) else {
                continue;
            };
            let what = match &self.ir.get(id).kind {
                Kind::Struct(_) | Kind::Union(_) => "is `repr(C)` with no implicit padding (every byte is a field, asserted at compile time) and holds only integers, floats and byte arrays (or generated types made of them)",
                Kind::Enum(_) => "is a `repr(transparent)` (or `repr(C, align(8))`) newtype of an integer",
                _ => continue,
            };
            let i = ident(name);
            let s = self.safety_item(format!(
                "`{}` {what}, so every bit pattern is a valid value and all its bytes are initialised.",
                bare(name)
            ));
            pods.push(quote!(#s unsafe impl ::aya::Pod for super::#i {}));
        }
        // Each map's module is formatted on its own and spliced in (as in `maps`).
        let mut maps = String::new();
        let mut sections = Vec::new();
        if let Some((specs, globals)) = skeleton {
            let names = module_names(specs);
            for (m, name) in specs.iter().zip(&names) {
                if let Some(t) = self.aya_map(m, name)? {
                    maps.push_str(&super::format_inner(t, &self.safety_msgs.borrow())?);
                }
            }
            let snames = struct_names(globals);
            for (sec, sname) in globals.sections.iter().zip(&snames) {
                let Some(sname) = sname else { continue };
                let si = ident(sname);
                let s = self.safety_item(format!(
                    "`globals::{}` has no implicit padding and holds only integers, floats and byte arrays (or generated types made of them), so every bit pattern is a valid value and all its bytes are initialised.",
                    bare(sname)
                ));
                pods.push(quote!(#s unsafe impl ::aya::Pod for super::globals::#si {}));
                let n = lit(sec.size);
                let secname = &sec.name;
                let u8t = prim("u8");
                let read = ident(&format!("read_{}", bare(sname)));
                let rd = format!(
                    "Reads section `{secname}` of a loaded object (a lookup of aya's map `{secname}`)."
                );
                sections.push(quote! {
                    #[doc = #rd]
                    pub fn #read(ebpf: &::aya::Ebpf) -> ::core::result::Result<super::globals::#si, Error> {
                        let map = ebpf.map(#secname).ok_or(Error::NotFound(#secname))?;
                        let array = ::aya::maps::Array::<&::aya::maps::MapData, [#u8t; #n]>::try_from(map)?;
                        ::core::result::Result::Ok(super::globals::#si::from_section_bytes(&array.get(&0, 0)?))
                    }
                });
                if sec.kind != SectionKind::Rodata {
                    let write = ident(&format!("write_{}", bare(sname)));
                    let wd = format!(
                        "Writes section `{secname}` of a loaded object (an update of aya's map `{secname}`); programs see the new values from their next run."
                    );
                    sections.push(quote! {
                        #[doc = #wd]
                        pub fn #write(ebpf: &mut ::aya::Ebpf, value: &super::globals::#si) -> ::core::result::Result<(), Error> {
                            let map = ebpf.map_mut(#secname).ok_or(Error::NotFound(#secname))?;
                            let mut array = ::aya::maps::Array::<&mut ::aya::maps::MapData, [#u8t; #n]>::try_from(map)?;
                            array.set(0, value.to_section_bytes(), 0)?;
                            ::core::result::Result::Ok(())
                        }
                    });
                }
                for v in &sec.vars {
                    if v.is_static {
                        continue;
                    }
                    let set = ident(&format!(
                        "override_{}",
                        bare(&crate::naming::ident(&v.name))
                    ));
                    let ty = self.rust_ty_in(v.ty, &quote!(super::))?;
                    let vn = &v.name;
                    let d = [
                        format!(
                            "Sets global `{vn}` (section `{secname}`) to `value` when `loader` loads the object (`EbpfLoader::override_global`, must exist)."
                        ),
                        if sec.kind == SectionKind::Rodata {
                            "A `volatile const` knob: programs cannot change it once loaded, and the verifier sees the value.".to_string()
                        } else {
                            "The object's initial value is replaced before the section's map is created.".to_string()
                        },
                    ];
                    sections.push(quote! {
                        #(#[doc = #d])*
                        pub fn #set<'a, 'l>(loader: &'l mut ::aya::EbpfLoader<'a>, value: &'a #ty) -> &'l mut ::aya::EbpfLoader<'a> {
                            loader.override_global(#vn, value, true)
                        }
                    });
                }
            }
        }
        let load = if embedded {
            quote! {
                /// Loads the embedded object (`OBJECT`) with aya's defaults.
                pub fn load() -> ::core::result::Result<::aya::Ebpf, ::aya::EbpfError> {
                    ::aya::Ebpf::load(super::OBJECT)
                }
            }
        } else {
            quote!()
        };
        let doc = [
            format!(
                "Glue for the aya loader (aya 0.14): `aya::Pod` for the generated types, a typed handle per map of `{}`, and the data sections' readers, writers and setters.",
                self.cfg.source
            ),
            String::new(),
            "Each map's module has `Handle<T>` (aya's typed map, with the generated key and value types) and `get` / `get_mut` / `take`, which find the map by name in a loaded `aya::Ebpf`.".to_string(),
        ];
        let strt = prim("str");
        let mark = super::splice_mark();
        let outer = quote! {
            #(#[doc = #doc])*
            #[allow(dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals, clippy::module_inception)]
            pub mod aya_glue {
                /// Why a typed handle could not be made.
                #[derive(Debug)]
                pub enum Error {
                    /// The loaded object has no map of this name (or it was taken).
                    NotFound(&'static #strt),
                    /// aya refused the handle or the operation.
                    Map(::aya::maps::MapError),
                }

                impl ::core::fmt::Display for Error {
                    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        match self {
                            Error::NotFound(name) => ::core::write!(f, "the loaded object has no map `{}` (taken already?)", name),
                            Error::Map(e) => ::core::fmt::Display::fmt(e, f),
                        }
                    }
                }

                impl ::core::error::Error for Error {
                    fn source(&self) -> ::core::option::Option<&(dyn ::core::error::Error + 'static)> {
                        match self {
                            Error::NotFound(_) => ::core::option::Option::None,
                            Error::Map(e) => ::core::option::Option::Some(e),
                        }
                    }
                }

                impl ::core::convert::From<::aya::maps::MapError> for Error {
                    fn from(e: ::aya::maps::MapError) -> Self {
                        Error::Map(e)
                    }
                }

                #(#pods)*

                #load

                #(#sections)*

                #mark
            }
        };
        let msgs = std::mem::take(&mut *self.safety_msgs.borrow_mut());
        super::splice(&super::format_tokens(outer, &msgs)?, &maps)
    }

    /// aya's handle type for a map, with `T` as its data parameter; `None` when aya
    /// has no typed handle for it or its key/value types are unknown.
    /// `to_map`: path of the map's module in `maps`.
    fn aya_handle(
        &self,
        m: &MapSpec,
        to_map: &TokenStream,
    ) -> Option<(TokenStream, Option<TokenStream>)> {
        let k = quote!(#to_map Key);
        let v = quote!(#to_map Value);
        let has_k = m.key.is_some();
        let has_v = m.value.is_some();
        let a = quote!(::aya::maps);
        let ty = match m.map_type {
            mt::HASH | mt::LRU_HASH if has_k && has_v => quote!(#a::HashMap<T, #k, #v>),
            mt::PERCPU_HASH | mt::LRU_PERCPU_HASH if has_k && has_v => {
                quote!(#a::PerCpuHashMap<T, #k, #v>)
            }
            mt::ARRAY if has_v && m.key_size == 4 => quote!(#a::Array<T, #v>),
            mt::PERCPU_ARRAY if has_v && m.key_size == 4 => quote!(#a::PerCpuArray<T, #v>),
            mt::LPM_TRIE if has_k && has_v && m.key_size > 4 => {
                quote!(#a::LpmTrie<T, Data, #v>)
            }
            mt::QUEUE if has_v => quote!(#a::Queue<T, #v>),
            mt::STACK if has_v => quote!(#a::Stack<T, #v>),
            mt::BLOOM_FILTER if has_v => quote!(#a::BloomFilter<T, #v>),
            mt::SK_STORAGE if has_v => quote!(#a::SkStorage<T, #v>),
            mt::RINGBUF => quote!(#a::RingBuf<T>),
            mt::PERF_EVENT_ARRAY => quote!(#a::PerfEventArray<T>),
            mt::PROG_ARRAY => quote!(#a::ProgramArray<T>),
            mt::STACK_TRACE => quote!(#a::StackTraceMap<T>),
            mt::ARRAY_OF_MAPS if m.key_size == 4 => {
                let inner = self.inner_handle(m, to_map);
                quote!(#a::ArrayOfMaps<T, #inner>)
            }
            mt::HASH_OF_MAPS if has_k => {
                let inner = self.inner_handle(m, to_map);
                quote!(#a::HashOfMaps<T, #k, #inner>)
            }
            _ => return None,
        };
        let creatable = matches!(
            m.map_type,
            mt::ARRAY | mt::PERCPU_ARRAY | mt::HASH | mt::PERCPU_HASH | mt::QUEUE | mt::STACK
        ) || (m.map_type == mt::LPM_TRIE && ty.to_string().contains("LpmTrie"));
        Some((ty, creatable.then(|| quote!(create))))
    }

    /// The handle type of the inner maps of a map of maps (`MapData` when aya has
    /// no typed inner handle for it).
    fn inner_handle(&self, m: &MapSpec, to_map: &TokenStream) -> TokenStream {
        let a = quote!(::aya::maps);
        let Some(inner) = &m.inner else {
            return quote!(#a::MapData);
        };
        let to_inner = quote!(#to_map inner::);
        match self.aya_handle(inner, &to_inner) {
            Some((ty, _))
                if matches!(
                    inner.map_type,
                    mt::HASH
                        | mt::ARRAY
                        | mt::PERCPU_ARRAY
                        | mt::PERCPU_HASH
                        | mt::LRU_HASH
                        | mt::LRU_PERCPU_HASH
                        | mt::QUEUE
                        | mt::STACK
                        | mt::BLOOM_FILTER
                ) =>
            {
                // T = MapData: the inner map is owned by its handle.
                substitute_t(ty, quote!(#a::MapData))
            }
            _ => quote!(#a::MapData),
        }
    }

    fn aya_map(&mut self, m: &MapSpec, module: &str) -> KResult<Option<TokenStream>> {
        let mi = ident(module);
        let to_map = quote!(super::super::maps::#mi::);
        let Some((handle, creatable)) = self.aya_handle(m, &to_map) else {
            return Ok(None);
        };
        let name = &m.name;
        let tname = mt::name(m.map_type).unwrap_or("?");
        let mut extra = Vec::new();
        if m.map_type == mt::LPM_TRIE {
            extra.push(self.lpm_data(m, &to_map)?);
        }
        if let Some(inner) = &m.inner {
            if let Some((ih, icreate)) =
                self.aya_handle(inner, &quote!(super::super::super::maps::#mi::inner::))
            {
                let ih = substitute_t(ih, quote!(T));
                let d = format!(
                    "aya's handle for the inner maps of `{name}`: `{}` with the generated types.",
                    mt::name(inner.map_type).unwrap_or("?")
                );
                let create = if icreate.is_some() {
                    let cd = format!(
                        "Creates an inner map for `{name}` as its definition says (`maps::{}::inner::DEF`: max_entries and flags).",
                        bare(module)
                    );
                    quote! {
                        #[doc = #cd]
                        pub fn create() -> ::core::result::Result<Handle<::aya::maps::MapData>, ::aya::maps::MapError> {
                            Handle::create(super::super::super::maps::#mi::inner::DEF.max_entries, super::super::super::maps::#mi::inner::DEF.map_flags)
                        }
                    }
                } else {
                    quote!()
                };
                extra.push(quote! {
                    /// The inner maps.
                    pub mod inner {
                        #[doc = #d]
                        pub type Handle<T> = #ih;
                        #create
                    }
                });
            }
        }
        let hd = format!(
            "aya's handle for map `{name}` (`{tname}`), typed with the generated key and value types."
        );
        let gd = format!("Borrows map `{name}` of a loaded object.");
        let md = format!("Borrows map `{name}` of a loaded object mutably.");
        let td = format!(
            "Takes map `{name}` out of a loaded object (it is closed when the handle drops)."
        );
        let create = match creatable {
            Some(_) if m.inner.is_none() => {
                let cd = format!(
                    "Creates a stand-alone map like `{name}` (its definition's max_entries and flags; aya names it itself)."
                );
                quote! {
                    #[doc = #cd]
                    pub fn create() -> ::core::result::Result<Handle<::aya::maps::MapData>, ::aya::maps::MapError> {
                        Handle::create(#to_map DEF.max_entries, #to_map DEF.map_flags)
                    }
                }
            }
            _ => quote!(),
        };
        Ok(Some(quote! {
            #[doc = #hd]
            pub mod #mi {
                #[doc = #hd]
                pub type Handle<T> = #handle;

                #[doc = #gd]
                pub fn get(ebpf: &::aya::Ebpf) -> ::core::result::Result<Handle<&::aya::maps::MapData>, super::Error> {
                    let map = ebpf.map(#name).ok_or(super::Error::NotFound(#name))?;
                    ::core::result::Result::Ok(::core::convert::TryFrom::try_from(map)?)
                }

                #[doc = #md]
                pub fn get_mut(ebpf: &mut ::aya::Ebpf) -> ::core::result::Result<Handle<&mut ::aya::maps::MapData>, super::Error> {
                    let map = ebpf.map_mut(#name).ok_or(super::Error::NotFound(#name))?;
                    ::core::result::Result::Ok(::core::convert::TryFrom::try_from(map)?)
                }

                #[doc = #td]
                pub fn take(ebpf: &mut ::aya::Ebpf) -> ::core::result::Result<Handle<::aya::maps::MapData>, super::Error> {
                    let map = ebpf.take_map(#name).ok_or(super::Error::NotFound(#name))?;
                    ::core::result::Result::Ok(::core::convert::TryFrom::try_from(map)?)
                }

                #create

                #(#extra)*
            }
        }))
    }

    /// `Data` (aya's LPM key holds the prefix length and then `Data`) and `key()`.
    fn lpm_data(&mut self, m: &MapSpec, to_map: &TokenStream) -> KResult<TokenStream> {
        let data_len = m.key_size.saturating_sub(4);
        // A key struct `{ u32 prefixlen; T data; }` with `data` at offset 4 filling the
        // rest: `Data` is T and `key()` reads the two fields.
        if let Some(k) = m.key {
            let s = self.ir.strip(k)?;
            if let Kind::Struct(c) = &self.ir.get(s).kind {
                let l = self.layouts.composite(s)?.clone();
                let fields: Vec<(usize, u32, u32)> = l
                    .slots
                    .iter()
                    .filter_map(|sl| match sl {
                        Slot::Field {
                            member,
                            offset,
                            size,
                        } => Some((*member, *offset, *size)),
                        _ => None,
                    })
                    .collect();
                if l.slots.len() == 2
                    && fields.len() == 2
                    && fields[0].1 == 0
                    && fields[0].2 == 4
                    && matches!(&self.ir.get(self.ir.strip(c.members[fields[0].0].ty)?).kind, Kind::Int(i) if i.size == 4)
                    && fields[1].1 == 4
                    && fields[1].2 == data_len
                {
                    let signed = matches!(&self.ir.get(self.ir.strip(c.members[fields[0].0].ty)?).kind, Kind::Int(i) if i.signed);
                    let fnames = crate::naming::field_names(&c.members);
                    let (p, d) = (ident(&fnames[fields[0].0]), ident(&fnames[fields[1].0]));
                    let data_ty =
                        self.rust_ty_in(c.members[fields[1].0].ty, &quote!(super::super::))?;
                    let prefix = if signed {
                        quote!(key.#p as ::core::primitive::u32)
                    } else {
                        quote!(key.#p)
                    };
                    let doc = format!(
                        "aya's LPM key for a key of map `{}`: its prefix length and its data.",
                        m.name
                    );
                    return Ok(quote! {
                        /// The data after the prefix length in the map's key (aya's `lpm_trie::Key<Data>`).
                        pub type Data = #data_ty;

                        #[doc = #doc]
                        pub fn key(key: &#to_map Key) -> ::aya::maps::lpm_trie::Key<Data> {
                            ::aya::maps::lpm_trie::Key::new(#prefix, key.#d)
                        }
                    });
                }
            }
        }
        let n = lit(u64::from(data_len));
        let u8t = prim("u8");
        Ok(quote! {
            /// The bytes after the prefix length in the map's key (aya's `lpm_trie::Key<Data>`).
            pub type Data = [#u8t; #n];
        })
    }
}

/// Replaces the generic parameter `T` (the first token `T` at depth 0 of the
/// handle's generics) with `with`.
fn substitute_t(ty: TokenStream, with: TokenStream) -> TokenStream {
    use proc_macro2::TokenTree;
    let mut out = TokenStream::new();
    let mut done = false;
    for tt in ty {
        match &tt {
            TokenTree::Ident(i) if !done && i == "T" => {
                out.extend(with.clone());
                done = true;
            }
            _ => out.extend(std::iter::once(tt)),
        }
    }
    out
}
