//! The layout oracle at scale: every named struct and union of the running kernel's
//! BTF (`/sys/kernel/btf/vmlinux`), and every enum, against the host C compiler
//! compiling `bpftool btf dump file /sys/kernel/btf/vmlinux format c`.
//!
//! bpfgen's numbers come from `bpfgen_core::report::report` of a `--all` selection,
//! turned into checks by the walk the fixture oracle uses (`src/walk.rs`): `sizeof`,
//! `_Alignof`, the `offsetof` and `sizeof` of every member (recursing into anonymous
//! members with C designators), `__typeof__` size and alignment of anonymous member
//! types, and the bit range of every bitfield (set to -1 in a zeroed object, then
//! scanned). The C program is table-driven: one static array of constant expressions
//! (cheap for the compiler however long) and the bitfield scans split over many small
//! functions.
//!
//! Runs only where `/sys/kernel/btf/vmlinux` exists (it prints loudly that it skipped
//! otherwise); there it needs `bpftool` and `cc` (`.ci/run` installs both).
//!
//! Nothing here is specific to one kernel: there is no list of type names. What the
//! dump (bpftool 7.1, libbpf 1.1) cannot express is either repaired in the dump before
//! it is compiled, or excused by a proof computed from the BTF for that one mismatch;
//! every other difference fails the test.
//! - Enums whose BTF size is not 4 (`__packed` enums of 1 or 2 bytes; ENUM64): the dump
//!   spells every enum as a plain C enum (4 bytes unless a value needs 8). Each such
//!   definition gets `__attribute__((mode(QI)))` (`HI`, `DI`): exactly the BTF size,
//!   and that size as alignment, whatever the values ([`fix_dump`]; found by its first
//!   enumerator, an identifier the dump defines once). Sizes, offsets and bit ranges of
//!   the enums and of every type holding them are then compared exactly.
//! - Structs and unions with no members and a non-zero size (pahole dropped the
//!   members): the dump has an empty body, of size 0 in C. Each gets
//!   `char __bpfgen_pad[N];`, N the BTF size (alignment 1: also what bpfgen infers from
//!   a BTF that shows nothing). Only when two memberless types are spelled alike in the
//!   dump with different sizes is the body left alone; a mismatch of a type holding such
//!   a type by value is then excused, and counted.
//! - Alignment: for `aligned(N)` types libbpf 1.1 reproduces the offsets and the size
//!   with explicit padding (`long: 64;`) but emits no `aligned` attribute (and marks some
//!   such structs `packed`), so C's `_Alignof` can be below bpfgen's. A mismatch of an
//!   `_Alignof` or a `:typeof:align` is excused only when bpfgen's alignment A is above
//!   C's and [`AlignProof`], a derivation from the BTF written independently of
//!   bpfgen-core's layout code, finds exactly A: the smallest power of two that is at
//!   least what every member requires (its type's alignment, or the hole before it) and
//!   whose rounding of the end of the data gives the BTF size. So no alignment below A
//!   explains the BTF, and A does. bpfgen below C is never excused.
//! - Names the BTF defines more than once (one tag in different compilation units): the
//!   dump renames all but one `NAME___2`, `NAME___3`, …; each BTF definition is paired
//!   with the dumped definition of its member names. When member names do not tell them
//!   apart, the checks of every possible pairing are compiled, and the definitions must
//!   pair one-to-one with dumped definitions whose every check agrees.
//!
//! The test prints what each of these did. `BPFGEN_ORACLE_KEEP=DIR` keeps the dump as
//! bpftool wrote it (`bpftool.h`) and as compiled (`vmlinux.h`), the C program, the list
//! of mismatches (`mismatches.txt`) and of excused ones with their proofs (`excused.txt`)
//! in `DIR`.
//!
//! Also here: the closure of `task_struct` and `sk_buff` compiles, and a module's split
//! BTF on top of vmlinux (`--base`) generates and compiles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[path = "../src/walk.rs"]
#[allow(dead_code)]
mod walk;

#[path = "../src/btf_builder.rs"]
#[allow(dead_code)]
mod btf_builder;

#[path = "../support/rustc.rs"]
#[allow(dead_code)]
mod rustc;

use bpfgen_core::ir::{Ir, Kind, TypeId};
use bpfgen_core::report::TypeReport;
use walk::{CExpr, Check, Expected};

const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// What C printed for one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CValue {
    Num(u64),
    Bits {
        lo: u64,
        width: u64,
        contiguous: bool,
    },
    NoBits,
}

fn skip(test: &str, why: &str) {
    let line = "!".repeat(88);
    eprintln!("{line}\n!!! {test} SKIPPED: {why}\n{line}");
    println!("{test} SKIPPED: {why}");
}

/// The C program: prints one line per check, in check order (numbers first, then bit
/// scans), so no keys need to be printed or parsed.
fn c_program(checks: &[Check]) -> String {
    let mut s = String::with_capacity(checks.len() * 80);
    s.push_str("#include \"vmlinux.h\"\n#define offsetof(T, M) __builtin_offsetof(T, M)\n\n");
    // No libc headers: they could clash with kernel type names.
    // The sizes of the types the bit scans use: the scan buffer is as large as the largest.
    let scanned = checks
        .iter()
        .filter_map(|c| match &c.c {
            CExpr::BitScan { ctype, .. } => Some(ctype.as_str()),
            CExpr::Num(_) => None,
        })
        .collect::<BTreeSet<_>>();
    s.push_str("static const unsigned long bpfgen_sizes[] = {\n");
    for t in &scanned {
        writeln!(s, "\tsizeof({t}),").unwrap();
    }
    s.push_str("\t0\n};\n");
    s.push_str("static const unsigned long bpfgen_nums[] = {\n");
    for c in checks {
        if let CExpr::Num(e) = &c.c {
            writeln!(s, "\t{e},").unwrap();
        }
    }
    s.push_str("\t0\n};\n");
    s.push_str(
        r#"static unsigned char *bpfgen_buf;
static void bpfgen_scan(unsigned long n)
{
	long lo = -1, hi = -1, cnt = 0;
	for (unsigned long i = 0; i < n; i++) {
		unsigned char b = bpfgen_buf[i];
		if (!b)
			continue;
		for (int j = 0; j < 8; j++)
			if ((b >> j) & 1) {
				long bit = (long)(i * 8 + j);
				if (lo < 0)
					lo = bit;
				hi = bit;
				cnt++;
			}
	}
	__builtin_printf("b %ld %ld %d\n", lo, cnt, lo >= 0 && hi - lo + 1 == cnt);
}
"#,
    );
    let scans: Vec<(&str, &str)> = checks
        .iter()
        .filter_map(|c| match &c.c {
            CExpr::BitScan { ctype, desig } => Some((ctype.as_str(), desig.as_str())),
            CExpr::Num(_) => None,
        })
        .collect();
    // Many small functions: gcc's time grows faster than linearly with function size.
    let chunks: Vec<_> = scans.chunks(500).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        writeln!(s, "static void bpfgen_bits_{i}(void)\n{{").unwrap();
        for (ctype, desig) in *chunk {
            writeln!(
                s,
                "\t{{ {ctype} *v = (void *)bpfgen_buf; __builtin_memset(v, 0, sizeof *v); v->{desig} = -1; bpfgen_scan(sizeof *v); }}"
            )
            .unwrap();
        }
        s.push_str("}\n");
    }
    s.push_str(
        r#"int main(void)
{
	unsigned long max = 1;
	for (unsigned long i = 0; i < sizeof bpfgen_sizes / sizeof bpfgen_sizes[0]; i++)
		if (bpfgen_sizes[i] > max)
			max = bpfgen_sizes[i];
	unsigned char *p = __builtin_malloc(max + 4096);
	if (!p)
		return 1;
	bpfgen_buf = (unsigned char *)(((unsigned long)p + 4095) & ~4095UL);
	for (unsigned long i = 0; i + 1 < sizeof bpfgen_nums / sizeof bpfgen_nums[0]; i++)
		__builtin_printf("n %lu\n", bpfgen_nums[i]);
"#,
    );
    for i in 0..chunks.len() {
        writeln!(s, "\tbpfgen_bits_{i}();").unwrap();
    }
    s.push_str("\treturn 0;\n}\n");
    s
}

/// C's value for every check, in check order.
fn parse_c(out: &str, checks: &[Check]) -> Vec<CValue> {
    let mut nums = Vec::new();
    let mut bits = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["n", v] => nums.push(CValue::Num(v.parse().unwrap())),
            ["b", lo, cnt, contig] => {
                let lo: i64 = lo.parse().unwrap();
                bits.push(if lo < 0 {
                    CValue::NoBits
                } else {
                    CValue::Bits {
                        lo: lo as u64,
                        width: cnt.parse().unwrap(),
                        contiguous: *contig == "1",
                    }
                });
            }
            _ => panic!("unexpected C output line `{line}`"),
        }
    }
    let (mut n, mut b) = (nums.into_iter(), bits.into_iter());
    let out: Vec<CValue> = checks
        .iter()
        .map(|c| {
            match &c.c {
                CExpr::Num(_) => n.next(),
                CExpr::BitScan { .. } => b.next(),
            }
            .expect("the C program printed fewer lines than there are checks")
        })
        .collect();
    assert!(
        n.next().is_none() && b.next().is_none(),
        "the C program printed more lines than there are checks"
    );
    out
}

