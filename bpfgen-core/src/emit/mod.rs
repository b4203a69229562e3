//! Tokens for every selected type, formatted item by item with prettyplease.
//!
//! Item by item keeps memory flat and lets a bad item name itself; the file is the
//! header, the endianness guard, the items in BTF id order, and (when any bitfield
//! exists) the private bit-access helpers.

mod asserts;
mod aya;
mod bitfield;
mod debug;
mod globals;
mod maps;
mod text;
mod types;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use crate::error::{ErrorKind, KResult};
use crate::ir::{Ir, Kind, TypeId};
use crate::layout::Layouts;
use crate::naming::{Names, Role};
use crate::object::Endian;

/// What the emitter needs besides the graph.
pub struct EmitConfig<'a> {
    /// File name shown in docs and the header.
    pub source: &'a str,
    /// Header lines (without `// `), e.g. the options used.
    pub header: Vec<String>,
    pub zerocopy: bool,
    /// The maps and globals to describe (`pub mod maps`, `pub mod globals`): whole-object
    /// generation of an ELF object.
    pub skeleton: Option<(&'a [crate::maps::MapSpec], &'a crate::globals::Globals)>,
    /// Emit `pub mod aya_glue` (`--aya`).
    pub aya: bool,
    /// Emit `pub const OBJECT` with `include_bytes!` of this path (`--embed`).
    pub embed: Option<String>,
    /// Emitter threads (`None`: the machine's parallelism, at most 8).
    pub threads: Option<std::num::NonZeroUsize>,
    /// Every item through tokens and prettyplease, none as direct text (a test knob).
    pub tokens_only: bool,
}

/// Marker statement `__bpfgen_safety_N();` replaced by the N-th `// SAFETY:` comment
/// after formatting (tokens cannot carry comments).
const SAFETY_MARK: &str = "__bpfgen_safety_";

pub(crate) struct Emitter<'a> {
    pub ir: &'a Ir,
    pub names: &'a Names,
    pub layouts: Layouts<'a>,
    pub cfg: &'a EmitConfig<'a>,
    pub uses_bitfields: bool,
    /// Some layout block calls `__bpfgen_layout::check`.
    pub uses_layout: bool,
    /// Some enum's `Debug` calls `__bpfgen_fmt::variant`.
    pub uses_variant: bool,
    /// The tuple shapes the `Debug` impls pass to `__bpfgen_fmt::fields`
    /// (`debug::shapes`; 0: no impl calls it): which helper impls to emit.
    pub fmt_shapes: u16,
    /// The layout check of the item being emitted.
    check: Option<asserts::Check>,
    /// `// SAFETY:` texts of the item being emitted.
    pub safety_msgs: std::cell::RefCell<Vec<String>>,
    /// The parts of the item being emitted, in their order in the file: each either
    /// text already in prettyplease's layout or tokens formatted where they stand, so
    /// the order never depends on which parts had a text form.
    pub pieces: std::cell::RefCell<Vec<asserts::Block>>,
}

/// Stack of each emitter thread (virtual: only touched pages are committed).
const WORKER_STACK: usize = 32 << 20;

