//! `Debug` impls of structs and unions: one call of the file's `__bpfgen_fmt::fields`
//! with the C member names as one string and the values as one tuple (padding left out,
//! accessors called). Printed like `#[derive(Debug)]` would (`name { a: 1, b: 2 }`), but
//! one call is much cheaper to compile than a `.field()` chain, and one string of names
//! cheaper than a label per value (`bench/check_forms.sh`: 5.2 s → 3.6 s → 2.8 s for
//! 2,000 structs of 40 fields). A tuple of copies rather than a slice of `&dyn Debug`:
//! no unsizing coercion and no borrow per member for rustc to check (all of vmlinux,
//! `cargo check`: 2.90 → 2.80 GB); members larger than [`BY_VALUE`] bytes are borrowed
//! instead, since a copy would take their size in stack in every nested `fmt`.
//!
//! Like the assertion blocks, the shape is fixed, so the text is written directly in
//! prettyplease's layout: the call on one line when it fits the 89-column margin, else
//! one argument per line and the tuple one value (or group) per line. Anything that
//! might wrap differently (a long line, a name needing escapes) goes through prettyplease.

use proc_macro2::TokenStream;

use super::asserts::Block;
use super::text::{plain, MARGIN};

/// The most values in one tuple.
const ARITY: usize = 12;

/// How `Debug` takes a member held in a field: a copy up to [`BY_VALUE`] bytes (rustc
/// checks a copy more cheaply than a borrow), else a reference (a copy of a large
/// member would cost stack space in every nested `fmt`).
pub(super) fn member(field: &str, size: u32) -> String {
    if size <= BY_VALUE {
        format!("self.{field}")
    } else {
        format!("&self.{field}")
    }
}

/// The largest member `Debug` copies instead of borrowing.
const BY_VALUE: u32 = 256;

/// `fields`: (C label, expression such as `self.a`, `&self.b` or `self.c()`).
pub(super) fn debug_impl(
    ty: &str,
    label: &str,
    fields: &[(String, String)],
    tokens_only: bool,
) -> Block {
    let names = names(fields);
    match text(ty, label, &names, fields).filter(|_| !tokens_only) {
        Some(t) => Block::Text(t),
        None => Block::Tokens(tokens(ty, label, &names, fields)),
    }
}

/// The labels, space-separated. BTF member names are C identifiers (the kernel rejects
/// anything else); should one hold whitespace anyway, it shows with `_` in its place
/// rather than splitting into two labels.
fn names(fields: &[(String, String)]) -> String {
    let words: Vec<String> = fields
        .iter()
        .map(|(l, _)| l.replace(char::is_whitespace, "_"))
        .collect();
    words.join(" ")
}

/// The values as a tuple: up to [`ARITY`] expressions, else groups of that many (each
/// `__bpfgen_fmt::Group(…)`, grouped again past [`ARITY`] groups), so nesting stays
/// shallow (vmlinux's 250-member `task_struct`: two levels).
enum Elem {
    Expr(String),
    Group(Vec<Elem>),
}

/// The tuple shapes `n` values take in a call, for the file's helper to implement just
/// those: bit `k` for a tuple of `k` values (`k` ≤ [`ARITY`]), [`GROUPED`] when there
/// are groups. Never 0 (no members is the tuple `()`, bit 0).
pub(super) fn shapes(n: usize) -> u16 {
    let mut bits = 0;
    let mut len = n;
    while len > ARITY {
        bits |= GROUPED | 1 << ARITY;
        if len % ARITY != 0 {
            bits |= 1 << (len % ARITY);
        }
        len = len.div_ceil(ARITY);
    }
    bits | 1 << len
}

/// [`shapes`]' bit for "some values are grouped".
const GROUPED: u16 = 1 << (ARITY + 1);

fn values(exprs: &[String]) -> Vec<Elem> {
    let mut v: Vec<Elem> = exprs.iter().map(|e| Elem::Expr(e.clone())).collect();
    while v.len() > ARITY {
        let mut groups = Vec::with_capacity(v.len().div_ceil(ARITY));
        let mut it = v.into_iter().peekable();
        while it.peek().is_some() {
            groups.push(Elem::Group(it.by_ref().take(ARITY).collect()));
        }
        v = groups;
    }
    v
}