/// `NAME` of a dumped `NAME___N`.
fn base_name(n: &str) -> &str {
    match n.rsplit_once("___") {
        Some((b, k)) if k.parse::<u32>().is_ok() => b,
        _ => n,
    }
}

/// The member names of a BTF struct/union (named members only) or the enumerator
/// names of an enum, in order.
fn member_names(ir: &bpfgen_core::ir::Ir, id: TypeId) -> Vec<String> {
    match &ir.get(id).kind {
        Kind::Struct(c) | Kind::Union(c) => {
            c.members.iter().filter_map(|m| m.name.clone()).collect()
        }
        Kind::Enum(e) => e.values.iter().map(|v| v.0.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The top-level definitions in bpftool's dump of the tags in `wanted` (and their
/// `___N` renames): `(struct|union|enum, name)` → the names of its members (named
/// members at the outermost level, the names of named members of anonymous
/// struct/union members excluded, as in [`member_names`]) or enumerators, in order.
/// bpftool writes one declaration per line, tab-indented by depth.
fn dump_definitions(
    dump: &str,
    wanted: &BTreeSet<&str>,
) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    let mut lines = dump.lines();
    while let Some(line) = lines.next() {
        let Some(head) = line.strip_suffix(" {") else {
            continue;
        };
        let Some((word, name)) = head.split_once(' ') else {
            continue;
        };
        if !matches!(word, "struct" | "union" | "enum") || !wanted.contains(base_name(name)) {
            continue;
        }
        let mut names = Vec::new();
        let mut depth = 1usize;
        for l in lines.by_ref() {
            let t = l.trim();
            let (opens, closes) = (t.matches('{').count(), t.matches('}').count());
            if word == "enum" {
                if t.starts_with('}') {
                    break;
                }
                let n: String = t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.push(n);
                continue;
            }
            if depth == 1 && opens == 0 && closes == 0 {
                names.extend(decl_name(t));
            } else if closes > 0 && depth + opens == 1 + closes && t.starts_with('}') {
                // `} name;` closing an anonymous struct/union member (or `};`).
                names.extend(decl_name(t.trim_start_matches('}')));
            }
            depth = (depth + opens).saturating_sub(closes);
            if depth == 0 {
                break;
            }
        }
        out.insert((word.to_string(), name.to_string()), names);
    }
    out
}

/// The declared name of one dumped member declaration (`u64 x[4];`, `void (*f)(int);`,
/// `unsigned int b: 3;`), or `None` for padding (`long: 64;`) and `;`.
fn decl_name(decl: &str) -> Option<String> {
    let d = decl.trim().trim_end_matches(';').trim();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(p) = d.find("(*") {
        let n = ident(d[p..].trim_start_matches(['(', '*', ' ']));
        return (!n.is_empty()).then_some(n);
    }
    let (d, bitfield) = match d.rsplit_once(':') {
        Some((a, b)) if b.trim().parse::<u32>().is_ok() => (a.trim(), true),
        _ => (d, false),
    };
    let d = d.split('[').next().unwrap_or(d).trim();
    let last = d
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    let padding = bitfield && matches!(last, "long" | "int" | "short" | "char");
    (!last.is_empty() && !padding).then(|| last.to_string())
}

fn matches(expected: Expected, got: CValue) -> bool {
    match (expected, got) {
        (Expected::Num(want), CValue::Num(got)) => want == got,
        (
            Expected::Bits { bit_offset, bits },
            CValue::Bits {
                lo,
                width,
                contiguous,
            },
        ) => contiguous && lo == bit_offset && width == bits,
        _ => false,
    }
}

// --- repairing the dump ----------------------------------------------------------------

/// What [`fix_dump`] did.
#[derive(Debug, Default)]
struct DumpFix {
    /// The dump to compile.
    text: String,
    /// Each dumped enum given a `mode`: its spelling and BTF size.
    enums: Vec<(String, u32)>,
    /// Each dumped empty struct/union body given a pad: its spelling and BTF size.
    padded: Vec<(String, u32)>,
    /// Memberless structs/unions of non-zero size whose dumped body was not padded.
    unpadded: BTreeSet<TypeId>,
    /// Enums of a size other than 4 the dump has no definition for (or whose first
    /// enumerator other enums of other sizes share): left as dumped.
    enums_unfixed: Vec<String>,
}

/// The GCC machine mode of an integer of `size` bytes.
fn int_mode(size: u32) -> Option<&'static str> {
    match size {
        1 => Some("QI"),
        2 => Some("HI"),
        4 => Some("SI"),
        8 => Some("DI"),
        16 => Some("TI"),
        _ => None,
    }
}

/// How the dump can spell a struct/union definition: by tag (a `___N` rename stripped),
/// as the anonymous type of a typedef, or inline as the anonymous type of a member
/// (named or not).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Spelling {
    Tag(&'static str, String),
    Typedef(String),
    Member(&'static str, Option<String>),
}

impl std::fmt::Display for Spelling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spelling::Tag(kw, n) => write!(f, "{kw} {n}"),
            Spelling::Typedef(n) => write!(f, "typedef {n}"),
            Spelling::Member(kw, Some(n)) => write!(f, "{kw} {{}} member `{n}`"),
            Spelling::Member(kw, None) => write!(f, "{kw} {{}} unnamed member"),
        }
    }
}

/// Follows qualifiers and arrays (what the dump prints inline around an anonymous type).
fn through_quals_arrays(ir: &Ir, mut id: TypeId) -> TypeId {
    for _ in 0..=ir.types.len() {
        match &ir.get(id).kind {
            Kind::Qual { target } | Kind::Array { elem: target, .. } => id = *target,
            _ => break,
        }
    }
    id
}

/// Follows qualifiers, typedefs and arrays to the element type.
fn element(ir: &Ir, mut id: TypeId) -> TypeId {
    for _ in 0..=ir.types.len() {
        match &ir.get(id).kind {
            Kind::Qual { target } | Kind::Typedef { target } | Kind::Array { elem: target, .. } => {
                id = *target
            }
            _ => break,
        }
    }
    id
}

/// The struct/union keyword and the composite of type `id`, if it is one.
fn composite(ir: &Ir, id: TypeId) -> Option<(&'static str, &bpfgen_core::ir::Composite)> {
    match &ir.get(id).kind {
        Kind::Struct(c) => Some(("struct", c)),
        Kind::Union(c) => Some(("union", c)),
        _ => None,
    }
}

/// `struct`/`union` and the tag of a dumped opening line (`struct foo {`, `union {`,
/// `typedef struct {`, `const union {`), or the same for `enum`.
fn opener<'a>(head: &'a str, keywords: &[&'static str]) -> Option<(&'static str, Option<&'a str>)> {
    let toks: Vec<&str> = head.split(' ').collect();
    let n = toks.len();
    for (i, t) in toks.iter().enumerate() {
        if let Some(kw) = keywords.iter().find(|k| *k == t) {
            if i + 1 == n {
                return Some((kw, None));
            }
            if i + 2 == n {
                return Some((kw, Some(toks[i + 1])));
            }
        }
    }
    None
}

