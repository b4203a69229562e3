//! Bitfield round trips against C and against clang's own layout.
//!
//! 1. C → Rust: a host-gcc program fills `bf_*` values (fixtures/src/bitfields.h) and
//!    prints their bytes and its own reading of every member; the generated accessors
//!    must read exactly the values C wrote (and C's reading of every other member).
//! 2. Rust → C: the generated setters write the same values on zeroed values; the bytes
//!    must equal C's byte for byte, and C must read back exactly those values.
//! 3. clang, little-endian: every global of `fixtures/bpfel/bitfields_values.bpf.o`
//!    (bytes from `.data` at its ELF symbol's `st_value`/`st_size`), read through the
//!    generated accessors, must hold the values of `fixtures/src/bitfields_values.txt`.
//! 4. clang, BIG-endian: the same for `fixtures/bpfeb/bitfields_values.bpf.o` through the
//!    generated big-endian module (`bpfeb_bitfields_values_unguarded`, see its doc): this
//!    proves the big-endian bitfield accessors against values clang laid out itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zerocopy::{FromBytes, FromZeros, IntoBytes};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

// --- values as i128 ------------------------------------------------------------------

/// A member's value, exactly, as an i128.
trait Val {
    fn val(self) -> i128;
}

/// The value to pass to a setter (panics if it does not fit the setter's type).
trait FromVal: Sized {
    fn from_val(v: i128) -> Self;
}

macro_rules! prim_val {
    ($($t:ty)*) => {$(
        impl Val for $t {
            fn val(self) -> i128 {
                i128::from(self)
            }
        }
        impl FromVal for $t {
            fn from_val(v: i128) -> Self {
                <$t>::try_from(v).unwrap_or_else(|_| panic!("{v} does not fit {}", stringify!($t)))
            }
        }
    )*};
}
prim_val!(u8 u16 u32 u64 i8 i16 i32 i64);

macro_rules! enum_val {
    ($($m:ident :: $t:ident)*) => {$(
        impl Val for bpfgen_tests::$m::$t {
            fn val(self) -> i128 {
                self.0.val()
            }
        }
        impl FromVal for bpfgen_tests::$m::$t {
            fn from_val(v: i128) -> Self {
                Self(FromVal::from_val(v))
            }
        }
    )*};
}
enum_val!(
    bitfields::bf_color bitfields::bf_scolor bitfields::bf_tiny
    bitfields_values::bf_color bitfields_values::bf_scolor bitfields_values::bf_tiny
    bpfeb_bitfields_values_unguarded::bf_color
    bpfeb_bitfields_values_unguarded::bf_scolor
    bpfeb_bitfields_values_unguarded::bf_tiny
);

fn conv<T: FromVal>(v: i128) -> T {
    T::from_val(v)
}

/// Plain (non-accessor) integer fields of a little-endian module.
fn native<T>(x: T) -> T {
    x
}

/// Plain multi-byte integer fields of the big-endian module hold big-endian bytes.
trait FromBe {
    fn be_field(self) -> Self;
}
macro_rules! from_be {
    ($($t:ty)*) => {$(
        impl FromBe for $t {
            fn be_field(self) -> Self {
                <$t>::from_be(self)
            }
        }
    )*};
}
from_be!(u8 u16 u32 u64);
fn be<T: FromBe>(x: T) -> T {
    x.be_field()
}

// --- the members of every bf_* type --------------------------------------------------