/// A tuple on one line: `()`, `(a,)`, `(a, b)`.
fn flat(items: &[Elem]) -> String {
    let parts: Vec<String> = items.iter().map(flat_value).collect();
    match parts.len() {
        1 => format!("({},)", parts[0]),
        _ => format!("({})", parts.join(", ")),
    }
}

fn flat_value(v: &Elem) -> String {
    match v {
        Elem::Expr(e) => e.clone(),
        Elem::Group(items) => format!("__bpfgen_fmt::Group({})", flat(items)),
    }
}

/// One element of a tuple prettyplease broke over lines, at `indent`: on one line with
/// its comma when that fits the margin, a group broken the same way when it does not
/// fit even without the comma, `None` in between (prettyplease's choice there is not
/// worth predicting: the impl goes through it instead).
fn element(out: &mut String, indent: usize, v: &Elem) -> Option<()> {
    let line = flat_value(v);
    let pad = " ".repeat(indent);
    if indent + line.len() < MARGIN {
        out.push_str(&pad);
        out.push_str(&line);
        out.push_str(",\n");
        return Some(());
    }
    let Elem::Group(items) = v else {
        return None;
    };
    if indent + line.len() <= MARGIN {
        return None;
    }
    out.push_str(&pad);
    out.push_str("__bpfgen_fmt::Group((\n");
    for it in items {
        element(out, indent + 4, it)?;
    }
    out.push_str(&pad);
    out.push_str(")),\n");
    Some(())
}

fn text(ty: &str, label: &str, names: &str, fields: &[(String, String)]) -> Option<String> {
    if !plain(label) || !plain(names) {
        return None;
    }
    let head = format!("impl ::core::fmt::Debug for {ty} {{\n");
    if head.len() - 1 > MARGIN {
        return None;
    }
    let exprs: Vec<String> = fields.iter().map(|(_, e)| e.clone()).collect();
    let items = values(&exprs);
    let tuple = flat(&items);
    let (name, names) = (format!("\"{label}\""), format!("\"{names}\""));
    let one_line = format!("__bpfgen_fmt::fields(f, {name}, {names}, {tuple})");
    let mut out = String::with_capacity(200 + 40 * fields.len());
    out.push_str(&head);
    out.push_str(
        "    fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {\n",
    );
    if 8 + one_line.len() <= MARGIN {
        out.push_str("        ");
        out.push_str(&one_line);
        out.push('\n');
    } else {
        out.push_str("        __bpfgen_fmt::fields(\n            f,\n");
        if 12 + name.len() + 1 > MARGIN {
            return None;
        }
        // Both strings are single literals: a line each, however long (prettyplease
        // cannot break them either).
        for s in [&name, &names] {
            out.push_str("            ");
            out.push_str(s);
            out.push_str(",\n");
        }
        // The tuple is the last argument: its trailing comma overhangs the margin.
        if 12 + tuple.len() <= MARGIN {
            out.push_str("            ");
            out.push_str(&tuple);
            out.push_str(",\n");
        } else {
            out.push_str("            (\n");
            for it in &items {
                element(&mut out, 16, it)?;
            }
            out.push_str("            ),\n");
        }
        out.push_str("        )\n");
    }
    out.push_str("    }\n}\n");
    Some(out)
}

fn tokens(ty: &str, label: &str, names: &str, fields: &[(String, String)]) -> TokenStream {
    let exprs: Vec<String> = fields.iter().map(|(_, e)| e.clone()).collect();
    let src = format!(
        "impl ::core::fmt::Debug for {ty} {{ fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{ __bpfgen_fmt::fields(f, {label:?}, {names:?}, {}) }} }}",
        flat(&values(&exprs))
    );
    // Every piece is an identifier, a field access or a string literal written with
    // Rust's own escaping, so this always tokenizes.
    src.parse().unwrap_or_default()
}

