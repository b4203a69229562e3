//! The compile-time layout proof of each type: one call of `__bpfgen_layout::check` with
//! a description of the entries ("TYPE: a b c", the members in order), the
//! `offset_of!` of every member then `size_of` and `align_of` (and any size an accessor
//! relies on, before those two), and the values the BTF gives. Const evaluation stops
//! at the first entry that differs and fails the build with a sentence it composes from
//! the description, so a moved field names itself and both values:
//! "bpfgen: offset of `lay_holes::b` differs from the BTF (BTF 8, Rust 16)".
//! The calls of [`GROUP`] consecutive types share one `const _` block (`emit` gathers
//! them, counting over the whole item list, so chunking never changes the file).
//!
//! Why this form (`bench/check_forms.sh`; all of vmlinux, 65,000 fields): an `assert!`
//! per field is what `cargo check` pays for most, a call has no branch per field; one
//! description string instead of a sentence per entry keeps the file smaller and the
//! call cheaper; a `const` item per type costs rustc a body and an evaluation of its
//! own, which grouping saves. Not more than 16 per block: every `offset_of!` is an
//! inline const typechecked with its block, and under incremental compilation (`cargo
//! check`'s default) each of them hashes the whole block's typeck results again. All of
//! vmlinux, plain / incremental rustc: 1 type per block 25.1 s, 2.89 GB / 37.1 s,
//! 3.17 GB; 8: 20.4 s, 2.69 GB / 31.8 s, 2.96 GB; 64: 21 s, 2.63 GB / 42 s, 2.84 GB.
//! `cargo check` of a scratch crate (one run each): 8 per block 29.8 s, 2.80 GB; 16
//! 30.3 s, 2.78 GB; 32 (measured with the earlier `Debug` form, which cost 2.90 GB at 8)
//! 34.4 s, 2.85 GB — the time grows past 16.
//!
//! These calls are a large part of the output and have one fixed shape, so their text
//! is written here directly, in exactly the layout prettyplease gives them (the
//! `prettyplease_fixed_point` test re-formats every fixture's output and all of vmlinux
//! and compares byte for byte); a call with extra size checks, whose types need
//! formatting, goes through prettyplease.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::lit;
use super::text::{fill, list, MARGIN};
use crate::error::KResult;

/// An item part written as text or as tokens for prettyplease (see `debug`).
pub(crate) enum Block {
    Text(String),
    Tokens(TokenStream),
}

/// How many types' checks share one `const _` block.
pub(super) const GROUP: usize = 16;

/// One type's call of `__bpfgen_layout::check`, as prettyplease prints it as a statement
/// of a block (indent 4, ending in `;` and a newline).
pub(super) struct Check {
    pub text: String,
    /// It uses `offset_of!`: its block imports what its calls use.
    pub offsets: bool,
}

/// One more size an accessor relies on: `size_of::<ty>()` is the `size` bytes at
/// `offset..offset + size` of the type.
pub(super) struct SizeCheck {
    pub ty: TokenStream,
    pub offset: u32,
    pub size: u32,
}

/// The description `check` reads: "TYPE: m1 m2 …", one word per entry before the size
/// and alignment: a member's name, or `A..B` for the value held at those bytes.
fn what(name: &str, fields: &[(Ident, u32)], extra: &[SizeCheck]) -> String {
    let mut w = format!("{name}:");
    for (f, _) in fields {
        w.push(' ');
        w.push_str(crate::naming::bare(&f.to_string()));
    }
    for c in extra {
        w.push_str(&format!(" {}..{}", c.offset, c.offset + c.size));
    }
    w
}