/// Repairs what bpftool's C dump gets wrong about sizes (see the module doc):
/// `__attribute__((mode(..)))` on every enum whose BTF size is not 4, and a
/// `char __bpfgen_pad[N];` in every empty struct/union body whose BTF type has a
/// non-zero size. Only the BTF is trusted: an enum is found by its first enumerator, an
/// empty body by how it is spelled, and a body is padded only when every memberless BTF
/// type spelled that way has the same size.
fn fix_dump(ir: &Ir, dump: &str) -> DumpFix {
    // BTF: enum sizes by first enumerator (C enumerators are unique in a translation unit).
    let mut enum_sizes: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    let mut odd_enums: Vec<(TypeId, &str)> = Vec::new();
    // BTF: sizes of memberless structs/unions by how the dump can spell them.
    let mut memberless: BTreeMap<Spelling, BTreeSet<u32>> = BTreeMap::new();
    let mut spellings_of: BTreeMap<TypeId, Vec<Spelling>> = BTreeMap::new();
    let empty_anon = |id: TypeId| -> Option<&'static str> {
        let (kw, c) = composite(ir, id)?;
        (c.members.is_empty() && ir.get(id).name.is_none()).then_some(kw)
    };
    for id in 0..ir.types.len() as TypeId {
        let t = ir.get(id);
        match &t.kind {
            Kind::Enum(e) => {
                if let Some((first, _)) = e.values.first() {
                    enum_sizes.entry(first).or_default().insert(e.size);
                    if e.size != 4 {
                        odd_enums.push((id, first));
                    }
                }
            }
            Kind::Typedef { target } => {
                let to = ir.strip_quals(*target).unwrap_or(*target);
                if let (Some(name), Some(_)) = (&t.name, empty_anon(to)) {
                    let s = Spelling::Typedef(name.clone());
                    spellings_of.entry(to).or_default().push(s);
                }
            }
            Kind::Struct(c) | Kind::Union(c) => {
                let kw = if matches!(t.kind, Kind::Struct(_)) {
                    "struct"
                } else {
                    "union"
                };
                if c.members.is_empty() {
                    if let Some(name) = &t.name {
                        let s = Spelling::Tag(kw, name.clone());
                        spellings_of.entry(id).or_default().push(s);
                    }
                }
                for m in &c.members {
                    let to = through_quals_arrays(ir, m.ty);
                    if let Some(kw) = empty_anon(to) {
                        let s = Spelling::Member(kw, m.name.clone());
                        spellings_of.entry(to).or_default().push(s);
                    }
                }
            }
            _ => {}
        }
    }
    for (&id, spellings) in &spellings_of {
        let size = composite(ir, id).map_or(0, |(_, c)| c.size);
        for s in spellings {
            memberless.entry(s.clone()).or_default().insert(size);
        }
    }

    let mut fix = DumpFix::default();
    let lines: Vec<&str> = dump.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len() + 16);
    let mut patched_enums: BTreeSet<&str> = BTreeSet::new();
    let mut padded: BTreeSet<Spelling> = BTreeSet::new();
    let mut close_with: BTreeMap<usize, String> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        out.push(match close_with.remove(&i) {
            Some(attr) => line.replacen('}', &format!("}} {attr}"), 1),
            None => line.to_string(),
        });
        let t = line.trim_start_matches('\t');
        let indent = line.len() - t.len();
        let Some(head) = t.strip_suffix(" {") else {
            continue;
        };
        let Some(next) = lines.get(i + 1) else {
            continue;
        };
        let next_t = next.trim_start();
        if let Some((_, tag)) = opener(head, &["enum"]) {
            if next_t.starts_with('}') {
                continue;
            }
            let first: String = next_t
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let Some((first, sizes)) = enum_sizes.get_key_value(first.as_str()) else {
                continue;
            };
            let (Some(&size), 1) = (sizes.first(), sizes.len()) else {
                continue;
            };
            let Some(mode) = int_mode(size).filter(|_| size != 4) else {
                continue;
            };
            let Some(close) =
                (i + 1..lines.len()).find(|&j| lines[j].trim_start().starts_with('}'))
            else {
                continue;
            };
            close_with.insert(close, format!("__attribute__((mode({mode})))"));
            patched_enums.insert(first);
            let spelled = match tag {
                Some(tag) => format!("enum {tag}"),
                None => format!("enum <anonymous {first}>"),
            };
            fix.enums.push((spelled, size));
        } else if let Some((kw, tag)) = opener(head, &["struct", "union"]) {
            if !next_t.starts_with('}') {
                continue;
            }
            let declared = decl_name(&next_t[1..]);
            let spelling = match (indent, tag) {
                (0, Some(tag)) => Spelling::Tag(kw, base_name(tag).to_string()),
                (0, None) if head.starts_with("typedef ") => match declared {
                    Some(n) => Spelling::Typedef(n),
                    None => continue,
                },
                (0, None) => continue,
                (_, None) => Spelling::Member(kw, declared),
                (_, Some(_)) => continue,
            };
            let Some(sizes) = memberless.get(&spelling) else {
                continue;
            };
            if let (Some(&size), 1) = (sizes.first(), sizes.len()) {
                if size > 0 {
                    out.push(format!(
                        "{}char __bpfgen_pad[{size}];",
                        "\t".repeat(indent + 1)
                    ));
                    fix.padded.push((spelling.to_string(), size));
                }
                padded.insert(spelling);
            }
        }
    }
    fix.text = out.join("\n");
    fix.text.push('\n');
    for (id, spellings) in &spellings_of {
        let size = composite(ir, *id).map_or(0, |(_, c)| c.size);
        if size > 0 && !spellings.iter().any(|s| padded.contains(s)) {
            fix.unpadded.insert(*id);
        }
    }
    for (id, first) in odd_enums {
        if !patched_enums.contains(first) {
            let name = ir.name(id).unwrap_or("<anonymous>");
            fix.enums_unfixed.push(format!(
                "enum {name} (BTF id {id}, first enumerator {first})"
            ));
        }
    }
    fix
}

/// Whether type `id` is, or holds by value (through members, arrays, typedefs and
/// qualifiers), one of `these`.
fn holds_any(ir: &Ir, id: TypeId, these: &BTreeSet<TypeId>) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![id];
    while let Some(id) = stack.pop() {
        if these.contains(&id) {
            return true;
        }
        if !seen.insert(id) {
            continue;
        }
        match &ir.get(id).kind {
            Kind::Struct(c) | Kind::Union(c) => stack.extend(c.members.iter().map(|m| m.ty)),
            Kind::Array { elem: t, .. }
            | Kind::Typedef { target: t }
            | Kind::Qual { target: t } => stack.push(*t),
            _ => {}
        }
    }
    false
}

// --- proving an alignment from the BTF ---------------------------------------------------

/// What sets the alignment [`AlignProof`] derives for a struct or union.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Evidence {
    /// Nothing requires more than 1.
    Nothing,
    /// Member `member`'s type has alignment `align`.
    MemberType { member: usize, align: u32 },
    /// Member `member` sits at `off`, after data ending at `prev_end`: only an
    /// alignment of at least `align` puts it there.
    Hole {
        member: usize,
        off: u32,
        prev_end: u32,
        align: u32,
    },
    /// The data ends at `end` and the size is `size`: a smaller alignment rounds `end`
    /// to less.
    Tail { end: u32, size: u32 },
}

/// The alignment the BTF shows for a struct or union.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shown {
    align: u32,
    /// `align` rounds the end of the data to exactly the BTF size (else it is only a
    /// lower bound, and proves nothing about the type itself).
    exact: bool,
    /// The BTF shows packing (a member its type's alignment does not place, a bitfield
    /// straddling a unit of its type, or a size its members' alignment does not divide):
    /// members' types then require nothing, only holes do.
    packed: bool,
    evidence: Evidence,
}

/// The alignment of each type, derived from the BTF alone (independently of
/// `bpfgen_core::layout`), under C's rules: a member sits at its offset rounded up to
/// its alignment, a composite's alignment is at least each member's (unless packed),
/// and its size is the end of its data rounded up to its alignment.
///
/// For a struct or union: every member requires its type's alignment (nothing when the
/// BTF shows packing), or, when it sits further than that puts it, the smallest power of
/// two that puts it there (the evidence of `aligned(N)` on the member); the alignment is
/// the smallest power of two at least all of these whose rounding of the end of the data
/// gives the size. Scalars are aligned to their size, pointers to 8.
struct AlignProof<'a> {
    ir: &'a Ir,
    memo: HashMap<TypeId, Shown>,
}