pub fn emit(ir: &Ir, names: &Names, items: &[TypeId], cfg: &EmitConfig<'_>) -> KResult<String> {
    let mut out = String::new();
    for line in &cfg.header {
        out.push_str("// ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    let guard = Emitter::new(ir, names, cfg).guard();
    out.push_str(&format_tokens(guard, &[])?);

    // Items are independent: workers emit and format small contiguous chunks, taken
    // in order from a shared counter, and this thread appends each finished chunk in
    // order as soon as it can, so only the chunks in flight are held twice (on
    // vmlinux, joining whole per-thread halves held ~40 MB of text twice). Tokens are
    // not `Send`, so each worker builds its own.
    let workers = match cfg.threads {
        Some(n) => n.get(),
        None => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8),
    };
    // Starting a thread costs tens of microseconds; an item about 50.
    let workers = if items.len() < 64 { 1 } else { workers };
    let mut uses = [false; 3];
    let mut fmt_shapes = 0u16;
    // The layout checks of every `asserts::GROUP` items in a row share one block, which
    // follows the last of them: counted over the whole item list, so the file does not
    // depend on how it was cut into chunks.
    let mut checks: Vec<asserts::Check> = Vec::with_capacity(asserts::GROUP);
    let mut append = |out: &mut String, r: KResult<Chunk>| -> KResult<()> {
        let Chunk {
            text,
            checks: ends,
            uses: u,
            fmt_shapes: shapes,
        } = r?;
        fmt_shapes |= shapes;
        let mut from = 0;
        for (end, check) in ends {
            out.push_str(text.get(from..end).unwrap_or_default());
            from = end;
            checks.push(check);
            if checks.len() == asserts::GROUP {
                out.push('\n');
                out.push_str(&asserts::group(&checks, cfg.tokens_only)?);
                checks.clear();
            }
        }
        out.push_str(text.get(from..).unwrap_or_default());
        for (a, b) in uses.iter_mut().zip(u) {
            *a |= b;
        }
        Ok(())
    };
    if workers == 1 {
        append(&mut out, emit_chunk(ir, names, cfg, items))?;
    } else {
        let parts: Vec<&[TypeId]> = items.chunks(items.len().div_ceil(workers * 16)).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut failure: Option<ErrorKind> = None;
        std::thread::scope(|s| {
            for _ in 0..workers {
                let (tx, parts, next) = (tx.clone(), &parts, &next);
                // Layout recursion is bounded (layout::MAX_NESTING) but deep nesting
                // in a debug build needs more than the default 2 MiB.
                let spawned = std::thread::Builder::new()
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(s, move || loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(part) = parts.get(i) else { break };
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            emit_chunk(ir, names, cfg, part)
                        }))
                        .unwrap_or_else(|_| {
                            Err(ErrorKind::Btf("internal: emitter thread panicked".into()))
                        });
                        if tx.send((i, r)).is_err() {
                            break;
                        }
                    });
                if let Err(e) = spawned {
                    failure.get_or_insert(ErrorKind::Btf(format!(
                        "cannot start an emitter thread: {e}"
                    )));
                }
            }
            drop(tx);
            let mut pending = std::collections::BTreeMap::new();
            let mut want = 0;
            for (i, r) in rx {
                pending.insert(i, r);
                while let Some(r) = pending.remove(&want) {
                    if want == 0 {
                        // The first chunk's size predicts the file's.
                        if let Ok(c) = &r {
                            out.reserve(c.text.len() * parts.len() + c.text.len() / 4);
                        }
                    }
                    if let Err(e) = append(&mut out, r) {
                        failure.get_or_insert(e);
                    }
                    want += 1;
                }
            }
            if want < parts.len() && failure.is_none() {
                failure = Some(ErrorKind::Btf("internal: emitter thread panicked".into()));
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
    }
    if !checks.is_empty() {
        out.push('\n');
        out.push_str(&asserts::group(&checks, cfg.tokens_only)?);
    }
    let [uses_bitfields, uses_layout, uses_variant] = uses;
    if fmt_shapes != 0 || uses_variant {
        out.push('\n');
        out.push_str(&format_tokens(
            debug::helper(fmt_shapes, uses_variant),
            &[],
        )?);
    }
    if uses_layout {
        out.push('\n');
        out.push_str(&format_tokens(asserts::helper(), &[])?);
    }
    if uses_bitfields {
        out.push('\n');
        out.push_str(&format_tokens(bitfield::helpers(ir.endian), &[])?);
    }
    // Maps, globals, the embedded object and the aya glue follow the types.
    let mut e = Emitter::new(ir, names, cfg);
    let section = |e: &Emitter<'_>, tokens: TokenStream, out: &mut String| -> KResult<()> {
        let msgs = std::mem::take(&mut *e.safety_msgs.borrow_mut());
        out.push('\n');
        out.push_str(&format_tokens(tokens, &msgs)?);
        Ok(())
    };
    if let Some((maps, globals)) = cfg.skeleton {
        out.push('\n');
        out.push_str(&e.maps_module(maps)?);
        out.push('\n');
        out.push_str(&e.globals_module(globals)?);
    }
    if let Some(path) = &cfg.embed {
        let doc = format!(
            "The bytes of `{}`, embedded at build time (`include_bytes!`): a loader takes them directly (`aya::Ebpf::load(OBJECT)`), so no file is needed at run time.",
            cfg.source
        );
        let u8t = prim("u8");
        let t = quote! {
            #[doc = #doc]
            #[allow(dead_code)]
            pub const OBJECT: &[#u8t] = ::core::include_bytes!(#path);
        };
        section(&e, t, &mut out)?;
    }
    if cfg.aya {
        out.push('\n');
        out.push_str(&e.aya_module(items, cfg.skeleton, cfg.embed.is_some())?);
    }
    Ok(out)
}