/// The check of a struct, union or enum `ty` (Rust name `name`): its `fields` (Rust
/// field, BTF offset) in order, the `extra` sizes its accessors rely on, its size and
/// alignment.
pub(super) fn check(
    ty: &Ident,
    name: &str,
    size: u32,
    align: u32,
    fields: &[(Ident, u32)],
    extra: &[SizeCheck],
    tokens_only: bool,
) -> KResult<Check> {
    let what = what(crate::naming::bare(name), fields, extra);
    let tys = ty.to_string();
    let mut expected: Vec<u64> = fields.iter().map(|(_, o)| u64::from(*o)).collect();
    expected.extend(extra.iter().map(|c| u64::from(c.size)));
    expected.push(u64::from(size));
    expected.push(u64::from(align));
    let offsets = !fields.is_empty();
    if extra.is_empty() && !tokens_only {
        let mut actual: Vec<String> = fields
            .iter()
            .map(|(f, _)| format!("offset_of!({tys}, {f})"))
            .collect();
        actual.push(format!("size_of::<{tys}>()"));
        actual.push(format!("align_of::<{tys}>()"));
        if let Some(text) = call_text(&what, &actual, &expected) {
            return Ok(Check { text, offsets });
        }
    }
    let mut actual: Vec<TokenStream> = fields
        .iter()
        .map(|(f, _)| quote!(offset_of!(#ty, #f)))
        .collect();
    for c in extra {
        let t = &c.ty;
        actual.push(quote!(size_of::<#t>()));
    }
    actual.push(quote!(size_of::<#ty>()));
    actual.push(quote!(align_of::<#ty>()));
    let expected = expected.into_iter().map(lit);
    // prettyplease prints a statement the same in any block at the same depth: format
    // it in one and keep its lines.
    let block = super::format_tokens(
        quote! {
            const _: () = {
                __bpfgen_layout::check(#what, [#(#actual),*], [#(#expected),*]);
            };
        },
        &[],
    )?;
    let lines: Vec<&str> = block.lines().collect();
    let body = lines.get(1..lines.len().saturating_sub(1)).unwrap_or(&[]);
    let mut text = String::with_capacity(block.len());
    for l in body {
        text.push_str(l);
        text.push('\n');
    }
    Ok(Check { text, offsets })
}

/// The `const _` block holding `checks`, as prettyplease prints it.
pub(super) fn group(checks: &[Check], tokens_only: bool) -> KResult<String> {
    let mut out = String::from("const _: () = {\n");
    out.push_str(if checks.iter().any(|c| c.offsets) {
        "    use ::core::mem::{align_of, offset_of, size_of};\n"
    } else {
        "    use ::core::mem::{align_of, size_of};\n"
    });
    for c in checks {
        out.push_str(&c.text);
    }
    out.push_str("};\n");
    if tokens_only {
        // The block through prettyplease as a whole.
        let tokens: TokenStream = out.parse().map_err(|e| {
            crate::error::ErrorKind::Internal(format!("a layout check block does not lex: {e}"))
        })?;
        return super::format_tokens(tokens, &[]);
    }
    Ok(out)
}

/// The call as prettyplease prints it as a statement at indent 4, or `None` when a line
/// could wrap differently. `what` is made of identifiers, digits, `:`, `.` and spaces:
/// it needs no escapes.
fn call_text(what: &str, actual: &[String], expected: &[u64]) -> Option<String> {
    let expected: Vec<String> = expected.iter().map(u64::to_string).collect();
    let mut out = String::with_capacity(160 + 50 * actual.len() + what.len());
    let head = "    __bpfgen_layout::check(";
    // The whole call on one line when it fits, as prettyplease does.
    let flat = format!(
        "{head}\"{what}\", [{}], [{}]);",
        actual.join(", "),
        expected.join(", ")
    );
    if flat.len() <= MARGIN {
        out.push_str(&flat);
        out.push('\n');
        return Some(out);
    }
    out.push_str(head);
    out.push('\n');
    // The description is one literal: prettyplease gives it a line of its own, however long.
    out.push_str("        \"");
    out.push_str(what);
    out.push_str("\",\n");
    list(&mut out, 8, actual, ",")?;
    fill(&mut out, 8, "[", &expected, ",", true);
    out.push_str("    );\n");
    Some(out)
}

/// The const fn every block calls, emitted once at the end of a file.
pub(super) fn helper() -> TokenStream {
    quote! {
        /// Layout checks of the types above, run by the compiler (const evaluation).
        #[doc(hidden)]
        #[allow(dead_code)]
        mod __bpfgen_layout {
            /// Fails the build at the first entry where `actual` is not `expected`,
            /// with a sentence naming it. `what` is "TYPE: m1 m2 …": the entries are
            /// the offsets of members m1, m2, … (a word `A..B` is instead the size of
            /// the value at those bytes), then the size and the alignment of TYPE.
            /// (`dead_code` above: only `const _` items call it, which rustc 1.85
            /// does not count as uses.)
            pub(super) const fn check<const N: usize>(
                what: &str,
                actual: [usize; N],
                expected: [usize; N],
            ) {
                let mut i = 0;
                while i < N {
                    if actual[i] != expected[i] {
                        fail(what.as_bytes(), i, N, expected[i], actual[i]);
                    }
                    i += 1;
                }
            }

            /// A sentence built during const evaluation, by value (no `&mut`).
            struct Msg {
                buf: [u8; 512],
                len: usize,
            }

            impl Msg {
                /// Appends `s[from..to]`; what does not fit is dropped.
                const fn put(mut self, s: &[u8], from: usize, to: usize) -> Self {
                    let mut k = from;
                    while k < to && k < s.len() && self.len < self.buf.len() {
                        self.buf[self.len] = s[k];
                        self.len += 1;
                        k += 1;
                    }
                    self
                }

                const fn text(self, s: &str) -> Self {
                    self.put(s.as_bytes(), 0, s.len())
                }

                const fn num(self, mut v: usize) -> Self {
                    let mut d = [0u8; 20];
                    let mut k = d.len();
                    loop {
                        k -= 1;
                        d[k] = b'0' + (v % 10) as u8;
                        v /= 10;
                        if v == 0 {
                            break;
                        }
                    }
                    self.put(&d, k, d.len())
                }
            }

            /// "bpfgen: offset of `T::m` differs from the BTF (BTF 8, Rust 16)".
            const fn fail(what: &[u8], i: usize, n: usize, btf: usize, rust: usize) -> ! {
                let mut colon = 0;
                while colon < what.len() && what[colon] != b':' {
                    colon += 1;
                }
                // Word `i` is what[start..end]; each word follows one space.
                let (mut start, mut end, mut k) = (colon + 1, colon + 1, 0);
                let mut found = false;
                while !found && end < what.len() {
                    start = end + 1;
                    end = start;
                    while end < what.len() && what[end] != b' ' {
                        end += 1;
                    }
                    found = k == i;
                    k += 1;
                }
                let m = Msg { buf: [0; 512], len: 0 }.text("bpfgen: ");
                let m = if found && start < end && what[start].is_ascii_digit() {
                    m.text("size of the value at bytes ")
                        .put(what, start, end)
                        .text(" of `")
                        .put(what, 0, colon)
                } else if found {
                    m.text("offset of `")
                        .put(what, 0, colon)
                        .text("::")
                        .put(what, start, end)
                } else if i + 2 == n {
                    m.text("size of `").put(what, 0, colon)
                } else {
                    m.text("alignment of `").put(what, 0, colon)
                };
                let m = m
                    .text("` differs from the BTF (BTF ")
                    .num(btf)
                    .text(", Rust ")
                    .num(rust)
                    .text(")");
                match ::core::str::from_utf8(m.buf.split_at(m.len).0) {
                    Ok(s) => ::core::panic!("{}", s),
                    Err(_) => ::core::panic!("bpfgen: a layout differs from the BTF"),
                }
            }
        }
    }
}