fn round_up(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

impl<'a> AlignProof<'a> {
    fn new(ir: &'a Ir) -> Self {
        AlignProof {
            ir,
            memo: HashMap::new(),
        }
    }

    /// The alignment of a value of type `id` (a lower bound where the BTF is not exact).
    fn align_of(&mut self, id: TypeId) -> u32 {
        let e = element(self.ir, id);
        match &self.ir.get(e).kind {
            Kind::Int(i) => i.size.max(1),
            Kind::Float { size } => (*size).max(1),
            Kind::Ptr { .. } => 8,
            Kind::Enum(en) => en.size.max(1),
            Kind::Struct(_) | Kind::Union(_) => self.composite(e).align,
            _ => 1,
        }
    }

    /// The byte size of a value of type `id`.
    fn size_of(&self, id: TypeId) -> u64 {
        self.ir.size_of(id).unwrap_or(0)
    }

    /// [`Shown`] for struct/union `id`.
    fn composite(&mut self, id: TypeId) -> Shown {
        if let Some(s) = self.memo.get(&id) {
            return *s;
        }
        // A type containing itself by value is not C: a placeholder breaks the cycle.
        self.memo.insert(
            id,
            Shown {
                align: 1,
                exact: false,
                packed: false,
                evidence: Evidence::Nothing,
            },
        );
        let s = self.derive(id);
        self.memo.insert(id, s);
        s
    }

    fn derive(&mut self, id: TypeId) -> Shown {
        let ir = self.ir;
        let Some((kw, c)) = composite(ir, id) else {
            panic!("BTF id {id} is not a struct or union");
        };
        let is_union = kw == "union";
        let size = u64::from(c.size);
        // Per member: first bit, end bit, bitfield?, type alignment, type size.
        struct M {
            start: u64,
            end: u64,
            bitfield: bool,
            align: u64,
            size: u64,
        }
        let mut ms = Vec::with_capacity(c.members.len());
        for m in &c.members {
            let align = u64::from(self.align_of(m.ty));
            let tsize = self.size_of(m.ty);
            let mut bits = m.bits.map(u64::from);
            let mut start = u64::from(m.bit_offset);
            // Legacy bitfields (no kind flag): the INT carries its own width and offset.
            if bits.is_none() {
                if let Kind::Int(int) = &ir.get(ir.strip(m.ty).unwrap_or(m.ty)).kind {
                    if int.bits != int.size * 8 || int.bit_offset != 0 {
                        bits = Some(u64::from(int.bits));
                        start += u64::from(int.bit_offset);
                    }
                }
            }
            ms.push(M {
                start,
                end: start + bits.unwrap_or(tsize * 8),
                bitfield: bits.is_some(),
                align,
                size: tsize,
            });
        }
        let natural = ms.iter().map(|m| m.align).max().unwrap_or(1).max(1);
        let packed = size % natural != 0
            || ms.iter().any(|m| {
                if m.bitfield {
                    let unit = (m.size * 8).max(1);
                    m.start / unit != (m.end.max(m.start + 1) - 1) / unit
                } else {
                    (m.start / 8) % m.align != 0
                }
            });
        let mut order: Vec<usize> = (0..ms.len()).collect();
        order.sort_by_key(|&i| ms[i].start);
        let (mut need, mut evidence) = (1u64, Evidence::Nothing);
        let mut prev_end = 0u64;
        for &i in &order {
            let m = &ms[i];
            let floor = if packed { 1 } else { m.align };
            let off = m.start / 8;
            let mut req = (
                floor,
                Evidence::MemberType {
                    member: i,
                    align: floor as u32,
                },
            );
            if !m.bitfield && !is_union && off > round_up(prev_end, floor) {
                let hole = (0..=30)
                    .map(|k| 1u64 << k)
                    .find(|&a| a >= floor && off % a == 0 && round_up(prev_end, a) == off);
                if let Some(a) = hole {
                    req = (
                        a,
                        Evidence::Hole {
                            member: i,
                            off: off as u32,
                            prev_end: prev_end as u32,
                            align: a as u32,
                        },
                    );
                }
            }
            if req.0 > need {
                (need, evidence) = req;
            }
            prev_end = prev_end.max(m.end.div_ceil(8));
        }
        let end = ms.iter().map(|m| m.end.div_ceil(8)).max().unwrap_or(0);
        match (0..=30)
            .map(|k| 1u64 << k)
            .find(|&a| a >= need && round_up(end, a) == size)
        {
            Some(a) => Shown {
                align: a as u32,
                exact: true,
                packed,
                evidence: if a > need {
                    Evidence::Tail {
                        end: end as u32,
                        size: size as u32,
                    }
                } else {
                    evidence
                },
            },
            None => Shown {
                align: need as u32,
                exact: false,
                packed,
                evidence,
            },
        }
    }

    /// Whether the BTF proves that struct/union `id` (through typedefs and qualifiers)
    /// is aligned to exactly `align`: the derivation is exact and gives `align`, which
    /// divides the size. The evidence, spelled out, when it does.
    fn proves(&mut self, id: TypeId, align: u64) -> Option<(&'static str, String)> {
        let id = self.ir.strip(id).ok()?;
        let size = composite(self.ir, id)?.1.size;
        let s = self.composite(id);
        (s.exact && u64::from(s.align) == align && u64::from(size) % align == 0)
            .then(|| self.describe(id, s))
    }

    /// The kind of evidence and the evidence spelled out.
    fn describe(&self, id: TypeId, s: Shown) -> (&'static str, String) {
        let member = |i: usize| -> String {
            let c = composite(self.ir, id).expect("a composite").1;
            match &c.members[i].name {
                Some(n) => format!("member `{n}`"),
                None => format!("anonymous member {i}"),
            }
        };
        let packed = if s.packed { " (packed)" } else { "" };
        match s.evidence {
            Evidence::Nothing => ("nothing", format!("nothing requires more than 1{packed}")),
            Evidence::MemberType { member: i, align } => (
                "member type",
                format!("{}'s type is {align}-aligned{packed}", member(i)),
            ),
            Evidence::Hole {
                member: i,
                off,
                prev_end,
                align,
            } => (
                "hole",
                format!(
                    "{} at {off} after data ending at {prev_end} needs {align}{packed}",
                    member(i)
                ),
            ),
            Evidence::Tail { end, size } => {
                ("tail", format!("data ends at {end}, size {size}{packed}"))
            }
        }
    }
}

/// The type of `__typeof__(((T *)0)->desig)` for struct/union `top` and a check's
/// designator (`a.b[0]`, members of unnamed members flattened as in C).
fn typeof_target(ir: &Ir, top: TypeId, desig: &str) -> Option<TypeId> {
    fn find(ir: &Ir, id: TypeId, name: &str, depth: usize) -> Option<TypeId> {
        let id = ir.strip(id).ok()?;
        let (_, c) = composite(ir, id)?;
        if depth > 64 {
            return None;
        }
        c.members.iter().find_map(|m| match &m.name {
            Some(n) if n == name => Some(m.ty),
            Some(_) => None,
            None => find(ir, m.ty, name, depth + 1),
        })
    }
    let mut cur = top;
    for comp in desig.split('.') {
        let (name, dims) = match comp.find('[') {
            Some(p) => (&comp[..p], comp[p..].matches("[0]").count()),
            None => (comp, 0),
        };
        cur = find(ir, cur, name, 0)?;
        for _ in 0..dims {
            cur = match &ir.get(ir.strip(cur).ok()?).kind {
                Kind::Array { elem, .. } => *elem,
                _ => return None,
            };
        }
    }
    ir.strip(cur).ok()
}

// --- judging one check --------------------------------------------------------------------

/// What a check came to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    Agrees,
    /// An alignment below bpfgen's in C, bpfgen's proven from the BTF: (bpfgen, C,
    /// the kind of evidence, the evidence).
    AlignmentProven(u64, u64, &'static str, String),
    /// The type holds a memberless struct/union whose dumped body could not be padded.
    Unpadded,
    Differs,
}

struct Judge<'a> {
    ir: &'a Ir,
    proof: AlignProof<'a>,
    unpadded: &'a BTreeSet<TypeId>,
}

impl<'a> Judge<'a> {
    fn new(ir: &'a Ir, unpadded: &'a BTreeSet<TypeId>) -> Self {
        Judge {
            ir,
            proof: AlignProof::new(ir),
            unpadded,
        }
    }

    /// Check `key` of the type `top` (its BTF id, when the key names one): bpfgen says
    /// `expected`, C says `got`.
    fn judge(
        &mut self,
        top: Option<TypeId>,
        key: &str,
        expected: Expected,
        got: CValue,
    ) -> Verdict {
        if matches(expected, got) {
            return Verdict::Agrees;
        }
        let (Some(top), Some((_, what))) = (top, key.split_once('|')) else {
            return Verdict::Differs;
        };
        if let (Expected::Num(b), CValue::Num(c)) = (expected, got) {
            let target = if what == "_Alignof" {
                Some(top)
            } else {
                what.strip_suffix(":typeof:align")
                    .and_then(|d| typeof_target(self.ir, top, d))
            };
            if let Some(t) = target.filter(|_| c < b) {
                if let Some((kind, why)) = self.proof.proves(t, b) {
                    return Verdict::AlignmentProven(b, c, kind, why);
                }
            }
        }
        if !self.unpadded.is_empty() && holds_any(self.ir, top, self.unpadded) {
            return Verdict::Unpadded;
        }
        Verdict::Differs
    }
}

// --- names the BTF defines more than once ------------------------------------------------

/// Definitions of one name whose member names do not tell apart which dumped
/// definition is which: paired by layout instead.
#[derive(Debug)]
struct Ambiguous {
    /// `tag NAME` or `typedef NAME`.
    name: String,
    /// Per BTF definition (report index): the dumped spellings it may be.
    candidates: Vec<(usize, Vec<String>)>,
}

/// What [`resolve_duplicates`] found.
#[derive(Debug, Default)]
struct Duplicates {
    /// `spelling = BTF id N`, paired by member names.
    resolved: Vec<String>,
    ambiguous: Vec<Ambiguous>,
    /// BTF definitions no dumped definition can be (a bug of this test's dump reading).
    unmatched: Vec<String>,
}

