//! The independent layout oracle: the host C compiler (x86_64 has the BPF data model)
//! measures every type of every `fixtures/bpfel` fixture, and the numbers must equal
//! (a) bpfgen's layout report and (b) what the Rust compiler computes from the generated
//! types (`bpfgen_tests::probes`: the compile-time `PROBE` table and the runtime bit-range
//! probe).
//!
//! For each report type with a C spelling the generated C program prints `sizeof`,
//! `_Alignof`, and for every member (recursing into anonymous members with C designators
//! such as `hdr.x`, `arr[0].x`, and flattening unnamed members as C does) its `offsetof`
//! and `sizeof`, or for a bitfield the bits that become one when it alone is set to -1 in
//! a zeroed object (bit i = bit i % 8 of byte i / 8). See `src/walk.rs` for the keys.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../src/walk.rs"]
#[allow(dead_code)]
mod walk;

use walk::{CExpr, Check, Expected};

/// Alignments the BTF cannot determine. BTF records sizes and member offsets, not
/// alignment; each entry is a C "twin" of a fixture type with the same members, the same
/// size and the same member offsets (so the same BTF layout) but a different alignment.
/// The C program measures the twin too, and an `|_Alignof` that differs from C is accepted
/// only if the twin proves the BTF ambiguous: every size/offset of the twin equals the
/// type's, and the twin's `_Alignof` is the alignment bpfgen reported. Anything else is a
/// mismatch. (fixture, C type, twin C type, twin definition)
const BTF_TWINS: &[(&str, &str, &str, &str)] = &[
    // `packed, aligned(4)`, size 7 rounded up to 8: `packed, aligned(2)` (and
    // `aligned(8)`) round 7 up to 8 too.
    (
        "packed",
        "struct pk_aligned4",
        "struct bpfgen_twin_pk_aligned4",
        "struct __attribute__((packed, aligned(2))) bpfgen_twin_pk_aligned4 { __u8 a; __u32 b; __u16 c; };",
    ),
    // A packed union of u8/u32/u64 is laid out exactly like the unpacked one.
    (
        "packed",
        "union pk_union",
        "union bpfgen_twin_pk_union",
        "union bpfgen_twin_pk_union { __u8 a; __u32 b; __u64 c; };",
    ),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// What the C program printed.
#[derive(Default, Debug)]
struct CValues {
    nums: BTreeMap<String, u64>,
    /// key → (first set bit, number of set bits, contiguous).
    bits: BTreeMap<String, BitRange>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BitRange {
    lo: u64,
    width: u64,
    contiguous: bool,
}

/// The bits set in `bytes`, little-endian numbering.
fn scan(bytes: &[u8]) -> Option<BitRange> {
    let set: Vec<u64> = (0..bytes.len() as u64 * 8)
        .filter(|&i| bytes[(i / 8) as usize] >> (i % 8) & 1 == 1)
        .collect();
    let (&lo, &hi) = (set.first()?, set.last()?);
    Some(BitRange {
        lo,
        width: set.len() as u64,
        contiguous: hi - lo + 1 == set.len() as u64,
    })
}

fn c_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A C program printing every check's number.
fn c_program(fixture: &str, header: &str, w: &walk::Walk) -> String {
    // No libc headers: a vmlinux.h-based fixture header defines kernel types that
    // clash with them (`wchar_t`); the compiler's builtins serve instead.
    let mut s = String::from(
        "#define offsetof(T, M) __builtin_offsetof(T, M)\ntypedef __SIZE_TYPE__ size_t;\n",
    );
    for (mac, var) in &w.c_defines {
        writeln!(s, "#define {mac} {var}").unwrap();
    }
    writeln!(s, "#include \"{header}\"\n").unwrap();
    let twins: Vec<_> = BTF_TWINS.iter().filter(|t| t.0 == fixture).collect();
    for t in &twins {
        writeln!(s, "{}", t.3).unwrap();
    }
    s.push_str(
        r#"static void num(const char *k, size_t v) { __builtin_printf("%s\t%zu\n", k, v); }
static void scan(const char *k, const void *p, size_t n) {
	const unsigned char *b = p;
	long lo = -1, hi = -1, cnt = 0;
	for (size_t i = 0; i < n * 8; i++)
		if ((b[i / 8] >> (i % 8)) & 1) {
			if (lo < 0)
				lo = (long)i;
			hi = (long)i;
			cnt++;
		}
	__builtin_printf("%s\tbits\t%ld\t%ld\t%d\n", k, lo, cnt, lo >= 0 && hi - lo + 1 == cnt);
}
int main(void)
{
"#,
    );
    for c in &w.checks {
        if let (Some(t), CExpr::Num(e)) = (
            twins
                .iter()
                .find(|t| c.key.starts_with(&format!("{}|", t.1))),
            &c.c,
        ) {
            let twin = e.replace(t.1, t.2);
            writeln!(s, "\tnum({}, {twin});", c_str(&format!("twin:{}", c.key))).unwrap();
        }
        match &c.c {
            CExpr::Num(e) => writeln!(s, "\tnum({}, {e});", c_str(&c.key)).unwrap(),
            CExpr::BitScan { ctype, desig } => writeln!(
                s,
                "\t{{ {ctype} v; __builtin_memset(&v, 0, sizeof v); v.{desig} = -1; scan({}, &v, sizeof v); }}",
                c_str(&c.key)
            )
            .unwrap(),
        }
    }
    s.push_str("\treturn 0;\n}\n");
    s
}

/// Compiles and runs `src` with the host C compiler; panics with its stderr on failure.
fn run_c(what: &str, src: &str, include: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("oracle.c");
    let exe = dir.path().join("oracle");
    std::fs::write(&c, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let out = Command::new(&cc)
        .args(["-std=gnu11", "-O0", "-Wall", "-o"])
        .arg(&exe)
        .arg(&c)
        .arg("-I")
        .arg(include)
        .arg("-I")
        .arg(include.join("vmlinux"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "{what}: the C oracle program does not compile:\n{}\n--- program ---\n{src}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success(), "{what}: the C oracle program failed");
    String::from_utf8(run.stdout).unwrap()
}

fn parse_c(out: &str) -> CValues {
    let mut v = CValues::default();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            [k, n] => {
                v.nums.insert(k.to_string(), n.parse().unwrap());
            }
            [k, "bits", lo, cnt, contig] => {
                let (lo, cnt): (i64, u64) = (lo.parse().unwrap(), cnt.parse().unwrap());
                assert!(lo >= 0, "C: setting `{k}` to -1 set no bit at all");
                v.bits.insert(
                    k.to_string(),
                    BitRange {
                        lo: lo as u64,
                        width: cnt,
                        contiguous: *contig == "1",
                    },
                );
            }
            _ => panic!("unexpected C output line `{line}`"),
        }
    }
    v
}

/// Whether `value` for `key` (an `<ctype>|_Alignof`) is the alignment of a BTF twin
/// (see [`BTF_TWINS`]) whose whole layout the C program found identical.
fn twin_explains(key: &str, value: u64, c: &CValues) -> bool {
    let Some(prefix) = key.strip_suffix("|_Alignof") else {
        return false;
    };
    let prefix = format!("{prefix}|");
    let mut same_layout = false;
    for (k, v) in &c.nums {
        let Some(orig) = k.strip_prefix("twin:") else {
            continue;
        };
        if !orig.starts_with(&prefix) {
            continue;
        }
        if orig == key {
            if *v != value {
                return false;
            }
        } else if c.nums.get(orig) != Some(v) {
            return false;
        } else {
            same_layout = true;
        }
    }
    same_layout && c.nums.contains_key(&format!("twin:{key}"))
}

/// (a) Every report number against C. Returns one message per mismatch.
fn compare_report(fixture: &str, checks: &[Check], c: &CValues) -> Vec<String> {
    let mut bad = Vec::new();
    for ch in checks {
        match ch.expected {
            Expected::Num(want) => match c.nums.get(&ch.key) {
                Some(&got) if got == want => {}
                Some(_) if twin_explains(&ch.key, want, c) => {}
                got => bad.push(format!(
                    "{fixture}: `{}`: bpfgen report says {want}, C says {got:?}",
                    ch.key
                )),
            },
            Expected::Bits { bit_offset, bits } => {
                let want = BitRange {
                    lo: bit_offset,
                    width: bits,
                    contiguous: true,
                };
                match c.bits.get(&ch.key) {
                    Some(got) if *got == want => {}
                    got => bad.push(format!(
                        "{fixture}: bitfield `{}`: bpfgen report says bits {bit_offset}..{} ({bits} wide), C sets {got:?}",
                        ch.key,
                        bit_offset + bits
                    )),
                }
            }
        }
    }
    bad
}

/// (b) The compile-time Rust probe against C.
fn compare_probe(fixture: &str, probe: &[(&str, usize)], c: &CValues) -> Vec<String> {
    let mut bad = Vec::new();
    for &(key, got) in probe {
        match c.nums.get(key) {
            Some(&want) if want == got as u64 => {}
            Some(_) if twin_explains(key, got as u64, c) => {}
            want => bad.push(format!(
                "{fixture}: `{key}`: the generated Rust type gives {got}, C says {want:?}"
            )),
        }
    }
    bad
}

/// (b) The runtime Rust probe against C: the bits a member's setter (or field
/// assignment) turns on must be exactly the C bitfield bits, or the member's bytes
/// `offsetof .. offsetof + sizeof`.
fn compare_runtime(fixture: &str, runtime: &[(String, Vec<u8>)], c: &CValues) -> Vec<String> {
    let mut bad = Vec::new();
    for (key, bytes) in runtime {
        let want = match (
            c.bits.get(key),
            c.nums.get(key),
            c.nums.get(&format!("{key}:size")),
        ) {
            (Some(b), _, _) => Some(*b),
            (None, Some(off), Some(size)) => Some(BitRange {
                lo: off * 8,
                width: size * 8,
                contiguous: true,
            }),
            _ => None,
        };
        let got = scan(bytes);
        if want.is_none() || got != want {
            bad.push(format!(
                "{fixture}: `{key}`: setting it to all ones in Rust sets {got:?}, C says {want:?}"
            ));
        }
    }
    bad
}

fn oracle(fixture: &str) {
    let dir = fixtures_dir();
    let obj = dir.join("bpfel").join(format!("{fixture}.bpf.o"));
    let model = bpfgen_core::load(&obj, &bpfgen_core::Options::default())
        .unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let bpf_c = std::fs::read_to_string(dir.join("src").join(format!("{fixture}.bpf.c"))).unwrap();
    let header_name = walk::header_of(&bpf_c);
    let header = std::fs::read_to_string(dir.join("src").join(&header_name)).unwrap();
    let w = walk::walk(&model, &header, &format!("crate::{fixture}"));

    let out = run_c(
        fixture,
        &c_program(fixture, &header_name, &w),
        &dir.join("src"),
    );
    let c = parse_c(&out);

    let fx = bpfgen_tests::FIXTURES
        .iter()
        .find(|f| f.name == fixture)
        .unwrap_or_else(|| panic!("{fixture}: no probes in bpfgen_tests::FIXTURES"));
    let mut runtime = Vec::new();
    (fx.run)(&mut |k, b| runtime.push((k.to_string(), b.to_vec())));

    let mut bad = compare_report(fixture, &w.checks, &c);
    bad.extend(compare_probe(fixture, fx.probe, &c));
    bad.extend(compare_runtime(fixture, &runtime, &c));

    // (c) Coverage.
    let n_c = c.nums.len() + c.bits.len();
    let n_cmp = n_c - c.nums.keys().filter(|k| k.starts_with("twin:")).count();
    let n_bits = c.bits.len();
    let direct = w.reached.values().filter(|h| *h == "direct").count();
    println!(
        "{fixture}: {direct} types by C name + {} anonymous types through parents/anchors \
         (= {} report types), {} members; {n_cmp} C numbers compared with the report \
         ({n_bits} bitfield bit ranges); {} Rust PROBE entries and {} runtime bit ranges compared with C",
        w.reached.len() - direct,
        w.reached.len(),
        w.members_checked,
        fx.probe.len(),
        runtime.len()
    );
    for s in &w.skipped {
        println!("  not checked: {s}");
    }
    for t in BTF_TWINS.iter().filter(|t| t.0 == fixture) {
        let key = format!("{}|_Alignof", t.1);
        println!(
            "  BTF-ambiguous alignment of `{}`: C {:?}, bpfgen {:?}, twin `{}` (same BTF layout) {:?}",
            t.1,
            c.nums.get(&key),
            w.checks.iter().find(|c| c.key == key).map(|c| c.expected),
            t.2,
            c.nums.get(&format!("twin:{key}"))
        );
    }
    for (ty, how) in w.reached.iter().filter(|(_, h)| *h != "direct") {
        println!("  anonymous `{ty}`: {how}");
    }
    assert!(
        w.types_checked > 0 && w.members_checked > 0,
        "{fixture}: nothing checked"
    );
    assert!(
        w.unreached.is_empty(),
        "{fixture}: report types no check reaches:\n{}",
        w.unreached.join("\n")
    );
    assert_eq!(n_cmp, w.checks.len(), "{fixture}: one C number per check");
    assert_eq!(
        fx.probe.len(),
        w.checks.iter().filter(|c| c.rust_const.is_some()).count(),
        "{fixture}: PROBE out of date with the walk"
    );
    assert!(!fx.probe.is_empty() && !runtime.is_empty());
    assert!(
        bad.is_empty(),
        "{} layout mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn oracle_layout() {
    oracle("layout");
}

#[test]
fn oracle_packed() {
    oracle("packed");
}

#[test]
fn oracle_outer() {
    oracle("outer");
}

/// The vmlinux.h tracing tool: its default output (what user space shares with it).
#[test]
fn oracle_tracing() {
    oracle("tracing");
}

#[test]
fn oracle_bitfields() {
    oracle("bitfields");
}

#[test]
fn oracle_bitfields_values() {
    oracle("bitfields_values");
}

#[test]
fn oracle_naming() {
    oracle("naming");
}

#[test]
fn oracle_naming_v2() {
    oracle("naming_v2");
}

#[test]
fn oracle_maps() {
    oracle("maps");
}

#[test]
fn oracle_externs() {
    oracle("externs");
}

/// Every `fixtures/bpfel/*.bpf.o` has an `oracle_*` test above (and probes in the lib).
#[test]
fn oracle_covers_every_fixture() {
    let tested = [
        "bitfields",
        "bitfields_values",
        "externs",
        "layout",
        "maps",
        "naming",
        "naming_v2",
        "outer",
        "packed",
        "tracing",
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir().join("bpfel"))
        .unwrap()
        .filter_map(|e| {
            let f = e.unwrap().file_name().to_string_lossy().into_owned();
            f.strip_suffix(".bpf.o").map(str::to_string)
        })
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, tested, "add an oracle_* test for each new fixture");
    let in_lib: Vec<&str> = bpfgen_tests::FIXTURES.iter().map(|f| f.name).collect();
    assert_eq!(in_lib, tested);
}

/// The big-endian objects describe the same layouts: their reports give the same
/// numbers for every check (BTF bitfield offsets are the same numbers in both).
#[test]
fn bpfeb_reports_equal_bpfel_reports() {
    let dir = fixtures_dir();
    let mut n = 0;
    for fx in bpfgen_tests::FIXTURES {
        let bpf_c =
            std::fs::read_to_string(dir.join("src").join(format!("{}.bpf.c", fx.name))).unwrap();
        let header =
            std::fs::read_to_string(dir.join("src").join(walk::header_of(&bpf_c))).unwrap();
        let checks = |endian: &str| -> Vec<(String, Expected)> {
            let obj = dir.join(endian).join(format!("{}.bpf.o", fx.name));
            let model = bpfgen_core::load(&obj, &bpfgen_core::Options::default())
                .unwrap_or_else(|e| panic!("{}: {e}", obj.display()));
            walk::walk(&model, &header, "crate::x")
                .checks
                .into_iter()
                .map(|c| (c.key, c.expected))
                .collect()
        };
        let (el, eb) = (checks("bpfel"), checks("bpfeb"));
        assert_eq!(el.len(), eb.len(), "{}: number of checks", fx.name);
        for (a, b) in el.iter().zip(&eb) {
            assert_eq!(a, b, "{}: bpfel vs bpfeb", fx.name);
            n += 1;
        }
    }
    println!("{n} report numbers equal between bpfel and bpfeb");
    assert!(n > 1000);
}

// --- the oracle can fail -------------------------------------------------------------

fn checks_of(fixture: &str) -> (Vec<Check>, CValues) {
    let dir = fixtures_dir();
    let obj = dir.join("bpfel").join(format!("{fixture}.bpf.o"));
    let model = bpfgen_core::load(&obj, &bpfgen_core::Options::default()).unwrap();
    let bpf_c = std::fs::read_to_string(dir.join("src").join(format!("{fixture}.bpf.c"))).unwrap();
    let header_name = walk::header_of(&bpf_c);
    let header = std::fs::read_to_string(dir.join("src").join(&header_name)).unwrap();
    let w = walk::walk(&model, &header, "crate::x");
    let c = parse_c(&run_c(
        fixture,
        &c_program(fixture, &header_name, &w),
        &dir.join("src"),
    ));
    (w.checks, c)
}

#[test]
fn compare_reports_a_wrong_number() {
    let (mut checks, c) = checks_of("bitfields");
    assert!(compare_report("bitfields", &checks, &c).is_empty());

    // One wrong offset, one wrong size, one wrong bitfield position, one wrong width.
    let pick = |checks: &[Check], key: &str| checks.iter().position(|c| c.key == key).unwrap();
    let off = pick(&checks, "struct bf_mixed|after");
    checks[off].expected = Expected::Num(4);
    let size = pick(&checks, "struct bf_storage|sizeof");
    checks[size].expected = Expected::Num(8);
    let bit = pick(&checks, "struct bf_span64|sb");
    checks[bit].expected = Expected::Bits {
        bit_offset: 30,
        bits: 40,
    };
    let width = pick(&checks, "struct bf_signed|sll");
    checks[width].expected = Expected::Bits {
        bit_offset: 26,
        bits: 32,
    };
    let bad = compare_report("bitfields", &checks, &c);
    assert_eq!(bad.len(), 4, "{bad:#?}");
    for key in [
        "struct bf_mixed|after",
        "struct bf_storage|sizeof",
        "struct bf_span64|sb",
        "struct bf_signed|sll",
    ] {
        assert!(
            bad.iter().any(|b| b.contains(key)),
            "{key} not reported: {bad:#?}"
        );
    }
}

#[test]
fn btf_twin_excuses_only_the_twins_alignment() {
    let (mut checks, mut c) = checks_of("packed");
    let key = "struct pk_aligned4|_Alignof";
    let i = checks.iter().position(|c| c.key == key).unwrap();
    assert_eq!(c.nums[key], 4);
    assert_eq!(c.nums[&format!("twin:{key}")], 2);
    for (report, ok) in [(4, true), (2, true), (1, false), (8, false)] {
        checks[i].expected = Expected::Num(report);
        let bad = compare_report("packed", &checks[i..=i], &c);
        assert_eq!(bad.is_empty(), ok, "report align {report}: {bad:?}");
    }
    // A twin whose layout differs in one offset proves nothing.
    checks[i].expected = Expected::Num(2);
    *c.nums.get_mut("twin:struct pk_aligned4|c").unwrap() += 1;
    assert_eq!(compare_report("packed", &checks[i..=i], &c).len(), 1);
    // No twin for other types.
    let j = checks
        .iter()
        .position(|c| c.key == "struct pk_basic|_Alignof")
        .unwrap();
    checks[j].expected = Expected::Num(2);
    assert_eq!(compare_report("packed", &checks[j..=j], &c).len(), 1);
}

#[test]
fn compare_reports_a_missing_c_number() {
    let (checks, mut c) = checks_of("layout");
    assert!(compare_report("layout", &checks, &c).is_empty());
    c.nums.remove("struct lay_holes|b");
    let bad = compare_report("layout", &checks, &c);
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert!(bad[0].contains("struct lay_holes|b") && bad[0].contains("None"));
}

#[test]
fn compare_probe_reports_a_wrong_number() {
    let (_, c) = checks_of("layout");
    let good = [
        ("struct lay_holes|b", 8usize),
        ("struct lay_holes|sizeof", 24),
    ];
    assert!(compare_probe("layout", &good, &c).is_empty());
    let bad = [
        ("struct lay_holes|b", 4usize),
        ("struct lay_holes|sizeof", 24),
    ];
    let msgs = compare_probe("layout", &bad, &c);
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("struct lay_holes|b") && msgs[0].contains("gives 4"));
    let unknown = [("struct lay_holes|nope", 0usize)];
    assert_eq!(compare_probe("layout", &unknown, &c).len(), 1);
}

#[test]
fn compare_runtime_reports_wrong_bits() {
    let (_, c) = checks_of("bitfields");
    // struct bf_unsigned: ub is bits 1..=3 (byte 0, mask 0x0e); a u8 field `tag` of
    // bf_mixed is byte 0.
    let ok = vec![
        ("struct bf_unsigned|ub".to_string(), vec![0x0e, 0, 0, 0]),
        ("struct bf_mixed|tag".to_string(), vec![0xff, 0, 0, 0]),
    ];
    assert!(compare_runtime("bitfields", &ok, &c).is_empty());
    let wrong = vec![
        // shifted by one bit
        ("struct bf_unsigned|ub".to_string(), vec![0x1c, 0, 0, 0]),
        // one bit too narrow
        ("struct bf_mixed|tag".to_string(), vec![0x7f, 0, 0, 0]),
        // nothing set at all
        ("struct bf_unsigned|ua".to_string(), vec![0, 0, 0, 0]),
    ];
    assert_eq!(compare_runtime("bitfields", &wrong, &c).len(), 3);
}

#[test]
fn scan_numbers_bits_little_endian() {
    assert_eq!(scan(&[0, 0]), None);
    assert_eq!(
        scan(&[0x80, 0x01]),
        Some(BitRange {
            lo: 7,
            width: 2,
            contiguous: true
        })
    );
    assert_eq!(
        scan(&[0x01, 0x01]),
        Some(BitRange {
            lo: 0,
            width: 2,
            contiguous: false
        })
    );
}
