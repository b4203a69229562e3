//! `pub mod maps`: a loader-neutral description of every BTF-defined map of the
//! object, one module per map (`Key`, `Value`, `DEF`) and `ALL`.

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::quote;

use super::{ident, lit, prim, Emitter};
use crate::error::KResult;
use crate::ir::{Kind, TypeId};
use crate::maps::{map_type, MapSpec};
use crate::naming::bare;

/// Names the `maps` module defines in the type namespace (a map module of the
/// same name gets `_map` appended).
const RESERVED: &[&str] = &["MapType", "MapDef", "Pinning"];

/// The module name of each map (C name as an identifier, unique, clear of
/// [`RESERVED`]); shared with the aya glue.
pub(crate) fn module_names(maps: &[MapSpec]) -> Vec<String> {
    let mut used: HashSet<String> = RESERVED.iter().map(|s| s.to_string()).collect();
    used.insert("Error".into()); // the aya glue's error type
    maps.iter()
        .map(|m| {
            let mut n = crate::naming::ident(&m.name);
            if used.contains(bare(&n)) {
                n = format!("{}_map", bare(&n));
            }
            while !used.insert(bare(&n).to_string()) {
                n.push('_');
            }
            n
        })
        .collect()
}

/// How to read a ring-buffer or perf-buffer record: the map does not name its type.
const RECORDS: &str = "Its records have no type in the map's definition: decode each as the C record type the program writes, e.g. `event::ref_from_bytes(bytes)` (zerocopy's `FromBytes`; ring-buffer records are 8-aligned) or `event::read_from_bytes(bytes)` (a copy, any alignment). If that type is missing from this file, the object's BTF does not hold it: clang writes BTF only for types reached from globals, maps, function signatures and CO-RE relocations, so anchor it with a global in the C source (`struct event _event = {};`) and rebuild.";