/// Emits and formats `items` one by one (batching several items per prettyplease
/// call measured slower).
fn emit_chunk(ir: &Ir, names: &Names, cfg: &EmitConfig<'_>, items: &[TypeId]) -> KResult<Chunk> {
    let mut e = Emitter::new(ir, names, cfg);
    let mut out = String::new();
    let mut checks = Vec::new();
    for &id in items {
        let tokens = e.item(id)?;
        e.put(asserts::Block::Tokens(tokens));
        out.push('\n');
        let msgs = std::mem::take(&mut *e.safety_msgs.borrow_mut());
        for piece in std::mem::take(&mut *e.pieces.borrow_mut()) {
            match piece {
                asserts::Block::Text(t) => out.push_str(&t),
                asserts::Block::Tokens(t) if t.is_empty() => {}
                asserts::Block::Tokens(t) => {
                    out.push_str(&format_tokens(t, &msgs).map_err(|k| match k {
                        ErrorKind::Btf(msg) => {
                            ErrorKind::ty(id, format!("generated code does not parse: {msg}"))
                        }
                        other => other,
                    })?)
                }
            }
        }
        if let Some(c) = e.check.take() {
            checks.push((out.len(), c));
        }
    }
    Ok(Chunk {
        text: out,
        checks,
        uses: [e.uses_bitfields, e.uses_layout, e.uses_variant],
        fmt_shapes: e.fmt_shapes,
    })
}

/// What a worker hands back for a run of items.
struct Chunk {
    text: String,
    /// Each item's layout check, with where the item's text ends.
    checks: Vec<(usize, asserts::Check)>,
    /// Which file-level helpers the items call (bitfield access, layout checks, the
    /// enum `Debug` helper).
    uses: [bool; 3],
    /// The tuple shapes of the `Debug` calls (`debug::shapes`).
    fmt_shapes: u16,
}

