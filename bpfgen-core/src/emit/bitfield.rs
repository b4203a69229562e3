//! Bitfield accessors and the private helpers they call.
//!
//! BTF bit offsets count from the start of the composite. In a little-endian object
//! bit `b` is bit `b % 8` (from the least significant end) of byte `b / 8`; in a
//! big-endian one bits are numbered from the most significant end of byte 0. The
//! helpers read the bytes a field covers as one integer in the object's byte order,
//! so fields spanning storage units, and 64-bit fields at any bit offset, work.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::text::{doc_ok, MARGIN};
use super::{int_name, lit, prim, Emitter};
use crate::error::{ErrorKind, KResult};
use crate::ir::{Kind, TypeId};
use crate::object::Endian;

/// The `__bpfgen_bits` module: `get(bytes, bit, width) -> u64` and
/// `set(bytes, bit, width, value)`, `bit` relative to `bytes[0]`.
pub(super) fn helpers(endian: Endian) -> TokenStream {
    let (doc, get, set) = match endian {
        Endian::Little => (
            "Bitfield access for little-endian storage: bit `b` is bit `b % 8` of byte `b / 8`, counted from the least significant end.",
            quote! {
                let mut v: u128 = 0;
                for &byte in bytes[first..=last].iter().rev() {
                    v = (v << 8) | u128::from(byte);
                }
                ((v >> (bit % 8)) & mask(width)) as u64
            },
            quote! {
                let shift = bit % 8;
                let m = mask(width) << shift;
                let mut v: u128 = 0;
                for &byte in bytes[first..=last].iter().rev() {
                    v = (v << 8) | u128::from(byte);
                }
                v = (v & !m) | ((u128::from(value) << shift) & m);
                for byte in bytes[first..=last].iter_mut() {
                    *byte = v as u8;
                    v >>= 8;
                }
            },
        ),
        Endian::Big => (
            "Bitfield access for big-endian storage: bits are numbered from the most significant end of byte 0.",
            quote! {
                let mut v: u128 = 0;
                for &byte in &bytes[first..=last] {
                    v = (v << 8) | u128::from(byte);
                }
                let shift = ((last - first + 1) * 8) as u32 - bit % 8 - width;
                ((v >> shift) & mask(width)) as u64
            },
            quote! {
                let shift = ((last - first + 1) * 8) as u32 - bit % 8 - width;
                let m = mask(width) << shift;
                let mut v: u128 = 0;
                for &byte in &bytes[first..=last] {
                    v = (v << 8) | u128::from(byte);
                }
                v = (v & !m) | ((u128::from(value) << shift) & m);
                for byte in bytes[first..=last].iter_mut().rev() {
                    *byte = v as u8;
                    v >>= 8;
                }
            },
        ),
    };
    let (u8t, u32t, u64t) = (prim("u8"), prim("u32"), prim("u64"));
    quote! {
        #[doc = #doc]
        #[allow(dead_code, clippy::cast_possible_truncation)]
        mod __bpfgen_bits {
            use ::core::primitive::{u128, u32, u64, u8, usize};

            #[inline]
            const fn mask(width: u32) -> u128 {
                (1u128 << width) - 1
            }

            /// Reads `width` (1..=64) bits at bit `bit` of `bytes`, zero-extended.
            #[inline]
            pub(super) fn get(bytes: &[#u8t], bit: #u32t, width: #u32t) -> #u64t {
                let first = (bit / 8) as usize;
                let last = ((bit + width - 1) / 8) as usize;
                #get
            }

            /// Writes the low `width` bits of `value` at bit `bit` of `bytes`.
            #[inline]
            pub(super) fn set(bytes: &mut [#u8t], bit: #u32t, width: #u32t, value: #u64t) {
                let first = (bit / 8) as usize;
                let last = ((bit + width - 1) / 8) as usize;
                #set
            }
        }
    }
}

impl Emitter<'_> {
    /// Getter `g` and setter `s` for a `bits`-wide field of type `ty` at bit `rel` of
    /// `storage` (a `[u8; N]` place).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bitfield_accessors(
        &mut self,
        storage: &TokenStream,
        rel: u32,
        bits: u32,
        ty: TypeId,
        label: &str,
        g: &Ident,
        s: &Ident,
    ) -> KResult<(TokenStream, Option<String>)> {
        self.uses_bitfields = true;
        let base = self.ir.strip(ty)?;
        let (ret, size, signed, wrap) = match &self.ir.get(base).kind {
            Kind::Int(i) => (prim(int_name(i.size, i.signed)), i.size, i.signed, false),
            Kind::Enum(e) => (self.rust_ty(base)?, e.size, e.signed, true),
            _ => {
                return Err(ErrorKind::ty(
                    ty,
                    "bitfield of a type that is not an integer or enum",
                ))
            }
        };
        let int = prim(int_name(size, signed));
        let (rel_l, bits_l) = (lit(u64::from(rel)), lit(u64::from(bits)));
        let raw = quote!(__bpfgen_bits::get(&#storage, #rel_l, #bits_l));
        // u64 → the field's integer type, sign-extending signed fields.
        let value = match (signed, bits, size) {
            (false, _, 8) => raw,
            (false, _, 16) => quote!(::core::primitive::u128::from(#raw)),
            (false, _, _) => quote!(#raw as #int),
            (true, 64, 8) => quote!(#raw as ::core::primitive::i64),
            (true, 64, _) => quote!(#raw as ::core::primitive::i64 as #int),
            (true, _, _) => {
                let sh = lit(u64::from(64 - bits));
                let ext = quote!(((#raw << #sh) as ::core::primitive::i64) >> #sh);
                if size == 8 {
                    ext
                } else {
                    quote!((#ext) as #int)
                }
            }
        };
        let get = if wrap { quote!(#ret(#value)) } else { value };
        let v = if wrap { quote!(value.0) } else { quote!(value) };
        let to_u64 = match (signed, size) {
            (false, 8) => v,
            (false, 1 | 2 | 4) => quote!(::core::primitive::u64::from(#v)),
            _ => quote!(#v as ::core::primitive::u64),
        };
        let gd = format!(
            "Reads C bitfield `{label}` ({bits} bits{}).",
            if signed { ", sign-extended" } else { "" }
        );
        let sd = format!("Writes C bitfield `{label}`: its low {bits} bits.");
        let text = accessors_text(&AccessorText {
            storage: &storage.to_string().replace(' ', ""),
            ret: &ret,
            int: int_name(size, signed),
            rel,
            bits,
            size,
            signed,
            wrap,
            getter: &g.to_string(),
            setter: &s.to_string(),
            gd: &gd,
            sd: &sd,
        });
        Ok((
            quote! {
                #[doc = #gd]
                #[inline]
                pub fn #g(&self) -> #ret { #get }
                #[doc = #sd]
                #[inline]
                pub fn #s(&mut self, value: #ret) { __bpfgen_bits::set(&mut #storage, #rel_l, #bits_l, #to_u64) }
            },
            text,
        ))
    }
}

/// The parts of one bitfield's getter and setter, for [`accessors_text`].
struct AccessorText<'a> {
    /// The storage place, e.g. `self._bitfield_0`.
    storage: &'a str,
    ret: &'a TokenStream,
    /// The field's integer primitive (`u32`).
    int: &'a str,
    rel: u32,
    bits: u32,
    size: u32,
    signed: bool,
    /// `ret` is an enum newtype around `int`.
    wrap: bool,
    getter: &'a str,
    setter: &'a str,
    gd: &'a str,
    sd: &'a str,
}

/// The getter and setter as prettyplease prints them inside an impl block (the same
/// code as the tokens above), or `None` where a line might wrap differently.
fn accessors_text(a: &AccessorText<'_>) -> Option<String> {
    let ret = super::text::ty_text(a.ret)?;
    let int = format!("::core::primitive::{}", a.int);
    let raw = format!("__bpfgen_bits::get(&{}, {}, {})", a.storage, a.rel, a.bits);
    let value = match (a.signed, a.bits, a.size) {
        (false, _, 8) => raw,
        (false, _, 16) => format!("::core::primitive::u128::from({raw})"),
        (false, _, _) => format!("{raw} as {int}"),
        (true, 64, 8) => format!("{raw} as ::core::primitive::i64"),
        (true, 64, _) => format!("{raw} as ::core::primitive::i64 as {int}"),
        (true, _, _) => {
            let sh = 64 - a.bits;
            let ext = format!("(({raw} << {sh}) as ::core::primitive::i64) >> {sh}");
            if a.size == 8 {
                ext
            } else {
                format!("({ext}) as {int}")
            }
        }
    };
    let get = if a.wrap {
        format!("{ret}({value})")
    } else {
        value
    };
    let v = if a.wrap { "value.0" } else { "value" };
    let to_u64 = match (a.signed, a.size) {
        (false, 8) => v.to_string(),
        (false, 1 | 2 | 4) => format!("::core::primitive::u64::from({v})"),
        _ => format!("{v} as ::core::primitive::u64"),
    };
    if !doc_ok(a.gd) || !doc_ok(a.sd) {
        return None;
    }
    let lines = [
        format!("    /// {}", a.gd),
        "    #[inline]".to_string(),
        format!("    pub fn {}(&self) -> {ret} {{", a.getter),
        format!("        {get}"),
        "    }".to_string(),
        format!("    /// {}", a.sd),
        "    #[inline]".to_string(),
        format!("    pub fn {}(&mut self, value: {ret}) {{", a.setter),
    ];
    let set_one = format!(
        "        __bpfgen_bits::set(&mut {}, {}, {}, {to_u64})",
        a.storage, a.rel, a.bits
    );
    let set: Vec<String> = if set_one.len() <= MARGIN {
        vec![set_one]
    } else {
        vec![
            "        __bpfgen_bits::set(".to_string(),
            format!("            &mut {},", a.storage),
            format!("            {},", a.rel),
            format!("            {},", a.bits),
            format!("            {to_u64},"),
            "        )".to_string(),
        ]
    };
    let mut out = String::new();
    for l in lines.iter().chain(set.iter()) {
        if l.len() > MARGIN {
            return None;
        }
        out.push_str(l);
        out.push('\n');
    }
    out.push_str("    }\n");
    Some(out)
}