/// Names the kernel's BTF defines more than once (different definitions of one tag in
/// different compilation units, which pahole keeps apart): bpftool's dump keeps one as
/// `NAME` and renames the others `NAME___2`, `NAME___3`, … in the order it first prints
/// them, not in BTF id order. Each BTF definition is paired with the dumped definition
/// that has the same member (or enumerator) names, in order, and its report's C
/// spelling set to it. Where that is not one-to-one, the reports' spellings are cleared
/// (the main walk does not check them) and the candidates returned, for
/// [`pair_by_layout`].
fn resolve_duplicates(
    model: &bpfgen_core::Model,
    reports: &mut [TypeReport],
    dump: &str,
) -> Duplicates {
    // Structs, unions and enums share C's tag namespace; typedef names (of anonymous
    // types) are apart.
    let mut by_c: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        if let Some(c) = &r.c_type {
            let key = match ["struct ", "union ", "enum "]
                .iter()
                .find_map(|w| c.strip_prefix(w))
            {
                Some(t) => format!("tag {t}"),
                None => format!("typedef {c}"),
            };
            by_c.entry(key).or_default().push(i);
        }
    }
    let dup_names: BTreeSet<&str> = by_c
        .iter()
        .filter(|(_, idx)| idx.len() > 1)
        .filter_map(|(k, _)| k.strip_prefix("tag "))
        .collect();
    let dumped = dump_definitions(dump, &dup_names);
    let dumped_typedefs = dump_typedef_names(dump);
    let mut d = Duplicates::default();
    for (c, idx) in by_c.iter().filter(|(_, idx)| idx.len() > 1) {
        let (space, bare) = c.split_once(' ').expect("`tag X` or `typedef X`");
        // Each BTF definition's candidates: the dumped definitions of its member names
        // (of typedefs, whose bodies are not read: every dumped rename).
        let candidates: Vec<(usize, Vec<String>)> = idx
            .iter()
            .map(|&i| {
                let found: Vec<String> = if space == "tag" {
                    let (word, names) = (reports[i].kind, member_names(&model.ir, reports[i].id));
                    dumped
                        .iter()
                        .filter(|((w, n), m)| w == word && base_name(n) == bare && **m == names)
                        .map(|((w, n), _)| format!("{w} {n}"))
                        .collect()
                } else {
                    dumped_typedefs
                        .iter()
                        .filter(|n| base_name(n) == bare)
                        .cloned()
                        .collect()
                };
                (i, found)
            })
            .collect();
        for (i, found) in &candidates {
            if found.is_empty() {
                d.unmatched.push(format!(
                    "{} `{}` (BTF id {})",
                    reports[*i].kind, bare, reports[*i].id
                ));
            }
        }
        let distinct: BTreeSet<&String> = candidates.iter().flat_map(|(_, f)| f).collect();
        let one_to_one =
            candidates.iter().all(|(_, f)| f.len() == 1) && distinct.len() == candidates.len();
        if one_to_one {
            for (i, found) in candidates {
                d.resolved
                    .push(format!("{} = BTF id {}", found[0], reports[i].id));
                reports[i].c_type = Some(found[0].clone());
            }
        } else {
            for &i in idx {
                reports[i].c_type = None;
            }
            d.ambiguous.push(Ambiguous {
                name: c.clone(),
                candidates,
            });
        }
    }
    d
}

/// The typedef names the dump defines (`typedef … NAME;` or `} NAME;` at the top level).
fn dump_typedef_names(dump: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_typedef = false;
    for l in dump.lines() {
        if l.starts_with("typedef ") {
            in_typedef = !l.ends_with(';');
            if !in_typedef {
                names.extend(decl_name(l));
            }
        } else if in_typedef && l.starts_with('}') {
            in_typedef = false;
            names.extend(decl_name(&l[1..]));
        }
    }
    names
}

/// A one-to-one pairing of definitions with dumped spellings: `options[i]` lists the
/// spellings definition `i` may be, each with whether all its checks agree. Returns
/// the index chosen per definition, among agreeing ones, all spellings distinct.
fn pair_by_layout(options: &[Vec<(String, bool)>]) -> Option<Vec<usize>> {
    fn go(
        options: &[Vec<(String, bool)>],
        used: &mut Vec<String>,
        chosen: &mut Vec<usize>,
    ) -> bool {
        let i = chosen.len();
        if i == options.len() {
            return true;
        }
        for (j, (name, ok)) in options[i].iter().enumerate() {
            if *ok && !used.contains(name) {
                used.push(name.clone());
                chosen.push(j);
                if go(options, used, chosen) {
                    return true;
                }
                used.pop();
                chosen.pop();
            }
        }
        false
    }
    let mut chosen = Vec::new();
    go(options, &mut Vec::new(), &mut chosen).then_some(chosen)
}
/// Runs `cmd`, panicking with its stderr (first lines) when it fails.
fn run(what: &str, cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(60)
            .collect::<Vec<_>>()
            .join("\n")
    );
    out.stdout
}

/// One pairing tried for an ambiguous duplicate: definition `def` (report index
/// `report`) of group `group` as its `cand`-th candidate spelling; its checks are
/// `range` of all checks.
struct Trial {
    group: usize,
    def: usize,
    cand: usize,
    report: usize,
    range: Range<usize>,
}

/// What the comparison of some checks came to.
#[derive(Default)]
struct Outcome {
    /// Mismatches: failures.
    bad: Vec<String>,
    /// (check key, bpfgen's alignment, C's, kind of evidence, the evidence).
    proven: Vec<(String, u64, u64, &'static str, String)>,
    /// Keys of mismatches of types holding unpadded memberless types.
    unpadded: Vec<String>,
}

impl Outcome {
    fn add(&mut self, key: &str, expected: Expected, got: CValue, v: Verdict) {
        match v {
            Verdict::Agrees => {}
            Verdict::AlignmentProven(b, c, kind, why) => {
                self.proven.push((key.to_string(), b, c, kind, why))
            }
            Verdict::Unpadded => self.unpadded.push(key.to_string()),
            Verdict::Differs => self
                .bad
                .push(format!("`{key}`: bpfgen says {expected:?}, C says {got:?}")),
        }
    }