pub(super) fn format_tokens(tokens: TokenStream, safety: &[String]) -> KResult<String> {
    let file: syn::File =
        syn::parse2(tokens).map_err(|e| ErrorKind::Btf(format!("internal: {e}")))?;
    let text = prettyplease::unparse(&file);
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(doc) = trimmed
            .strip_prefix("///")
            .filter(|d| !d.is_empty() && !d.starts_with(' '))
        {
            // prettyplease writes `#[doc = "x"]` as `///x`; rustdoc style is `/// x`.
            out.push_str(indent);
            out.push_str("/// ");
            out.push_str(doc);
        } else if let Some(msg) = trimmed
            .strip_prefix(SAFETY_MARK)
            .and_then(|rest| rest.strip_suffix("();"))
            .or_else(|| {
                // The item form (before an `unsafe impl`): `const __bpfgen_safety_N: () = ();`.
                trimmed
                    .strip_prefix("const ")
                    .and_then(|r| r.strip_prefix(SAFETY_MARK))
                    .and_then(|r| r.strip_suffix(": () = ();"))
            })
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| safety.get(n))
        {
            out.push_str(indent);
            out.push_str("// SAFETY: ");
            out.push_str(msg);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

/// The name of the marker item where [`splice`] puts separately formatted items.
const SPLICE: &str = "__bpfgen_splice";

/// A marker item for [`splice`], in a module body.
pub(crate) fn splice_mark() -> TokenStream {
    let i = Ident::new(SPLICE, Span::call_site());
    quote!(const #i: () = ();)
}

/// Formats `item` exactly as prettyplease formats it as an item of a top-level module
/// (its lines 4 spaces in), so that modules with thousands of items (one per map) can
/// be formatted item by item instead of holding every item's tokens at once.
pub(crate) fn format_inner(item: TokenStream, safety: &[String]) -> KResult<String> {
    let wrapped = format_tokens(quote!(mod __bpfgen_inner { #item }), safety)?;
    let body = wrapped
        .strip_prefix("mod __bpfgen_inner {\n")
        .and_then(|b| b.strip_suffix("}\n"))
        .ok_or_else(|| {
            ErrorKind::Internal("a spliced item did not format as a module item".into())
        })?;
    Ok(body.to_string())
}

/// `outer` (formatted, holding one [`splice_mark`] in a top-level module) with the
/// mark's line replaced by `inner` (items formatted by [`format_inner`]).
pub(crate) fn splice(outer: &str, inner: &str) -> KResult<String> {
    let mark = format!("    const {SPLICE}: () = ();\n");
    let at = outer
        .find(&mark)
        .ok_or_else(|| ErrorKind::Internal("the splice mark is missing".into()))?;
    Ok([&outer[..at], inner, &outer[at + mark.len()..]].concat())
}

pub(crate) fn ident(s: &str) -> Ident {
    match s.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(s, Span::call_site()),
    }
}

pub(crate) fn lit(n: u64) -> Literal {
    Literal::u64_unsuffixed(n)
}

/// A primitive, always spelled through `::core::primitive`.
pub(crate) fn prim(name: &str) -> TokenStream {
    let i = Ident::new(name, Span::call_site());
    quote!(::core::primitive::#i)
}

pub(crate) use crate::ir::int_rust_name as int_name;

impl<'a> Emitter<'a> {
    fn new(ir: &'a Ir, names: &'a Names, cfg: &'a EmitConfig<'a>) -> Self {
        Emitter {
            ir,
            names,
            layouts: Layouts::new(ir),
            cfg,
            uses_bitfields: false,
            uses_layout: false,
            uses_variant: false,
            fmt_shapes: 0,
            check: None,
            safety_msgs: Default::default(),
            pieces: Default::default(),
        }
    }

    /// `// SAFETY: msg` before the next statement.
    pub(crate) fn safety(&self, msg: String) -> TokenStream {
        let mut msgs = self.safety_msgs.borrow_mut();
        let mark = Ident::new(&format!("{SAFETY_MARK}{}", msgs.len()), Span::call_site());
        msgs.push(msg);
        quote!(#mark();)
    }

    /// `// SAFETY: msg` before the next item (an `unsafe impl`).
    pub(crate) fn safety_item(&self, msg: String) -> TokenStream {
        let mut msgs = self.safety_msgs.borrow_mut();
        let mark = Ident::new(&format!("{SAFETY_MARK}{}", msgs.len()), Span::call_site());
        msgs.push(msg);
        quote!(const #mark: () = ();)
    }

    fn guard(&self) -> TokenStream {
        let (want, other) = match self.ir.endian {
            Endian::Little => ("little", "big"),
            Endian::Big => ("big", "little"),
        };
        let msg = format!(
            "bpfgen: these types mirror `{}`, a {want}-endian BPF object, but this target is {other}-endian: \
             the object's maps and globals hold {want}-endian bytes, so these layouts and bitfield accessors \
             would be wrong here. Generate from a {other}-endian object (clang -target bpf{}) for this host.",
            self.cfg.source,
            if other == "big" { "eb" } else { "el" },
        );
        quote! {
            #[cfg(not(target_endian = #want))]
            ::core::compile_error!(#msg);
        }
    }

    fn item(&mut self, id: TypeId) -> KResult<TokenStream> {
        match &self.ir.get(id).kind {
            Kind::Struct(_) => self.struct_item(id),
            Kind::Union(_) => self.union_item(id),
            Kind::Enum(_) => self.enum_item(id),
            Kind::Typedef { target } => self.typedef_item(id, *target),
            Kind::Fwd { .. } => Ok(self.opaque_item(id)),
            _ => Err(ErrorKind::ty(id, "internal: not an item kind")),
        }
    }

    pub(crate) fn item_name(&self, id: TypeId) -> KResult<&str> {
        self.names
            .item(id)
            .ok_or_else(|| ErrorKind::ty(id, "internal: item without a name"))
    }

    /// How C names this type, for docs (`struct foo`, `anonymous union of outer.u`).
    /// Plain text without backticks: callers put it in one code span (a nested one
    /// would leave `<anon0>` outside it, where rustdoc reads an HTML tag).
    pub(crate) fn c_spelling(&self, id: TypeId) -> String {
        let t = self.ir.get(id);
        let word = match &t.kind {
            Kind::Struct(_) => "struct",
            Kind::Union(_) => "union",
            Kind::Enum(_) => "enum",
            Kind::Typedef { .. } => "typedef",
            Kind::Fwd { union: true } => "union",
            Kind::Fwd { union: false } => "struct",
            _ => "type",
        };
        match (&t.name, self.names.anon_origin.get(&id)) {
            (Some(n), _) if matches!(t.kind, Kind::Typedef { .. }) => format!("typedef {n}"),
            (Some(n), _) => format!("{word} {n}"),
            (None, Some(origin)) => format!("anonymous {word} of {origin}"),
            (None, None) => match self.typedef_naming(id) {
                Some(td) => format!("anonymous {word}, typedef {word} {{ … }} {td}"),
                None => format!("anonymous {word}"),
            },
        }
    }

    fn typedef_naming(&self, id: TypeId) -> Option<String> {
        let name = self.names.item(id)?;
        Some(crate::naming::bare(name).to_string())
    }

    /// The Rust type of a value of type `id` (qualifiers dropped, typedef names kept).
    pub(crate) fn rust_ty(&self, id: TypeId) -> KResult<TokenStream> {
        self.rust_ty_in(id, &TokenStream::new())
    }

    /// [`Self::rust_ty`] for use inside a generated module: generated items are
    /// reached through `prefix` (e.g. `super::`).
    pub(crate) fn rust_ty_in(&self, id: TypeId, prefix: &TokenStream) -> KResult<TokenStream> {
        let mut dims: Vec<u32> = Vec::new();
        let mut cur = id;
        let base = 'outer: {
            for _ in 0..=self.ir.types.len() {
                match self.names.roles.get(&cur) {
                    Some(Role::Item(n)) => {
                        let i = ident(n);
                        break 'outer quote!(#prefix #i);
                    }
                    Some(Role::SameAs(t)) => {
                        cur = *t;
                        continue;
                    }
                    None => {}
                }
                match &self.ir.get(cur).kind {
                    Kind::Qual { target } | Kind::Typedef { target } => cur = *target,
                    Kind::Array { elem, len } => {
                        dims.push(*len);
                        cur = *elem;
                    }
                    Kind::Int(i) => break 'outer prim(int_name(i.size, i.signed)),
                    Kind::Float { size: 4 } => break 'outer prim("f32"),
                    Kind::Float { size: 8 } => break 'outer prim("f64"),
                    Kind::Float { size } => {
                        let (u8t, n) = (prim("u8"), lit(u64::from(*size)));
                        break 'outer quote!([#u8t; #n]);
                    }
                    Kind::Ptr { .. } => break 'outer prim("u64"),
                    Kind::Struct(_) | Kind::Union(_) | Kind::Enum(_) => {
                        return Err(ErrorKind::ty(
                            cur,
                            "anonymous type used by value has no name",
                        ))
                    }
                    _ => {
                        self.ir.size_of(cur)?;
                        return Err(ErrorKind::ty(id, "not a data type"));
                    }
                }
            }
            return Err(ErrorKind::ty(id, "type chain is cyclic"));
        };
        let mut t = base;
        for len in dims.into_iter().rev() {
            let n = lit(u64::from(len));
            t = quote!([#t; #n]);
        }
        Ok(t)
    }

    /// Derives shared by all data items (zerocopy's, when asked for). `Clone` and
    /// `Copy` are written by [`Self::clone_copy`] instead.
    pub(crate) fn derives(&self) -> TokenStream {
        if self.cfg.zerocopy {
            quote! {
                #[derive(::zerocopy::FromBytes, ::zerocopy::IntoBytes, ::zerocopy::KnownLayout, ::zerocopy::Immutable)]
            }
        } else {
            quote!()
        }
    }

    /// Appends a part of the item being emitted (see `pieces`).
    pub(crate) fn put(&self, piece: asserts::Block) {
        self.pieces.borrow_mut().push(piece);
    }

    /// `Clone` (as `*self`) and `Copy` for the data item `name`. `#[derive(Clone)]` on a
    /// `Copy` struct also type-checks an assertion per field type; on all of vmlinux the
    /// derive cost several seconds of `cargo check` more than these two lines
    /// (`bench/check_forms.sh`).
    pub(crate) fn clone_copy(&self, name: &str) -> asserts::Block {
        let head = format!("impl ::core::clone::Clone for {name} {{");
        let copy = format!("impl ::core::marker::Copy for {name} {{}}");
        if copy.len() <= text::MARGIN && !self.cfg.tokens_only {
            return asserts::Block::Text(format!(
                "{head}\n    #[inline]\n    fn clone(&self) -> Self {{\n        *self\n    }}\n}}\n{copy}\n"
            ));
        }
        let n = ident(name);
        asserts::Block::Tokens(quote! {
            impl ::core::clone::Clone for #n {
                #[inline]
                fn clone(&self) -> Self { *self }
            }
            impl ::core::marker::Copy for #n {}
        })
    }
}