/// `[accessor setter, …]` (bitfields, bytes-held and union members), `[field …]` (plain
/// integer fields), `[field: type …]` (nested structs).
macro_rules! bf_types {
    ($( $kw:ident $t:ident [$($bit:ident $set:ident),*] [$($fld:ident)*] [$($n:ident : $nt:ident)*] ;)*) => {
        /// (C spelling, accessor members, plain fields, nested members).
        const TYPES: &[(&str, &str, &[&str], &[&str], &[(&str, &str)])] = &[$(
            (
                stringify!($kw),
                stringify!($t),
                &[$(stringify!($bit)),*],
                &[$(stringify!($fld)),*],
                &[$((stringify!($n), stringify!($nt))),*],
            )
        ),*];

        /// Every member of a `ty` in `bytes`, by the little-endian `bitfields` module.
        fn read_le(ty: &str, bytes: &[u8]) -> Vec<(String, i128)> {
            read_all!(bitfields, native, read_le, ty, bytes, $( $t [$($bit)*] [$($fld)*] [$($n : $nt)*] ;)*)
        }

        /// The same through the `bitfields_values` module (its own generated types).
        fn read_values_le(ty: &str, bytes: &[u8]) -> Vec<(String, i128)> {
            read_all!(bitfields_values, native, read_values_le, ty, bytes, $( $t [$($bit)*] [$($fld)*] [$($n : $nt)*] ;)*)
        }

        /// The same through the big-endian module.
        fn read_values_be(ty: &str, bytes: &[u8]) -> Vec<(String, i128)> {
            read_all!(bpfeb_bitfields_values_unguarded, be, read_values_be, ty, bytes, $( $t [$($bit)*] [$($fld)*] [$($n : $nt)*] ;)*)
        }

        /// A zeroed `ty` with `fields` set through the generated setters, as bytes.
        fn write_le(ty: &str, fields: &[(&str, i128)]) -> Vec<u8> {
            match ty {
                $( stringify!($t) => {
                    let mut v = bpfgen_tests::bitfields::$t::new_zeroed();
                    for &(path, x) in fields {
                        match path {
                            $( stringify!($bit) => v.$set(conv(x)), )*
                            $( stringify!($fld) => v.$fld = conv(x), )*
                            _ => {}
                        }
                    }
                    $(
                        let prefix = concat!(stringify!($n), ".");
                        let sub: Vec<(&str, i128)> = fields
                            .iter()
                            .filter_map(|&(p, x)| p.strip_prefix(prefix).map(|p| (p, x)))
                            .collect();
                        v.$n = bpfgen_tests::bitfields::$nt::read_from_bytes(&write_le(stringify!($nt), &sub)).unwrap();
                    )*
                    v.as_bytes().to_vec()
                } )*
                _ => panic!("unknown type {ty}"),
            }
        }
    };
}

macro_rules! read_all {
    ($m:ident, $plain:ident, $recur:ident, $ty:expr, $bytes:expr,
     $( $t:ident [$($bit:ident)*] [$($fld:ident)*] [$($n:ident : $nt:ident)*] ;)*) => {{
        let (ty, bytes): (&str, &[u8]) = ($ty, $bytes);
        match ty {
            $( stringify!($t) => {
                let v = bpfgen_tests::$m::$t::read_from_bytes(bytes).unwrap_or_else(|_| {
                    panic!("{} bytes are not a {} ({} bytes)", bytes.len(), ty,
                        ::core::mem::size_of::<bpfgen_tests::$m::$t>())
                });
                #[allow(unused_mut)]
                let mut out: Vec<(String, i128)> = vec![
                    $( (stringify!($bit).to_string(), v.$bit().val()), )*
                    $( (stringify!($fld).to_string(), $plain(v.$fld).val()), )*
                ];
                $(
                    for (p, x) in $recur(stringify!($nt), v.$n.as_bytes()) {
                        out.push((format!("{}.{p}", stringify!($n)), x));
                    }
                )*
                out
            } )*
            _ => panic!("unknown type {ty}"),
        }
    }};
}

