//! `include_bpf!`: the Rust types (and maps, globals, glue) of a BPF object, generated
//! at compile time, exactly as `bpfgen` would write them.
//!
//! ```ignore
//! bpfgen_macros::include_bpf!("src/bpf/lb.bpf.o");
//! bpfgen_macros::include_bpf!("src/bpf/lb.bpf.o", types = ["vip_key", "vip_meta"], aya, embed);
//! ```
//!
//! The path is relative to the calling crate's `CARGO_MANIFEST_DIR`. Options are the
//! same as the CLI's and the build-script API's (one table, in the README):
//! `types = [..]`, `all`, `base = ".."`, `zerocopy` / `zerocopy = false`, `aya`, `embed`.
//! A bare option means `true`. Errors are `compile_error!`s pointing at the string
//! literal (or at the option concerned). The expansion `include_bytes!`s the object,
//! so cargo rebuilds the crate when the object changes.

use std::path::{Component, Path, PathBuf};

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{bracketed, Ident, LitBool, LitStr, Token};

const OPTIONS: &str = "types, all, base, zerocopy, aya, embed";

struct Input {
    path: LitStr,
    opts: bpfgen_core::Options,
    /// Each `types` entry with its literal, for errors pointing at it.
    type_lits: Vec<LitStr>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut opts = bpfgen_core::Options::default();
        let mut type_lits = Vec::new();
        while input.parse::<Option<Token![,]>>()?.is_some() {
            if input.is_empty() {
                break;
            }
            let name: Ident = input.parse()?;
            let has_value = input.parse::<Option<Token![=]>>()?.is_some();
            let flag = |input: ParseStream<'_>| -> syn::Result<bool> {
                if has_value {
                    Ok(input.parse::<LitBool>()?.value)
                } else {
                    Ok(true)
                }
            };
            match name.to_string().as_str() {
                "types" | "r#type" | "type_" => {
                    if !has_value {
                        return Err(syn::Error::new(
                            name.span(),
                            "`types` needs a list: types = [\"name\", …]",
                        ));
                    }
                    let content;
                    bracketed!(content in input);
                    let list: Punctuated<LitStr, Token![,]> =
                        content.parse_terminated(|p| p.parse(), Token![,])?;
                    for l in list {
                        opts.types.push(l.value());
                        type_lits.push(l);
                    }
                }
                "all" => opts.all = flag(input)?,
                "aya" => opts.aya = flag(input)?,
                "embed" => opts.embed = flag(input)?,
                "zerocopy" => opts.zerocopy = Some(flag(input)?),
                "base" => {
                    if !has_value {
                        return Err(syn::Error::new(
                            name.span(),
                            "`base` needs a path: base = \"vmlinux.btf\"",
                        ));
                    }
                    let b: LitStr = input.parse()?;
                    opts.base = Some(resolve(&b.value()));
                }
                other => {
                    return Err(syn::Error::new(
                        name.span(),
                        format!(
                            "include_bpf!: unknown option `{other}`; the options are: {OPTIONS}"
                        ),
                    ))
                }
            }
        }
        Ok(Input {
            path,
            opts,
            type_lits,
        })
    }
}

/// `rel` against the calling crate's manifest directory, with `.`/`..` resolved
/// lexically (the file may not exist: the error message shows where it was looked for).
fn resolve(rel: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    let joined = base.join(rel);
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Generates the code for the object named by the string literal.
#[proc_macro]
pub fn include_bpf(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as Input);
    match expand(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &Input) -> syn::Result<proc_macro2::TokenStream> {
    let path = resolve(&input.path.value());
    let span = input.path.span();
    if !path.is_file() {
        return Err(syn::Error::new(
            span,
            format!("include_bpf!: no such file: {}", path.display()),
        ));
    }
    // proc_macro2 tokens may only be made on the macro's own thread: no emitter workers.
    let opts = bpfgen_core::Options {
        threads: std::num::NonZeroUsize::new(1),
        ..input.opts.clone()
    };
    let code = bpfgen_core::generate_file(&path, &opts).map_err(|e| error_for(input, &path, e))?;
    let tokens: proc_macro2::TokenStream = code.parse().map_err(|e| {
        syn::Error::new(
            span,
            format!("include_bpf!: internal: generated code does not tokenize: {e}"),
        )
    })?;
    let abs = path_str(&path);
    Ok(quote! {
        // Makes cargo rebuild this crate when the object changes.
        const _: &[u8] = include_bytes!(#abs);
        #tokens
    })
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A core error as a compile error, pointing at the `types` entry it is about when
/// there is one.
fn error_for(input: &Input, path: &Path, e: bpfgen_core::Error) -> syn::Error {
    let span: Span = match &e.kind {
        bpfgen_core::ErrorKind::TypeNotFound { name, .. } => input
            .type_lits
            .iter()
            .find(|l| l.value() == *name)
            .map_or(input.path.span(), LitStr::span),
        _ => input.path.span(),
    };
    let _ = path;
    syn::Error::new(span, format!("include_bpf!: {e}"))
}