/// The functions the `Debug` impls call (those some impl uses), emitted once at the end
/// of a file.
pub(super) fn helper(shapes: u16, variant: bool) -> TokenStream {
    let sig = quote::quote! {
        d: &mut ::core::fmt::DebugStruct<'_, '_>,
        names: &mut ::core::str::Split<'_, char>
    };
    let group = (shapes & GROUPED != 0).then(|| {
        quote::quote! {
            /// Values standing for their members in turn (structs of more than twelve).
            pub(super) struct Group<V>(pub V);
            impl<V: Values> Value for Group<V> {
                fn add(&self, #sig) {
                    self.0.add_all(d, names)
                }
            }
        }
    });
    let fields = (shapes != 0).then(|| {
        let tuples = (0..=ARITY).filter(|n| shapes & 1 << n != 0).map(|n| {
            if n == 0 {
                return quote::quote! {
                    impl Values for () {
                        fn add_all(&self, _: &mut ::core::fmt::DebugStruct<'_, '_>, _: &mut ::core::str::Split<'_, char>) {}
                    }
                };
            }
            let ps: Vec<proc_macro2::Ident> =
                (0..n).map(|i| quote::format_ident!("V{}", i)).collect();
            let ix = (0..n).map(proc_macro2::Literal::usize_unsuffixed);
            quote::quote! {
                impl<#(#ps: Value),*> Values for (#(#ps,)*) {
                    fn add_all(&self, #sig) {
                        #(self.#ix.add(d, names);)*
                    }
                }
            }
        });
        quote::quote! {
            /// `names`: the members' names, space-separated, one per value; `values`:
            /// a tuple of them (see `Values`).
            pub(super) fn fields<V: Values>(
                f: &mut ::core::fmt::Formatter<'_>,
                name: &str,
                names: &str,
                values: V,
            ) -> ::core::fmt::Result {
                let mut d = f.debug_struct(name);
                values.add_all(&mut d, &mut names.split(' '));
                d.finish()
            }
            /// One member's value: anything `Debug` (a copy, or a reference to a large
            /// member), or a `Group` of values.
            pub(super) trait Value {
                fn add(&self, #sig);
            }
            impl<T: ::core::fmt::Debug> Value for T {
                fn add(&self, #sig) {
                    d.field(names.next().unwrap_or("?"), self);
                }
            }
            /// A tuple of up to twelve `Value`s (cheaper for rustc to check than a slice
            /// of `&dyn Debug`); implemented for the lengths this file uses.
            pub(super) trait Values {
                fn add_all(&self, #sig);
            }
            #(#tuples)*
        }
    });
    let variant = variant.then(|| {
        quote::quote! {
            /// An enum's value: the first of `names` (space-separated) whose entry of
            /// `values` is `value`, else `name(raw)`.
            pub(super) fn variant(
                f: &mut ::core::fmt::Formatter<'_>,
                name: &str,
                raw: &dyn ::core::fmt::Debug,
                value: i128,
                names: &str,
                values: &[i128],
            ) -> ::core::fmt::Result {
                match names.split(' ').zip(values).find(|(_, v)| **v == value) {
                    Some((known, _)) => f.write_str(known),
                    None => f.debug_tuple(name).field(raw).finish(),
                }
            }
        }
    });
    quote::quote! {
        /// `Debug` of the types above: structs and unions as `name { a: 1, b: 2 }`, enums
        /// as the value's name (or `name(42)`).
        #[doc(hidden)]
        mod __bpfgen_fmt {
            #fields
            #group
            #variant
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tuple lengths in `items` and below, as `shapes` bits.
    fn seen(items: &[Elem]) -> u16 {
        let mut bits = 1 << items.len();
        for it in items {
            if let Elem::Group(inner) = it {
                bits |= GROUPED | seen(inner);
            }
        }
        bits
    }

    #[test]
    fn shapes_are_the_tuples_values_builds() {
        assert_eq!(shapes(0), 1);
        assert_eq!(shapes(12), 1 << 12);
        assert_eq!(shapes(13), GROUPED | 1 << 12 | 1 << 1 | 1 << 2);
        // 150 = 12 × 12 + 6 values; those 13 groups = 12 + 1; then a pair.
        assert_eq!(shapes(150), GROUPED | 1 << 12 | 1 << 6 | 1 << 1 | 1 << 2);
        for n in 0..2000 {
            let exprs: Vec<String> = (0..n).map(|i| format!("self.m{i}")).collect();
            assert_eq!(shapes(n), seen(&values(&exprs)), "{n} values");
        }
    }
}