bf_types! {
    struct bf_unsigned [ua set_ua, ub set_ub, uc set_uc, ud set_ud] [] [];
    struct bf_signed [s3 set_s3, s5 set_s5, sc set_sc, ss set_ss, sll set_sll] [] [];
    struct bf_bool_enum [bflag set_bflag, color set_color, scolor set_scolor, tiny set_tiny, bflag2 set_bflag2] [] [];
    struct bf_storage [u8a set_u8a, u8b set_u8b, u16a set_u16a, u16b set_u16b, u32a set_u32a, u32b set_u32b, u64a set_u64a, u64b set_u64b] [] [];
    struct bf_span64 [sa set_sa, sb set_sb] [] [];
    struct bf_span32 [sx set_sx, sy set_sy] [] [];
    struct bf_cross [lead set_lead, cross32 set_cross32, m5 set_m5, n9 set_n9] [tail_byte] [];
    struct bf_full [full set_full, sfull set_sfull, full32 set_full32, x8 set_x8] [] [];
    struct bf_zero_width [za set_za, zb set_zb, zd set_zd] [zc] [];
    struct bf_unnamed_pad [pa set_pa, pb set_pb] [pc] [];
    struct bf_unnamed_align [] [qa qb] [];
    struct bf_mixed [f1 set_f1, f2 set_f2] [tag after] [];
    struct bf_mixed2 [g1 set_g1, g2 set_g2, g3 set_g3, h set_h] [before mid last] [];
    struct bf_packed [pa set_pa, pb set_pb, pc set_pc, pd set_pd] [ptag] [];
    struct bf_packed_mixed [kb set_kb, kc set_kc] [ka] [];
    union bf_union [ua3 set_ua3, ub7 set_ub7, uc40 set_uc40, us5 set_us5, uraw set_uraw] [] [];
    struct bf_widths [w1 set_w1, w2 set_w2, w3 set_w3, w4 set_w4, w5 set_w5, w6 set_w6, w7 set_w7] [] [];
    struct bf_widths_u8 [v1 set_v1, v2 set_v2, v3 set_v3, v4 set_v4, v5 set_v5, v6 set_v6, v7 set_v7] [] [];
    struct bf_widths_signed [s1 set_s1, s2 set_s2, s3 set_s3, s4 set_s4, s5 set_s5, s6 set_s6, s7 set_s7] [] [];
    struct bf_nested [nc set_nc] [na] [nm: bf_mixed ns: bf_signed];
}

/// The C spelling of a bf_* type.
fn c_type(ty: &str) -> String {
    let t = TYPES.iter().find(|t| t.1 == ty).unwrap();
    format!("{} {}", t.0, t.1)
}

/// Every member path of `ty` (nested ones dotted).
fn member_paths(ty: &str) -> Vec<String> {
    let t = TYPES
        .iter()
        .find(|t| t.1 == ty)
        .unwrap_or_else(|| panic!("{ty}"));
    let mut out: Vec<String> = t.2.iter().chain(t.3).map(|s| s.to_string()).collect();
    for (n, nt) in t.4 {
        out.extend(member_paths(nt).into_iter().map(|p| format!("{n}.{p}")));
    }
    out
}

/// The table above names every member bpfgen reports for every bf_* struct/union,
/// so no member escapes the round trips.
#[test]
fn member_table_covers_every_bf_member() {
    let obj = fixtures_dir().join("bpfel/bitfields.bpf.o");
    let model = bpfgen_core::load(&obj, &bpfgen_core::Options::default()).unwrap();
    let items = model.select(&bpfgen_core::Options::default()).unwrap();
    let reports = bpfgen_core::report::report(&model, &items).unwrap();
    let mut n = 0;
    for r in reports.iter().filter(|r| r.kind != "enum") {
        let mut want: Vec<String> = r.members.iter().filter_map(|m| m.c_name.clone()).collect();
        let t = TYPES
            .iter()
            .find(|t| t.1 == r.rust)
            .unwrap_or_else(|| panic!("type {} is missing from the table", r.rust));
        let mut have: Vec<String> =
            t.2.iter()
                .chain(t.3)
                .chain(t.4.iter().map(|x| &x.0))
                .map(|s| s.to_string())
                .collect();
        want.sort();
        have.sort();
        assert_eq!(have, want, "members of {}", r.rust);
        n += 1;
    }
    assert_eq!(
        n,
        TYPES.len(),
        "the table lists types the fixture does not have"
    );
}

// --- the cases -----------------------------------------------------------------------

const U64MAX: i128 = u64::MAX as i128;
const I64MIN: i128 = i64::MIN as i128;