    fn merge(&mut self, o: Outcome) {
        self.bad.extend(o.bad);
        self.proven.extend(o.proven);
        self.unpadded.extend(o.unpadded);
    }
}

#[test]
fn vmlinux_layout_oracle() {
    if !Path::new(VMLINUX).exists() {
        skip(
            "vmlinux_layout_oracle",
            &format!("{VMLINUX} does not exist on this host"),
        );
        return;
    }
    let t_all = Instant::now();
    // Where to keep the C program, the dump and the mismatches (for debugging).
    let keep = std::env::var_os("BPFGEN_ORACLE_KEEP").map(std::path::PathBuf::from);

    // bpfgen's side.
    let t = Instant::now();
    let opts = bpfgen_core::Options {
        all: true,
        ..Default::default()
    };
    let model = bpfgen_core::load(Path::new(VMLINUX), &opts).unwrap_or_else(|e| panic!("{e}"));
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let mut reports =
        bpfgen_core::report::report(&model, &items).unwrap_or_else(|e| panic!("report: {e:?}"));
    let t_bpfgen = t.elapsed();

    // The dump, and what is done to it.
    let t = Instant::now();
    let dump = run(
        "bpftool btf dump (apt-get install bpftool)",
        Command::new("bpftool").args(["btf", "dump", "file", VMLINUX, "format", "c"]),
    );
    let dump = String::from_utf8_lossy(&dump).into_owned();
    let t_dump = t.elapsed();
    let t = Instant::now();
    let dups = resolve_duplicates(&model, &mut reports, &dump);
    let fix = fix_dump(&model.ir, &dump);
    let n_struct_union = reports
        .iter()
        .filter(|r| r.kind != "enum" && model.ir.get(r.id).name.is_some())
        .count();
    let mut w = walk::walk_reports(&model, &reports, "", "crate::vmlinux");
    let mut checks = std::mem::take(&mut w.checks);
    let n_main = checks.len();
    // Every possible pairing of the definitions of ambiguous duplicates, each checked
    // on its own (with the anonymous types reached through it).
    let mut trials = Vec::new();
    let mut reached_by_trials = BTreeSet::new();
    if !dups.ambiguous.is_empty() {
        let anon: Vec<&TypeReport> = reports.iter().filter(|r| r.c_type.is_none()).collect();
        for (group, amb) in dups.ambiguous.iter().enumerate() {
            for (def, (report, cands)) in amb.candidates.iter().enumerate() {
                for (cand, spelling) in cands.iter().enumerate() {
                    let mut sub: Vec<TypeReport> = anon
                        .iter()
                        .filter(|r| r.id != reports[*report].id)
                        .map(|r| (*r).clone())
                        .collect();
                    let mut r = reports[*report].clone();
                    r.c_type = Some(spelling.clone());
                    sub.push(r);
                    let sw = walk::walk_reports(&model, &sub, "", "crate::vmlinux");
                    reached_by_trials.extend(sw.reached.into_keys());
                    let start = checks.len();
                    checks.extend(sw.checks);
                    trials.push(Trial {
                        group,
                        def,
                        cand,
                        report: *report,
                        range: start..checks.len(),
                    });
                }
            }
        }
    }
    let t_walk = t.elapsed();

    // The C side.
    let dir = tempfile::tempdir().unwrap();
    let dir = keep.as_deref().unwrap_or(dir.path());
    std::fs::write(dir.join("bpftool.h"), &dump).unwrap();
    std::fs::write(dir.join("vmlinux.h"), &fix.text).unwrap();
    let src = c_program(&checks);
    std::fs::write(dir.join("oracle.c"), &src).unwrap();
    let t = Instant::now();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    run(
        &format!("the C compiler `{cc}` on the oracle program"),
        Command::new(&cc)
            .args(["-std=gnu11", "-O0", "-w", "-o"])
            .arg(dir.join("oracle"))
            .arg(dir.join("oracle.c")),
    );
    let t_cc = t.elapsed();
    let t = Instant::now();
    let out = run(
        "the C oracle program",
        &mut Command::new(dir.join("oracle")),
    );
    let c = parse_c(&String::from_utf8(out).unwrap(), &checks);
    let t_run = t.elapsed();

    // Compare.
    let t = Instant::now();
    let top_of: HashMap<&str, TypeId> = reports
        .iter()
        .filter_map(|r| Some((r.c_type.as_deref()?, r.id)))
        .collect();
    let mut judge = Judge::new(&model.ir, &fix.unpadded);
    let mut all = Outcome::default();
    for (ch, got) in checks[..n_main].iter().zip(&c) {
        let top = ch
            .key
            .split_once('|')
            .and_then(|(t, _)| top_of.get(t).copied());
        let v = judge.judge(top, &ch.key, ch.expected, *got);
        all.add(&ch.key, ch.expected, *got, v);
    }
    let mut tried: Vec<Outcome> = trials
        .iter()
        .map(|t| {
            let mut o = Outcome::default();
            let top = Some(reports[t.report].id);
            for (ch, got) in checks[t.range.clone()].iter().zip(&c[t.range.clone()]) {
                let v = judge.judge(top, &ch.key, ch.expected, *got);
                o.add(&ch.key, ch.expected, *got, v);
            }
            o
        })
        .collect();
    let mut paired = Vec::new();
    for (g, amb) in dups.ambiguous.iter().enumerate() {
        let trial = |def: usize, cand: usize| {
            trials
                .iter()
                .position(|t| t.group == g && t.def == def && t.cand == cand)
                .expect("every candidate was tried")
        };
        let options: Vec<Vec<(String, bool)>> = amb
            .candidates
            .iter()
            .enumerate()
            .map(|(def, (_, cands))| {
                cands
                    .iter()
                    .enumerate()
                    .map(|(cand, s)| (s.clone(), tried[trial(def, cand)].bad.is_empty()))
                    .collect()
            })
            .collect();
        match pair_by_layout(&options) {
            Some(chosen) => {
                for (def, &cand) in chosen.iter().enumerate() {
                    let (report, cands) = &amb.candidates[def];
                    paired.push(format!("{} = BTF id {}", cands[cand], reports[*report].id));
                    all.merge(std::mem::take(&mut tried[trial(def, cand)]));
                }
            }
            None => {
                all.bad.push(format!(
                    "`{}`: no one-to-one pairing of its {} BTF definitions with the dumped \
                     definitions of their member names agrees in every check; the pairings \
                     tried:",
                    amb.name,
                    amb.candidates.len()
                ));
                for (def, (report, cands)) in amb.candidates.iter().enumerate() {
                    for (cand, s) in cands.iter().enumerate() {
                        let o = &tried[trial(def, cand)];
                        all.bad.push(format!(
                            "  BTF id {} as `{s}`: {} mismatches{}",
                            reports[*report].id,
                            o.bad.len(),
                            o.bad
                                .iter()
                                .take(5)
                                .map(|b| format!("\n    {b}"))
                                .collect::<String>()
                        ));
                    }
                }
            }
        }
    }
    let t_compare = t.elapsed();
    if let Some(k) = &keep {
        std::fs::write(k.join("mismatches.txt"), all.bad.join("\n")).unwrap();
        let excused: Vec<String> = all
            .proven
            .iter()
            .map(|(key, b, c, _, why)| format!("`{key}`: bpfgen {b}, C {c}: {why}"))
            .chain(
                all.unpadded
                    .iter()
                    .map(|key| format!("`{key}`: holds an unpadded memberless type")),
            )
            .collect();
        std::fs::write(k.join("excused.txt"), excused.join("\n")).unwrap();
    }

    let n_bits = checks
        .iter()
        .filter(|c| matches!(c.expected, Expected::Bits { .. }))
        .count();
    let direct = w.reached.values().filter(|h| *h == "direct").count();
    println!(
        "vmlinux: {} report types ({n_struct_union} named structs and unions); {direct} checked \
         by C name, {} anonymous through their parents; {} members; {} checks against C \
         ({n_bits} bitfield bit ranges): {} mismatches",
        reports.len(),
        w.reached.len() - direct,
        w.members_checked,
        checks.len(),
        all.bad.len(),
    );
    let mut by_size: BTreeMap<u32, usize> = BTreeMap::new();
    for (_, s) in &fix.enums {
        *by_size.entry(*s).or_default() += 1;
    }
    println!(
        "dump repaired: {} enums given their BTF size with `mode` ({}); {} empty struct/union \
         bodies padded to their BTF size{}; {} memberless types of non-zero size left unpadded",
        fix.enums.len(),
        by_size
            .iter()
            .map(|(s, n)| format!("{n} of {s} bytes"))
            .collect::<Vec<_>>()
            .join(", "),
        fix.padded.len(),
        fix.padded
            .iter()
            .map(|(s, n)| format!(" `{s}` ({n})"))
            .collect::<String>(),
        fix.unpadded.len(),
    );
    let proven_types: BTreeSet<&str> = all
        .proven
        .iter()
        .filter_map(|p| p.0.split_once('|').map(|x| x.0))
        .collect();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &all.proven {
        *by_kind.entry(p.3).or_default() += 1;
    }
    println!(
        "excused: {} alignments below bpfgen's in C, bpfgen's proven from the BTF ({} types; \
         evidence: {}); {} mismatches of types holding unpadded memberless types",
        all.proven.len(),
        proven_types.len(),
        by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        all.unpadded.len(),
    );
    for (key, b, c, _, why) in all.proven.iter().take(12) {
        println!("  alignment `{key}`: bpfgen {b}, C {c}: {why}");
    }
    for key in all.unpadded.iter().take(12) {
        println!("  unpadded: `{key}`");
    }
    println!(
        "duplicated names: {} definitions paired with bpftool's renames by member names, {} \
         definitions of {} names by layout",
        dups.resolved.len(),
        paired.len(),
        dups.ambiguous.len(),
    );
    for d in dups.resolved.iter().chain(&paired) {
        println!("  duplicate: {d}");
    }
    let unreached: Vec<&String> = w
        .unreached
        .iter()
        .filter(|u| {
            !reached_by_trials
                .iter()
                .any(|r| u.contains(&format!("`{r}`")))
        })
        .collect();
    println!(
        "not checked: {} report types with no C spelling that no parent reaches (such as \
         top-level anonymous enums){}",
        unreached.len(),
        if unreached.is_empty() {
            ""
        } else {
            "; the first 5:"
        }
    );
    for u in unreached.iter().take(5) {
        println!("  {u}");
    }
    println!(
        "times: bpfgen load+select+report {t_bpfgen:.2?}, bpftool dump {t_dump:.2?}, \
         repairs+walks {t_walk:.2?}, cc {t_cc:.2?} ({} KiB of C), run {t_run:.2?}, compare \
         {t_compare:.2?}, total {:.2?}",
        src.len() / 1024,
        t_all.elapsed()
    );
    assert!(
        n_main > 100_000 && n_struct_union > 5_000,
        "suspiciously few checks"
    );
    assert!(
        fix.enums_unfixed.is_empty(),
        "enums whose BTF size is not 4 that the dump repair did not find (a bug of \
         `fix_dump`): {}",
        fix.enums_unfixed.join(", ")
    );
    assert!(
        dups.unmatched.is_empty(),
        "definitions of duplicated names with no dumped definition of their member names \
         (a bug of `dump_definitions`): {}",
        dups.unmatched.join(", ")
    );
    assert!(
        all.bad.is_empty(),
        "{} layout mismatches between bpfgen and C (first 50):\n{}",
        all.bad.len(),
        all.bad
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
/// but takes about 40 s and 4 GB: a benchmark, not a test.)
#[test]
fn vmlinux_closure_compiles() {
    if !Path::new(VMLINUX).exists() {
        skip(
            "vmlinux_closure_compiles",
            &format!("{VMLINUX} does not exist on this host"),
        );
        return;
    }
    let t = Instant::now();
    let opts = bpfgen_core::Options {
        types: vec!["task_struct".into(), "sk_buff".into()],
        ..Default::default()
    };
    let model = bpfgen_core::load(Path::new(VMLINUX), &opts).unwrap_or_else(|e| panic!("{e}"));
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let code = model.generate(&opts).unwrap_or_else(|e| panic!("{e}"));
    let t_gen = t.elapsed();
    assert!(
        code.contains("pub struct task_struct {") && code.contains("pub struct sk_buff {"),
        "the roots are missing"
    );
    assert!(
        !code.contains("::zerocopy::"),
        "raw BTF generates without zerocopy by default"
    );

    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    run(
        "rustc on the generated closure of task_struct and sk_buff",
        &mut rustc::check_no_std_command(dir.path(), &code),
    );
    println!(
        "task_struct + sk_buff: {} items, {} lines, generated in {t_gen:.2?}, rustc --emit=metadata {:.2?}",
        items.len(),
        code.lines().count(),
        t.elapsed()
    );
}

/// A kernel module's split BTF on top of the running kernel's (this kernel has no module
/// BTF files, so the module is built here): `--base vmlinux module --all` generates the
/// module's types and, from vmlinux, only what they hold by value, and that compiles.
#[test]
fn vmlinux_split_module_btf() {
    if !Path::new(VMLINUX).exists() {
        skip(
            "vmlinux_split_module_btf",
            &format!("{VMLINUX} does not exist on this host"),
        );
        return;
    }
    let base = std::fs::read(VMLINUX).unwrap();
    let vmlinux = bpfgen_core::load_bytes(&base, VMLINUX, None).unwrap_or_else(|e| panic!("{e}"));
    let ir = &vmlinux.ir;
    let find = |name: &str, want: fn(&Kind) -> bool| -> u32 {
        (0..ir.types.len() as u32)
            .find(|&id| ir.name(id) == Some(name) && want(&ir.get(id).kind))
            .unwrap_or_else(|| panic!("vmlinux has no `{name}`"))
    };
    let list_head = find("list_head", |k| matches!(k, Kind::Struct(_)));
    let task_struct = find("task_struct", |k| matches!(k, Kind::Struct(_)));
    let u32_td = find("u32", |k| matches!(k, Kind::Typedef { .. }));
    let last = ir.types.len() as u32 - 1;

    let mut b = btf_builder::Btf::split(&base, last);
    let task_ptr = b.ptr(task_struct);
    let module_type = b.structure(
        "bpfgen_mod_state",
        32,
        &[
            btf_builder::m("link", list_head, 0),
            btf_builder::m("owner", task_ptr, 16),
            btf_builder::m("count", u32_td, 24),
            btf_builder::bf("armed", u32_td, 224, 1),
            btf_builder::bf("mode", u32_td, 225, 3),
        ],
    );
    let split = b.blob();
    let model = bpfgen_core::load_bytes(&split, "bpfgen_mod.btf", Some((&base, VMLINUX)))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.ir.first_id, last + 1);
    let opts = bpfgen_core::Options {
        all: true,
        ..Default::default()
    };
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = items
        .iter()
        .filter_map(|&id| model.names.item(id))
        .collect();
    assert!(items.contains(&module_type), "{names:?}");
    for want in ["bpfgen_mod_state", "list_head", "u32", "__u32"] {
        assert!(names.contains(&want), "`{want}` not generated: {names:?}");
    }
    assert!(
        !names.contains(&"task_struct"),
        "a pointer's target is not held by value: {names:?}"
    );
    let code = model.generate(&opts).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    run(
        "rustc on the generated module types",
        &mut rustc::check_no_std_command(dir.path(), &code),
    );
    println!("split BTF on vmlinux: {} items: {names:?}", items.len());
}

// --- the oracle's own machinery ------------------------------------------------------

/// Loads a hand-built BTF blob.
fn load_blob(b: &btf_builder::Btf) -> bpfgen_core::Model {
    bpfgen_core::load_bytes(&b.blob(), "test.btf", None).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn alignment_excuses_are_proofs() {
    use btf_builder::m;
    let mut b = btf_builder::Btf::new();
    let ch = b.int("char", 1, true);
    let int = b.int("int", 4, true);
    let u64_ = b.int("u64", 8, false);
    let data = b.array(ch, int, 483);
    // `aligned(32)` shown only by the tail (kernel 6.18's `struct kstack_bytes`).
    let kstack = b.structure("kstack_bytes", 512, &[m("data", data, 0)]);
    // `aligned(64)` on a member, shown by the hole before it; and a type holding it.
    let ints = b.array(int, int, 15);
    let hole = b.structure(
        "hole",
        128,
        &[m("x", int, 0), m("y", int, 64), m("z", ints, 68)],
    );
    let holder = b.structure("holder", 128, &[m("h", hole, 0)]);
    // Natural alignment (which bpftool sometimes dumps `packed`), and real packing.
    let plain = b.structure("plain", 16, &[m("a", u64_, 0), m("b", ch, 8)]);
    let packed = b.structure("packed", 9, &[m("a", ch, 0), m("b", u64_, 1)]);
    // Anonymous member types, reached by `__typeof__`: directly, and through an unnamed
    // union member and an array.
    let anon = b.structure("", 512, &[m("data", data, 0)]);
    let outer = b.structure("outer", 512, &[m("inner", anon, 0)]);
    let anon2 = b.structure("", 512, &[m("data", data, 0)]);
    let two = b.array(anon2, int, 2);
    let un = b.union("", 1024, &[m("n", two, 0)]);
    let flat = b.structure("flat", 1024, &[m("", un, 0)]);
    let small = b.enumeration("small", 1, &[("SMALL_A", 0)]);
    let empty = b.union("", 8, &[]);
    let has_empty = b.structure("has_empty", 16, &[m("a", u64_, 0), m("e", empty, 8)]);
    let model = load_blob(&b);
    let ir = &model.ir;

    // bpfgen agrees with the derivation on all of these.
    let opts = bpfgen_core::Options {
        all: true,
        ..Default::default()
    };
    let items = model.select(&opts).unwrap_or_else(|e| panic!("{e}"));
    let reports = bpfgen_core::report::report(&model, &items).unwrap();
    let mut proof = AlignProof::new(ir);
    for (id, want) in [
        (kstack, 32),
        (hole, 64),
        (holder, 64),
        (plain, 8),
        (packed, 1),
        (outer, 32),
        (anon, 32),
        (flat, 32),
    ] {
        let s = proof.composite(id);
        assert!(s.exact, "{id}: {s:?}");
        assert_eq!(s.align, want, "{id}: {s:?}");
        let r = reports.iter().find(|r| r.id == id).expect("reported");
        assert_eq!(r.align, want, "bpfgen on {}", r.rust);
    }
    assert!(proof.composite(packed).packed && !proof.composite(plain).packed);

    let none = BTreeSet::new();
    let mut j = Judge::new(ir, &none);
    let n = CValue::Num;
    let e = Expected::Num;
    let mut judge =
        |top: TypeId, key: &str, b: u64, c: u64| match j.judge(Some(top), key, e(b), n(c)) {
            Verdict::AlignmentProven(_, _, kind, why) => format!("{kind}: {why}"),
            v => format!("{v:?}"),
        };
    // Excused: the alignment the BTF shows, above C's.
    assert_eq!(
        judge(kstack, "struct kstack_bytes|_Alignof", 32, 2),
        "tail: data ends at 483, size 512"
    );
    assert_eq!(
        judge(hole, "struct hole|_Alignof", 64, 4),
        "hole: member `y` at 64 after data ending at 4 needs 64"
    );
    assert_eq!(
        judge(holder, "struct holder|_Alignof", 64, 4),
        "member type: member `h`'s type is 64-aligned"
    );
    assert_eq!(
        judge(plain, "struct plain|_Alignof", 8, 1),
        "member type: member `a`'s type is 8-aligned"
    );
    assert_eq!(
        judge(outer, "struct outer|inner:typeof:align", 32, 1),
        "tail: data ends at 483, size 512"
    );
    assert_eq!(
        judge(flat, "struct flat|n[0]:typeof:align", 32, 1),
        "tail: data ends at 483, size 512"
    );
    // Not excused: more than the BTF shows (a smaller alignment already explains it),
    // less, bpfgen below C, what packing allows, and anything but an alignment.
    let differs = format!("{:?}", Verdict::Differs);
    for (top, key, b, c) in [
        (kstack, "struct kstack_bytes|_Alignof", 64, 2),
        (kstack, "struct kstack_bytes|_Alignof", 16, 2),
        (kstack, "struct kstack_bytes|_Alignof", 32, 64),
        (hole, "struct hole|_Alignof", 128, 4),
        (holder, "struct holder|_Alignof", 128, 64),
        (plain, "struct plain|_Alignof", 16, 8),
        (packed, "struct packed|_Alignof", 8, 1),
        (flat, "struct flat|n[0]:typeof:align", 64, 1),
        (flat, "struct flat|n[1]:typeof:align", 32, 1),
        (small, "enum small|_Alignof", 4, 1),
        (kstack, "struct kstack_bytes|sizeof", 512, 484),
        (kstack, "struct kstack_bytes|data", 0, 8),
        (kstack, "struct kstack_bytes|data:size", 483, 512),
        (outer, "struct outer|inner:typeof:size", 512, 484),
    ] {
        assert_eq!(judge(top, key, b, c), differs, "{key}: bpfgen {b}, C {c}");
    }
    assert_eq!(
        judge(kstack, "struct kstack_bytes|_Alignof", 32, 32),
        "Agrees"
    );
    let bits = Expected::Bits {
        bit_offset: 3,
        bits: 2,
    };
    let mut j = Judge::new(ir, &none);
    assert_eq!(
        j.judge(Some(kstack), "struct kstack_bytes|b", bits, CValue::NoBits),
        Verdict::Differs
    );
    assert_eq!(
        j.judge(None, "struct kstack_bytes|_Alignof", e(32), n(2)),
        Verdict::Differs
    );
    // A memberless union the dump could not pad excuses the types holding it, only.
    let unpadded: BTreeSet<TypeId> = [empty].into_iter().collect();
    let mut j = Judge::new(ir, &unpadded);
    assert_eq!(
        j.judge(Some(has_empty), "struct has_empty|sizeof", e(16), n(8)),
        Verdict::Unpadded
    );
    assert_eq!(
        j.judge(Some(plain), "struct plain|sizeof", e(16), n(8)),
        Verdict::Differs
    );
    // And a mismatch is one.
    assert!(!matches(e(8), n(16)));
    assert!(!matches(
        bits,
        CValue::Bits {
            lo: 3,
            width: 2,
            contiguous: false
        }
    ));
    assert!(matches(
        bits,
        CValue::Bits {
            lo: 3,
            width: 2,
            contiguous: true
        }
    ));
}

#[test]
fn dump_repairs() {
    use btf_builder::m;
    let mut b = btf_builder::Btf::new();
    let int = b.int("int", 4, true);
    b.enumeration("small", 1, &[("S_A", 0), ("S_B", 1)]);
    b.enumeration("big", 4, &[("B_A", 0)]);
    let t = b.enumeration("", 1, &[("T_A", 0)]);
    b.typedef("small_t", t);
    let an = b.enumeration("", 2, &[("AN_A", 0)]);
    b.structure("has_anon", 2, &[m("mode", an, 0)]);
    let rpa = b.union("", 8, &[]);
    b.typedef("rpa", rpa);
    b.structure("estruct", 4, &[]);
    let u = b.union("", 8, &[]);
    b.structure("has_empty", 12, &[m("a", int, 0), m("u", u, 4)]);
    let z = b.structure("", 0, &[]);
    b.structure("flex", 0, &[m("__empty_x", z, 0)]);
    let a1 = b.union("", 4, &[]);
    b.structure("amb1", 4, &[m("amb", a1, 0)]);
    let a2 = b.union("", 8, &[]);
    b.structure("amb2", 8, &[m("amb", a2, 0)]);
    let model = load_blob(&b);
    let dump = "\
enum small {
\tS_A = 0,
\tS_B = 1,
};

enum big {
\tB_A = 0,
};

typedef enum {
\tT_A = 0,
} small_t;

typedef union {
} rpa;

struct estruct___2 {
};

struct has_anon {
\tenum {
\t\tAN_A = 0,
\t} mode;
};

struct has_empty {
\tint a;
\tunion {
\t} u;
};

struct flex {
\tstruct {
\t} __empty_x;
};

struct amb1 {
\tunion {
\t} amb;
};

struct amb2 {
\tunion {
\t} amb;
};
";
    let fix = fix_dump(&model.ir, dump);
    let repaired = fix.text.clone();
    let want = "\
enum small {
\tS_A = 0,
\tS_B = 1,
} __attribute__((mode(QI)));

enum big {
\tB_A = 0,
};

typedef enum {
\tT_A = 0,
} __attribute__((mode(QI))) small_t;

typedef union {
\tchar __bpfgen_pad[8];
} rpa;

struct estruct___2 {
\tchar __bpfgen_pad[4];
};

struct has_anon {
\tenum {
\t\tAN_A = 0,
\t} __attribute__((mode(HI))) mode;
};

struct has_empty {
\tint a;
\tunion {
\t\tchar __bpfgen_pad[8];
\t} u;
};

struct flex {
\tstruct {
\t} __empty_x;
};

struct amb1 {
\tunion {
\t} amb;
};

struct amb2 {
\tunion {
\t} amb;
};
";
    assert_eq!(fix.text, want);
    assert_eq!(
        fix.enums,
        [
            ("enum small".to_string(), 1),
            ("enum <anonymous T_A>".to_string(), 1),
            ("enum <anonymous AN_A>".to_string(), 2)
        ]
    );
    assert_eq!(
        fix.padded,
        [
            ("typedef rpa".to_string(), 8),
            ("struct estruct".to_string(), 4),
            ("union {} member `u`".to_string(), 8)
        ]
    );
    // `amb`: two memberless unions of different sizes spelled alike.
    assert_eq!(fix.unpadded, [a1, a2].into_iter().collect());
    assert!(fix.enums_unfixed.is_empty(), "{:?}", fix.enums_unfixed);
    // Missing from the dump: reported.
    let fix = fix_dump(&model.ir, "");
    assert_eq!(fix.enums_unfixed.len(), 3, "{:?}", fix.enums_unfixed);

    // And C agrees with the BTF on the repaired dump (where a C compiler is at hand).
    let dir = tempfile::tempdir().unwrap();
    let mut prog = repaired;
    prog.push_str(
        "_Static_assert(sizeof(enum small) == 1 && _Alignof(enum small) == 1, \"small\");
_Static_assert(sizeof(enum big) == 4, \"big\");
_Static_assert(sizeof(small_t) == 1, \"small_t\");
_Static_assert(sizeof(struct has_anon) == 2 && _Alignof(struct has_anon) == 2, \"has_anon\");
_Static_assert(sizeof(rpa) == 8 && _Alignof(rpa) == 1, \"rpa\");
_Static_assert(sizeof(struct estruct___2) == 4, \"estruct\");
_Static_assert(sizeof(struct has_empty) == 12, \"has_empty\");
_Static_assert(sizeof(struct flex) == 0, \"flex\");
int main(void) { return 0; }
",
    );
    let src = dir.path().join("repaired.c");
    std::fs::write(&src, prog).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    match Command::new(&cc)
        .args(["-std=gnu11", "-fsyntax-only"])
        .arg(&src)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => skip(
            "dump_repairs (compiling)",
            &format!("cannot run `{cc}`: {e}"),
        ),
    }
}

#[test]
fn duplicates_pair_by_layout() {
    let o = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
        v.iter().map(|(n, ok)| (n.to_string(), *ok)).collect()
    };
    // Both definitions agree with either spelling: any one-to-one pairing.
    assert_eq!(
        pair_by_layout(&[
            o(&[("a", true), ("b", true)]),
            o(&[("a", true), ("b", true)])
        ]),
        Some(vec![0, 1])
    );
    // The first agrees only with `b`, so the second must be `a`.
    assert_eq!(
        pair_by_layout(&[
            o(&[("a", false), ("b", true)]),
            o(&[("a", true), ("b", true)])
        ]),
        Some(vec![1, 0])
    );
    // Both agree only with `a`: not one-to-one.
    assert_eq!(
        pair_by_layout(&[
            o(&[("a", true), ("b", false)]),
            o(&[("a", true), ("b", false)])
        ]),
        None
    );
    // A definition that agrees with nothing.
    assert_eq!(
        pair_by_layout(&[o(&[("a", true)]), o(&[("b", false)])]),
        None
    );
    let dump = "\
typedef struct {
\tint x;
} dup_t;

typedef struct {
\tlong y;
} dup_t___2;

typedef int other_t;

typedef void (*fn_t)(int);
";
    assert_eq!(
        dump_typedef_names(dump),
        ["dup_t", "dup_t___2", "fn_t", "other_t"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}

#[test]
fn dump_member_names() {
    let dump = "\
struct other {
\tint x;
};

struct dup {
\tstruct list_head list;
\tvoid (*write)(struct dup *, const char *, unsigned int);
\tint (*(*getter)(void))[4];
\tunsigned int a: 3;
\tlong: 61;
\tunion {
\t\tint u1;
\t\tstruct {
\t\t\tint deep;
\t\t} inner;
\t};
\tstruct {
\t\tint y;
\t} named;
\tchar data[0];
} __attribute__((packed));

enum dup___2 {
\tDUP_A = 0,
\tDUP_B = 1,
};
";
    let wanted: BTreeSet<&str> = ["dup"].into_iter().collect();
    let d = dump_definitions(dump, &wanted);
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(
        d[&("struct".to_string(), "dup".to_string())],
        ["list", "write", "getter", "a", "named", "data"]
    );
    assert_eq!(
        d[&("enum".to_string(), "dup___2".to_string())],
        ["DUP_A", "DUP_B"]
    );
    assert_eq!(base_name("workspace___4"), "workspace");
    assert_eq!(base_name("a___b"), "a___b");
    assert_eq!(decl_name("unsigned int: 4;"), None);
    assert_eq!(decl_name("u64 x[2][3];").as_deref(), Some("x"));
    assert_eq!(decl_name("struct a *const p;").as_deref(), Some("p"));
}