/// `super::` repeated `n` times.
pub(crate) fn supers(n: usize) -> TokenStream {
    let s = (0..n).map(|_| quote!(super::));
    quote!(#(#s)*)
}

/// A C spelling of a type, for docs (`struct mp_key`, `__u32`, `__u8[4]`).
pub(crate) fn c_type(e: &Emitter<'_>, ty: TypeId) -> String {
    let ir = e.ir;
    let mut id = ty;
    let mut dims = String::new();
    for _ in 0..=ir.types.len() {
        let t = ir.get(id);
        match &t.kind {
            Kind::Qual { target } => id = *target,
            Kind::Array { elem, len } => {
                dims.push_str(&format!("[{len}]"));
                id = *elem;
            }
            Kind::Struct(_) | Kind::Union(_) | Kind::Enum(_) | Kind::Fwd { .. }
                if t.name.is_none() =>
            {
                return format!("{}{dims}", e.c_spelling(id));
            }
            _ => return format!("{}{dims}", crate::maps::c_name(ir, id)),
        }
    }
    "?".into()
}

impl Emitter<'_> {
    /// The formatted `maps` module: its fixed items as one token tree, each map's module
    /// formatted on its own and spliced in (20,000 maps once held 1 GB of tokens).
    pub(super) fn maps_module(&mut self, maps: &[MapSpec]) -> KResult<String> {
        let names = module_names(maps);
        let mut modules = String::new();
        let mut all = Vec::new();
        for (m, name) in maps.iter().zip(&names) {
            let t = self.map_module(m, name, 2, None)?;
            modules.push_str(&super::format_inner(t, &self.safety_msgs.borrow())?);
            let i = ident(name);
            all.push(quote!(#i::DEF));
        }
        let mark = super::splice_mark();
        let u32t = prim("u32");
        let u64t = prim("u64");
        let usize_t = prim("usize");
        let boolt = prim("bool");
        let strt = prim("str");
        let mut type_consts = Vec::new();
        let mut name_arms = Vec::new();
        for (v, n) in map_type::NAMES.iter().enumerate() {
            let i = ident(n);
            let l = lit(v as u64);
            let d = format!("`{n}` = {v}");
            type_consts.push(quote!(#[doc = #d] pub const #i: Self = Self(#l);));
            name_arms.push(quote!(#l => ::core::option::Option::Some(#n),));
        }
        let doc = format!(
            "The maps of `{}`: its BTF-defined maps (section `.maps`), loader-neutral. One module per map, named after it, with its `Key` and `Value` types (the generated types of its C key and value) and its definition `DEF`; `ALL` lists every definition.",
            self.cfg.source
        );
        let percpu_doc = [
            "The size of a per-CPU map's value as user space reads and writes it: the kernel lays one value per *possible* CPU (`/sys/devices/system/cpu/possible`, not only the online ones) in one buffer, each `round_up(value_size, 8)` bytes after the previous one:",
            "",
            "`round_up(value_size, 8) * possible_cpus`",
            "",
            "`value_size` is the size of one CPU's value (`DEF.value_size`, `size_of::<Value>()`). aya's `PerCpuValues` and libbpf's `bpf_map_lookup_elem` on per-CPU maps use this layout.",
        ];
        let outer = quote! {
            #[doc = #doc]
            #[allow(dead_code, non_snake_case, non_camel_case_types, non_upper_case_globals, clippy::module_inception)]
            pub mod maps {
                /// A kernel map type: `enum bpf_map_type` of `<linux/bpf.h>` (values 32 and 33 are from newer kernels).
                ///
                /// A newtype, not a Rust `enum`: a kernel may report types this list does not know.
                #[repr(transparent)]
                #[derive(Clone, Copy, PartialEq, Eq, Hash)]
                pub struct MapType(pub #u32t);

                impl MapType {
                    #(#type_consts)*

                    /// The kernel's name of this map type, when known.
                    pub const fn name(self) -> ::core::option::Option<&'static #strt> {
                        match self.0 {
                            #(#name_arms)*
                            _ => ::core::option::Option::None,
                        }
                    }

                    /// Whether a lookup from user space returns one value per possible CPU (see [`percpu_value_size`]).
                    pub const fn is_per_cpu(self) -> #boolt {
                        matches!(self.0, 5 | 6 | 10 | 21)
                    }
                }

                impl ::core::fmt::Debug for MapType {
                    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        match self.name() {
                            ::core::option::Option::Some(name) => f.write_str(name),
                            ::core::option::Option::None => f.debug_tuple("MapType").field(&self.0).finish(),
                        }
                    }
                }

                /// How libbpf pins a map (`__uint(pinning, …)`; aya reads it too).
                #[repr(transparent)]
                #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
                pub struct Pinning(pub #u32t);

                impl Pinning {
                    /// `LIBBPF_PIN_NONE` = 0: not pinned.
                    pub const LIBBPF_PIN_NONE: Self = Self(0);
                    /// `LIBBPF_PIN_BY_NAME` = 1: pinned as `<pin root>/<map name>` (libbpf's root is `/sys/fs/bpf`).
                    pub const LIBBPF_PIN_BY_NAME: Self = Self(1);
                }

                /// A map as the object defines it: what a loader passes to the kernel to create it.
                ///
                /// Loaders still adjust two cases when they create the map: a ring buffer's `max_entries` is rounded up to a multiple of the page size, and a perf event array with `max_entries` 0 gets the number of possible CPUs (libbpf and aya; aya also lowers a larger value to that number).
                #[derive(Clone, Copy, Debug, PartialEq, Eq)]
                pub struct MapDef {
                    /// The map's name: its C variable (inner definitions: `OUTER.inner`). libbpf and aya create the map under this name.
                    pub name: &'static #strt,
                    pub map_type: MapType,
                    /// Bytes of a key (0: the map has no key).
                    pub key_size: #u32t,
                    /// Bytes of a value; of one CPU's value for per-CPU maps (see [`percpu_value_size`]); 4 (a file descriptor) for maps of maps and program arrays.
                    pub value_size: #u32t,
                    pub max_entries: #u32t,
                    /// `map_flags` (`BPF_F_*` of `<linux/bpf.h>`, e.g. `BPF_F_NO_PREALLOC` = 1).
                    pub map_flags: #u32t,
                    pub numa_node: #u32t,
                    /// `map_extra` (a bloom filter's number of hash functions, …).
                    pub map_extra: #u64t,
                    pub pinning: Pinning,
                    /// The C key type, when the map declares one (`__type(key, …)`); its Rust type is the map module's `Key`.
                    pub c_key_type: ::core::option::Option<&'static #strt>,
                    /// The C value type, when the map declares one (`__type(value, …)`); its Rust type is the map module's `Value`.
                    pub c_value_type: ::core::option::Option<&'static #strt>,
                    /// The inner map definition of a map of maps (`__array(values, struct { … })`): the template every inner map must match.
                    pub inner: ::core::option::Option<&'static MapDef>,
                }

                impl MapDef {
                    /// Bytes of a value buffer in user space: `value_size`, or for a per-CPU map [`percpu_value_size`]`(value_size, possible_cpus)`.
                    pub const fn value_buffer_size(&self, possible_cpus: #usize_t) -> #usize_t {
                        if self.map_type.is_per_cpu() {
                            percpu_value_size(self.value_size as #usize_t, possible_cpus)
                        } else {
                            self.value_size as #usize_t
                        }
                    }
                }

                #(#[doc = #percpu_doc])*
                pub const fn percpu_value_size(value_size: #usize_t, possible_cpus: #usize_t) -> #usize_t {
                    value_size.div_ceil(8) * 8 * possible_cpus
                }

                #mark

                /// Every map of the object, in the order of the `.maps` section.
                pub const ALL: &[MapDef] = &[#(#all),*];
            }
        };
        let msgs = std::mem::take(&mut *self.safety_msgs.borrow_mut());
        super::splice(&super::format_tokens(outer, &msgs)?, &modules)
    }

    /// One map's module; `depth` is how many `super::` reach the file's items.
    fn map_module(
        &mut self,
        m: &MapSpec,
        module: &str,
        depth: usize,
        outer: Option<&str>,
    ) -> KResult<TokenStream> {
        let to_file = supers(depth);
        let to_maps = supers(depth - 1);
        let mi = ident(module);
        let tname = map_type::name(m.map_type);
        let percpu = map_type::is_percpu(m.map_type);
        let mut items = Vec::new();
        let mut checks = Vec::new();
        let what = match outer {
            Some(o) => format!("the inner map definition of map `{o}`"),
            None => format!("map `{}`", m.name),
        };
        let mut c_key = quote!(::core::option::Option::None);
        let mut c_value = quote!(::core::option::Option::None);
        if let Some(k) = m.key {
            let ty = self.rust_ty_in(k, &to_file)?;
            let ct = c_type(self, k);
            let d = format!("The key: C `{ct}` ({} bytes).", m.key_size);
            items.push(quote!(#[doc = #d] pub type Key = #ty;));
            let n = lit(u64::from(m.key_size));
            let msg = format!(
                "bpfgen: the key of {what} differs from its definition ({} bytes)",
                m.key_size
            );
            checks.push(quote!(if ::core::mem::size_of::<Key>() != #n { ::core::panic!(#msg) }));
            c_key = quote!(::core::option::Option::Some(#ct));
        }
        if let Some(v) = m.value {
            let ty = self.rust_ty_in(v, &to_file)?;
            let ct = c_type(self, v);
            let mut d = vec![format!("The value: C `{ct}` ({} bytes).", m.value_size)];
            if percpu {
                d.push(String::new());
                d.push(format!(
                    "A per-CPU map: this is one CPU's value. User space reads and writes all CPUs' values at once, each {} bytes after the previous one: `percpu_value_size({}, possible_cpus)` bytes in all.",
                    u64::from(m.value_size).div_ceil(8) * 8,
                    m.value_size
                ));
            }
            items.push(quote!(#(#[doc = #d])* pub type Value = #ty;));
            let n = lit(u64::from(m.value_size));
            let msg = format!(
                "bpfgen: the value of {what} differs from its definition ({} bytes)",
                m.value_size
            );
            checks.push(quote!(if ::core::mem::size_of::<Value>() != #n { ::core::panic!(#msg) }));
            c_value = quote!(::core::option::Option::Some(#ct));
        }
        let inner_ref = match &m.inner {
            Some(inner) => {
                items.push(self.map_module(inner, "inner", depth + 1, Some(&m.name))?);
                quote!(::core::option::Option::Some(&inner::DEF))
            }
            None => quote!(::core::option::Option::None),
        };
        let type_tokens = match tname {
            Some(n) => {
                let i = ident(n);
                quote!(#to_maps MapType::#i)
            }
            None => {
                let l = lit(u64::from(m.map_type));
                quote!(#to_maps MapType(#l))
            }
        };
        let pin = match m.pinning {
            1 => quote!(#to_maps Pinning::LIBBPF_PIN_BY_NAME),
            _ => quote!(#to_maps Pinning::LIBBPF_PIN_NONE),
        };
        let name = &m.name;
        let (ks, vs, me, mf, nn) = (
            lit(u64::from(m.key_size)),
            lit(u64::from(m.value_size)),
            lit(u64::from(m.max_entries)),
            lit(u64::from(m.map_flags)),
            lit(u64::from(m.numa_node)),
        );
        let mx = lit(m.map_extra);
        items.push(quote! {
            /// The definition.
            pub const DEF: #to_maps MapDef = #to_maps MapDef {
                name: #name,
                map_type: #type_tokens,
                key_size: #ks,
                value_size: #vs,
                max_entries: #me,
                map_flags: #mf,
                numa_node: #nn,
                map_extra: #mx,
                pinning: #pin,
                c_key_type: #c_key,
                c_value_type: #c_value,
                inner: #inner_ref,
            };
        });
        if !checks.is_empty() {
            items.push(quote!(const _: () = { #(#checks)* };));
        }
        let mut doc = vec![format!(
            "{} (BTF type id {}): `{}`, {} entries{}.",
            match outer {
                Some(o) => format!("The inner map definition of map `{o}`"),
                None => format!("C map `{}`", m.name),
            },
            m.def_id,
            tname.unwrap_or("an unknown map type"),
            m.max_entries,
            if m.map_flags != 0 {
                format!(", flags {:#x}", m.map_flags)
            } else {
                String::new()
            }
        )];
        let mut notes = Vec::new();
        if m.inner.is_some() {
            notes.push("Its values are inner maps (file descriptors when written, map ids when read); `inner` describes them.".to_string());
        }
        if m.values_are_programs {
            notes.push(
                "Its values are programs (file descriptors when written, program ids when read)."
                    .to_string(),
            );
        }
        if m.key.is_none() && m.key_size > 0 {
            notes.push(format!(
                "The key is declared by its size only ({} bytes): no `Key` type.",
                m.key_size
            ));
        }
        if m.value.is_none() && m.value_size > 0 && m.inner.is_none() && !m.values_are_programs {
            notes.push(format!(
                "The value is declared by its size only ({} bytes): no `Value` type.",
                m.value_size
            ));
        }
        if m.map_type == map_type::RINGBUF {
            notes.push("A ring buffer: no key or value; `max_entries` is its size in bytes (a loader rounds it up to a multiple of the page size).".to_string());
        }
        if matches!(m.map_type, map_type::RINGBUF | map_type::PERF_EVENT_ARRAY) {
            notes.push(RECORDS.to_string());
        }
        if m.map_type == map_type::PERF_EVENT_ARRAY && m.max_entries == 0 {
            notes.push("`max_entries` 0: a loader uses the number of possible CPUs.".to_string());
        }
        if !notes.is_empty() {
            doc.push(String::new());
            doc.extend(notes);
        }
        Ok(quote! {
            #(#[doc = #doc])*
            pub mod #mi {
                #(#items)*
            }
        })
    }
}