/// (type, [(member path, value)]): negatives in signed bitfields, all-ones maximums,
/// adjacent fields, 64-bit fields, fields spanning units, bool, enum-typed.
const CASES: &[(&str, &[(&str, i128)])] = &[
    (
        "bf_unsigned",
        &[("ua", 1), ("ub", 7), ("uc", 4095), ("ud", 65535)],
    ),
    ("bf_unsigned", &[("ub", 5), ("uc", 0xabc), ("ud", 0x1234)]),
    (
        "bf_signed",
        &[
            ("s3", -4),
            ("s5", -16),
            ("sc", -8),
            ("ss", -512),
            ("sll", -(1 << 32)),
        ],
    ),
    (
        "bf_signed",
        &[
            ("s3", 3),
            ("s5", 15),
            ("sc", 7),
            ("ss", 511),
            ("sll", (1 << 32) - 1),
        ],
    ),
    (
        "bf_signed",
        &[("s3", -1), ("s5", 1), ("sc", -1), ("ss", 2), ("sll", -1)],
    ),
    (
        "bf_bool_enum",
        &[
            ("bflag", 1),
            ("color", 5),
            ("scolor", -4),
            ("tiny", 15),
            ("bflag2", 1),
        ],
    ),
    // 7 is no enumerator of bf_color but fits its 3 bits; scolor 3 is the maximum.
    (
        "bf_bool_enum",
        &[
            ("bflag", 0),
            ("color", 7),
            ("scolor", 3),
            ("tiny", 2),
            ("bflag2", 1),
        ],
    ),
    ("bf_bool_enum", &[("scolor", -1)]),
    (
        "bf_storage",
        &[
            ("u8a", 7),
            ("u8b", 31),
            ("u16a", 127),
            ("u16b", 511),
            ("u32a", 131071),
            ("u32b", 32767),
            ("u64a", 8589934591),
            ("u64b", 2147483647),
        ],
    ),
    (
        "bf_storage",
        &[
            ("u8a", 5),
            ("u8b", 21),
            ("u16a", 85),
            ("u16b", 426),
            ("u32a", 87381),
            ("u32b", 10922),
            ("u64a", 5726623061),
            ("u64b", 715827882),
        ],
    ),
    ("bf_span64", &[("sa", 0x3fffffff), ("sb", 0xff_ffff_ffff)]),
    ("bf_span64", &[("sa", 0x2345678), ("sb", 0xfe_dcba_9876)]),
    ("bf_span64", &[("sb", 0x80_0000_0001)]),
    ("bf_span32", &[("sx", 0xfffff), ("sy", 0x12345)]),
    (
        "bf_cross",
        &[
            ("lead", 0xfffff),
            ("cross32", 0xabcde),
            ("m5", 31),
            ("n9", 0x1ff),
            ("tail_byte", 0xee),
        ],
    ),
    ("bf_cross", &[("cross32", 0x80001), ("n9", 0x100)]),
    (
        "bf_full",
        &[
            ("full", U64MAX),
            ("sfull", I64MIN),
            ("full32", 0xffffffff),
            ("x8", 0xff),
        ],
    ),
    (
        "bf_full",
        &[
            ("full", 0x0123_4567_89ab_cdef),
            ("sfull", -2),
            ("full32", 0x80000001),
            ("x8", 0x5a),
        ],
    ),
    ("bf_full", &[("sfull", i64::MAX as i128)]),
    (
        "bf_zero_width",
        &[("za", 7), ("zb", 3), ("zc", 0xff), ("zd", 1)],
    ),
    ("bf_unnamed_pad", &[("pa", 7), ("pb", 15), ("pc", 255)]),
    ("bf_unnamed_align", &[("qa", 1), ("qb", 0xff)]),
    (
        "bf_mixed",
        &[("tag", 0xff), ("f1", 15), ("f2", 15), ("after", 0xffff)],
    ),
    (
        "bf_mixed",
        &[("tag", 0), ("f1", 0xa), ("f2", 5), ("after", 0x1234)],
    ),
    (
        "bf_mixed2",
        &[
            ("before", U64MAX),
            ("g1", 7),
            ("g2", 3),
            ("g3", 0xfffff),
            ("mid", 0xff),
            ("h", 0x7f),
            ("last", 0xffffffff),
        ],
    ),
    (
        "bf_mixed2",
        &[
            ("before", 0x0123_4567_89ab_cdef),
            ("g1", 5),
            ("g2", 2),
            ("g3", 0xfedcb),
            ("mid", 0x42),
            ("h", 0x55),
            ("last", 0xcafebabe),
        ],
    ),
    (
        "bf_packed",
        &[
            ("ptag", 0xff),
            ("pa", 0x3fffffff),
            ("pb", 0xff_ffff_ffff),
            ("pc", 7),
            ("pd", 0xfffff),
        ],
    ),
    (
        "bf_packed",
        &[
            ("ptag", 0x11),
            ("pa", 0x15555555),
            ("pb", 0x80_0000_0001),
            ("pc", 5),
            ("pd", 0x80001),
        ],
    ),
    (
        "bf_packed_mixed",
        &[("ka", 0x99), ("kb", 0x7f), ("kc", 0xffffffff)],
    ),
    ("bf_packed_mixed", &[("kb", 0x55), ("kc", 0x01020304)]),
    ("bf_union", &[("uc40", 0x12_3456_789a)]),
    ("bf_union", &[("uc40", 0xff_ffff_ffff)]),
    ("bf_union", &[("us5", -16)]),
    ("bf_union", &[("ub7", 0x7f)]),
    (
        "bf_widths",
        &[
            ("w1", 1),
            ("w2", 3),
            ("w3", 7),
            ("w4", 15),
            ("w5", 31),
            ("w6", 63),
            ("w7", 127),
        ],
    ),
    (
        "bf_widths",
        &[
            ("w1", 1),
            ("w2", 2),
            ("w3", 5),
            ("w4", 10),
            ("w5", 21),
            ("w6", 42),
            ("w7", 85),
        ],
    ),
    (
        "bf_widths_u8",
        &[
            ("v1", 1),
            ("v2", 3),
            ("v3", 7),
            ("v4", 15),
            ("v5", 31),
            ("v6", 63),
            ("v7", 127),
        ],
    ),
    (
        "bf_widths_u8",
        &[
            ("v1", 1),
            ("v2", 2),
            ("v3", 5),
            ("v4", 10),
            ("v5", 21),
            ("v6", 42),
            ("v7", 85),
        ],
    ),
    (
        "bf_widths_signed",
        &[
            ("s1", -1),
            ("s2", -2),
            ("s3", -4),
            ("s4", -8),
            ("s5", -16),
            ("s6", -32),
            ("s7", -64),
        ],
    ),
    (
        "bf_widths_signed",
        &[
            ("s1", 0),
            ("s2", 1),
            ("s3", 3),
            ("s4", 7),
            ("s5", 15),
            ("s6", 31),
            ("s7", 63),
        ],
    ),
    (
        "bf_widths_signed",
        &[
            ("s1", -1),
            ("s2", -1),
            ("s3", -1),
            ("s4", -1),
            ("s5", -1),
            ("s6", -1),
            ("s7", -1),
        ],
    ),
    (
        "bf_nested",
        &[
            ("na", 0xff),
            ("nm.tag", 1),
            ("nm.f1", 15),
            ("nm.after", 0xffff),
            ("nc", 31),
            ("ns.s3", -4),
            ("ns.ss", 511),
            ("ns.sll", -1),
        ],
    ),
];

// --- the C side ----------------------------------------------------------------------

fn c_lit(v: i128) -> String {
    if v == I64MIN {
        "(-9223372036854775807LL - 1)".to_string()
    } else if v < 0 {
        format!("({v}LL)")
    } else {
        format!("{v}ULL")
    }
}

/// A C program: `dump` writes every case and prints `case <i> <hex> <path>=<value>…`;
/// `read` reads `<i> <type> <hex>` lines from stdin and prints `read <i> <path>=<value>…`.
fn c_program() -> String {
    let mut s = String::from(
        r#"#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bitfields.h"

/* Prints a member, as signed if setting it to -1 reads back negative. */
#define PF(prefix, v, f) do { \
	__typeof__(*(v)) t_ = *(v); \
	t_.f = -1; \
	if (t_.f < 0) \
		printf(" %s%s=%lld", prefix, #f, (long long)(v)->f); \
	else \
		printf(" %s%s=%llu", prefix, #f, (unsigned long long)(v)->f); \
} while (0)

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;
	printf(" ");
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

"#,
    );
    for (_, ty, bits, plain, nested) in TYPES {
        let ct = c_type(ty);
        writeln!(s, "static void print_{ty}(const char *prefix, {ct} *v)\n{{").unwrap();
        for f in bits.iter().chain(plain.iter()) {
            writeln!(s, "\tPF(prefix, v, {f});").unwrap();
        }
        for (n, nt) in *nested {
            writeln!(
                s,
                "\t{{ char p[64]; snprintf(p, sizeof p, \"%s{n}.\", prefix); print_{nt}(p, &v->{n}); }}"
            )
            .unwrap();
        }
        s.push_str("}\n\n");
    }
    s.push_str("static void dump(void)\n{\n");
    for (i, (ty, fields)) in CASES.iter().enumerate() {
        let ct = c_type(ty);
        write!(s, "\t{{ {ct} v; memset(&v, 0, sizeof v);").unwrap();
        for (path, val) in *fields {
            write!(s, " v.{path} = {};", c_lit(*val)).unwrap();
        }
        writeln!(
            s,
            " printf(\"case {i}\"); hex(&v, sizeof v); print_{ty}(\"\", &v); printf(\"\\n\"); }}"
        )
        .unwrap();
    }
    s.push_str(
        r#"}

static int unhex(const char *h, unsigned char *out, size_t n)
{
	if (strlen(h) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned int b;
		if (sscanf(h + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	return 0;
}

static void read_stdin(void)
{
	char line[4096], ty[64], h[2048];
	int i;
	while (fgets(line, sizeof line, stdin)) {
		if (sscanf(line, "%d %63s %2047s", &i, ty, h) != 3) {
			fprintf(stderr, "bad line: %s", line);
			exit(1);
		}
"#,
    );
    for (_, ty, ..) in TYPES {
        let ct = c_type(ty);
        writeln!(
            s,
            "\t\tif (!strcmp(ty, \"{ty}\")) {{ {ct} v; if (unhex(h, (unsigned char *)&v, sizeof v)) {{ fprintf(stderr, \"bad hex for {ty}\\n\"); exit(1); }} printf(\"read %d\", i); print_{ty}(\"\", &v); printf(\"\\n\"); continue; }}"
        )
        .unwrap();
    }
    s.push_str(
        r#"		fprintf(stderr, "unknown type %s\n", ty);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "dump"))
		dump();
	else if (argc == 2 && !strcmp(argv[1], "read"))
		read_stdin();
	else
		return 2;
	return 0;
}
"#,
    );
    s
}

/// The compiled C program (in a temp dir that lives as long as the value).
struct CProg {
    _dir: tempfile::TempDir,
    exe: PathBuf,
}

fn compile_c() -> CProg {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bitfields_rt.c");
    let exe = dir.path().join("bitfields_rt");
    let program = c_program();
    std::fs::write(&src, &program).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        // -Wno-type-limits/-Wno-overflow: PF's `-1` into unsigned and `< 0` tests.
        .args([
            "-std=gnu11",
            "-O0",
            "-Wall",
            "-Wno-type-limits",
            "-Wno-overflow",
            "-o",
        ])
        .arg(&exe)
        .arg(&src)
        .arg("-I")
        .arg(fixtures_dir().join("src"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "the C round-trip program does not compile:\n{}\n--- program ---\n{program}",
        String::from_utf8_lossy(&out.stderr)
    );
    CProg { _dir: dir, exe }
}

fn parse_values(words: &[&str]) -> BTreeMap<String, i128> {
    words
        .iter()
        .map(|w| {
            let (k, v) = w
                .split_once('=')
                .unwrap_or_else(|| panic!("bad C output `{w}`"));
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

fn parse_hex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

/// Per case: the bytes C produced and C's reading of every member.
fn c_dump(prog: &CProg) -> Vec<(Vec<u8>, BTreeMap<String, i128>)> {
    let out = Command::new(&prog.exe).arg("dump").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let w: Vec<&str> = line.split(' ').collect();
        assert_eq!((w[0], w[1]), ("case", i.to_string().as_str()), "{line}");
        cases.push((parse_hex(w[2]), parse_values(&w[3..])));
    }
    assert_eq!(cases.len(), CASES.len());
    cases
}

fn to_map(v: Vec<(String, i128)>) -> BTreeMap<String, i128> {
    let n = v.len();
    let m: BTreeMap<String, i128> = v.into_iter().collect();
    assert_eq!(m.len(), n, "duplicate member paths");
    m
}

// --- 1 and 2: round trips with C -----------------------------------------------------

#[test]
fn c_writes_rust_reads_every_bitfield() {
    let prog = compile_c();
    let dumped = c_dump(&prog);
    let mut checked = 0;
    for (i, ((ty, fields), (bytes, c_read))) in CASES.iter().zip(&dumped).enumerate() {
        let rust = to_map(read_le(ty, bytes));
        let mut paths = member_paths(ty);
        paths.sort();
        assert_eq!(
            rust.keys().collect::<Vec<_>>(),
            paths.iter().collect::<Vec<_>>(),
            "case {i} {ty}: member lists"
        );
        assert_eq!(
            rust.keys().collect::<Vec<_>>(),
            c_read.keys().collect::<Vec<_>>(),
            "case {i} {ty}: member lists"
        );
        for (path, want) in *fields {
            assert_eq!(
                rust[*path], *want,
                "case {i}: C wrote {ty}.{path} = {want}, the Rust accessor reads {} (bytes {bytes:02x?})",
                rust[*path]
            );
            assert_eq!(
                c_read[*path], *want,
                "case {i}: C itself reads {ty}.{path} back as {}",
                c_read[*path]
            );
        }
        // Members not written (zero, or union aliases): whatever C reads.
        for (path, c_val) in c_read {
            assert_eq!(
                rust[path], *c_val,
                "case {i}: {ty}.{path}: C reads {c_val}, the Rust accessor reads {} (bytes {bytes:02x?})",
                rust[path]
            );
            checked += 1;
        }
    }
    println!(
        "C → Rust: {} cases, {checked} member reads equal to C",
        CASES.len()
    );
    assert!(checked > 200);
}

#[test]
fn rust_writes_c_reads_every_bitfield() {
    let prog = compile_c();
    let dumped = c_dump(&prog);
    let mut input = String::new();
    let mut produced = Vec::new();
    for (i, ((ty, fields), (c_bytes, _))) in CASES.iter().zip(&dumped).enumerate() {
        let bytes = write_le(ty, fields);
        assert_eq!(
            &bytes, c_bytes,
            "case {i} {ty} {fields:?}: the Rust setters produce {bytes:02x?}, C produced {c_bytes:02x?}"
        );
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(input, "{i} {ty} {hex}").unwrap();
        produced.push(bytes);
    }
    let mut child = Command::new(&prog.exe)
        .arg("read")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), CASES.len());
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let w: Vec<&str> = line.split(' ').collect();
        assert_eq!((w[0], w[1]), ("read", i.to_string().as_str()), "{line}");
        let c_read = parse_values(&w[2..]);
        let (ty, fields) = CASES[i];
        for (path, want) in fields {
            assert_eq!(
                c_read[*path], *want,
                "case {i}: Rust set {ty}.{path} = {want}, C reads {} (bytes {:02x?})",
                c_read[*path], produced[i]
            );
            checked += 1;
        }
        // Everything else C reads is what the Rust getters read from the same bytes.
        let rust = to_map(read_le(ty, &produced[i]));
        assert_eq!(rust, c_read, "case {i} {ty}");
    }
    println!(
        "Rust → C: {} cases, {checked} values set in Rust read back by C",
        CASES.len()
    );
}

// --- 3 and 4: clang's .data ----------------------------------------------------------

/// `global → (type, bytes)` of every `val_*` in `.data` of `obj`, with the byte order.
fn globals(obj: &Path) -> (bool, BTreeMap<String, (String, Vec<u8>)>) {
    use object::{Object, ObjectSection, ObjectSymbol};
    let data = std::fs::read(obj).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let section = file.section_by_name(".data").expect(".data");
    let sdata = section.data().unwrap();
    // Types from the source: `struct bf_x val_y = {` / `union bf_union val_union = {`.
    let src = std::fs::read_to_string(fixtures_dir().join("src/bitfields_values.bpf.c")).unwrap();
    let mut types = BTreeMap::new();
    for line in src.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if let [kw, ty, name, "=", "{"] = w.as_slice() {
            if (*kw == "struct" || *kw == "union") && name.starts_with("val_") {
                types.insert(name.to_string(), ty.to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    for sym in file.symbols() {
        if sym.section_index() != Some(section.index()) {
            continue;
        }
        let name = sym.name().unwrap();
        if !name.starts_with("val_") {
            continue;
        }
        let (off, size) = (sym.address() as usize, sym.size() as usize);
        let ty = types
            .get(name)
            .unwrap_or_else(|| panic!("no type for {name} in bitfields_values.bpf.c"));
        out.insert(
            name.to_string(),
            (ty.clone(), sdata[off..off + size].to_vec()),
        );
    }
    assert_eq!(
        out.keys().collect::<Vec<_>>(),
        types.keys().collect::<Vec<_>>(),
        "every val_* global of the source is in .data"
    );
    (file.is_little_endian(), out)
}

/// `(global, member path, value)` of bitfields_values.txt.
fn expected_values() -> Vec<(String, String, i128)> {
    std::fs::read_to_string(fixtures_dir().join("src/bitfields_values.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            assert_eq!(w.len(), 3, "bad line `{l}`");
            (w[0].to_string(), w[1].to_string(), w[2].parse().unwrap())
        })
        .collect()
}

/// Reads every member of a value of the named type from its bytes.
type Reader = fn(&str, &[u8]) -> Vec<(String, i128)>;

fn check_clang_values(obj: &str, little: bool, read: Reader) {
    let (is_le, globals) = globals(&fixtures_dir().join(obj));
    assert_eq!(is_le, little, "{obj}: byte order");
    let expected = expected_values();
    let mut read_by_global = BTreeMap::new();
    for (g, (ty, bytes)) in &globals {
        read_by_global.insert(g.clone(), to_map(read(ty, bytes)));
    }
    let mut lines = 0;
    for (g, path, want) in &expected {
        let got = read_by_global
            .get(g)
            .unwrap_or_else(|| panic!("{obj}: no global {g}"))
            .get(path)
            .unwrap_or_else(|| panic!("{obj}: {g} has no member {path}"));
        assert_eq!(
            *got, *want,
            "{obj}: {g}.{path}: clang put {want}, the generated accessor reads {got} (bytes {:02x?})",
            globals[g].1
        );
        lines += 1;
    }
    // Every member of every global is listed (the union only by its initialized member).
    for (g, members) in &read_by_global {
        for path in members.keys() {
            let listed = expected.iter().any(|(eg, ep, _)| eg == g && ep == path);
            assert!(
                listed || globals[g].0 == "bf_union",
                "{obj}: {g}.{path} is not in bitfields_values.txt"
            );
        }
    }
    println!(
        "{obj}: {lines} lines of bitfields_values.txt match ({} globals)",
        globals.len()
    );
    assert_eq!(lines, expected.len());
    assert!(globals.len() >= 29 && lines >= 140);
}

#[test]
fn clang_bpfel_values_read_through_generated_accessors() {
    check_clang_values("bpfel/bitfields_values.bpf.o", true, read_values_le);
}

#[test]
fn clang_bpfeb_values_read_through_big_endian_accessors() {
    check_clang_values("bpfeb/bitfields_values.bpf.o", false, read_values_be);
}

/// The little-endian `bitfields` module reads `bitfields_values` globals too (same
/// header, so the same types): the two generated modules agree.
#[test]
fn bitfields_module_reads_clang_values_too() {
    check_clang_values("bpfel/bitfields_values.bpf.o", true, read_le);
}

/// Sanity of the test itself: the big-endian accessors read the bpfel bytes
/// differently, so test 4 cannot pass by accident with little-endian logic.
#[test]
fn big_endian_accessors_differ_on_little_endian_bytes() {
    let (_, globals) = globals(&fixtures_dir().join("bpfel/bitfields_values.bpf.o"));
    let (ty, bytes) = &globals["val_cross"];
    let le = to_map(read_values_le(ty, bytes));
    let be = to_map(read_values_be(ty, bytes));
    assert_eq!(le["lead"], 0xabcde);
    assert_ne!(le["lead"], be["lead"]);
}
