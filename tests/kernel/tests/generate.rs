//! What bpfgen generates for maps and globals that the `maps` fixture does not show,
//! from small objects compiled here with clang-19: the exact warning for a legacy
//! `SEC("maps")` map and for a map whose value is declared by size only, the exact
//! error for a map whose value type is only a forward declaration, names of anonymous
//! types used by maps and globals (and that their code compiles), `--embed` paths,
//! and that `--type` and raw BTF describe no maps.

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfgen_core::{Options, WarningKind};

#[path = "../../support/rustc.rs"]
mod rustc;

fn clang() -> String {
    for c in ["clang-19", "clang"] {
        if Command::new(c).arg("--version").output().is_ok() {
            return c.to_string();
        }
    }
    panic!("clang-19 not found: these tests compile BPF objects (apt-get install clang-19)");
}

/// Compiles `src` (after the usual includes) to `dir/name.bpf.o`.
fn compile(dir: &Path, name: &str, src: &str) -> PathBuf {
    let c = dir.join(format!("{name}.bpf.c"));
    let o = dir.join(format!("{name}.bpf.o"));
    std::fs::write(
        &c,
        format!(
            "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n{src}\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n"
        ),
    )
    .unwrap();
    let out = Command::new(clang())
        .args(["-g", "-O2", "-target", "bpfel", "-Wall", "-Werror"])
        .arg(format!(
            "-I/usr/include/{}-linux-gnu",
            std::env::consts::ARCH
        ))
        .arg("-c")
        .arg(&c)
        .arg("-o")
        .arg(&o)
        .output()
        .expect("run clang");
    assert!(
        out.status.success(),
        "clang failed on {name}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    o
}

/// Compiles generated `code` as a module of a `#![no_std]` library with every warning
/// denied (zerocopy off: plain rustc has no dependencies), and fails with rustc's output.
fn assert_compiles_no_std(dir: &Path, code: &str) {
    let out = rustc::check_no_std(dir, code);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn masked_ids(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("type id ") {
        out.push_str(&rest[..p + 8]);
        rest = rest[p + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

#[test]
fn legacy_maps_section_warns_and_describes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let obj = compile(
        tmp.path(),
        "legacy",
        r#"
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") old_counts = {
    .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 4,
};
SEC("xdp") int prog(void *ctx) { int k = 0; return bpf_map_lookup_elem(&old_counts, &k) ? 1 : 2; }
"#,
    );
    let opts = Options::default();
    let model = bpfgen_core::load(&obj, &opts).unwrap();
    let g = model.generate_to(&opts, None).unwrap();
    let msgs: Vec<String> = g.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        msgs,
        [format!(
            "{}: map `old_counts` is a legacy `SEC(\"maps\")` definition (`struct bpf_map_def`, no BTF key or value type): \
             no description is generated for it (libbpf 1.0 no longer loads such maps); \
             declare it in `SEC(\".maps\")` with `__uint(type, …)`, `__type(key, …)` and `__type(value, …)`",
            obj.display()
        )]
    );
    assert!(matches!(&g.warnings[0].kind, WarningKind::LegacyMap { map } if map == "old_counts"));
    assert!(
        g.code.contains("    pub const ALL: &[MapDef] = &[];\n"),
        "no map described"
    );
    // `--type` adds a type to what is described; the maps and their warning stay.
    let more = Options {
        types: vec!["bpf_map_def".into()],
        ..Options::default()
    };
    let g = model.generate_to(&more, None).unwrap();
    assert_eq!(g.warnings.len(), 1);
    assert!(g.code.contains("pub mod maps") && g.code.contains("pub struct bpf_map_def {"));
}

#[test]
fn value_declared_by_size_only_warns_and_gets_no_type() {
    let tmp = tempfile::tempdir().unwrap();
    let obj = compile(
        tmp.path(),
        "sized",
        r#"
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, __u32);
    __uint(value_size, 12);
} sized SEC(".maps");
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __uint(key_size, 4);
    __type(value, __u64);
} index_by_size SEC(".maps");
SEC("xdp") int prog(void *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&sized, &k) && bpf_map_lookup_elem(&index_by_size, &k) ? 1 : 2; }
"#,
    );
    let opts = Options {
        aya: true,
        ..Options::default()
    };
    let model = bpfgen_core::load(&obj, &opts).unwrap();
    let g = model.generate_to(&opts, None).unwrap();
    let msgs: Vec<String> = g.warnings.iter().map(|w| w.kind.to_string()).collect();
    // An array's key is an index: declaring it by size is normal and not warned about.
    assert_eq!(
        msgs,
        ["map `sized`: its value is declared by size only (`__uint(value_size, 12)`), so bpfgen has no type for it: \
          no `Value` type and no typed aya handle are generated; declare it with `__type(value, T)`"]
    );
    let module = &g.code[g.code.find("    pub mod sized {").unwrap()..];
    let module = &module[..module.find("\n    }\n").unwrap()];
    assert!(module.contains("pub type Key = super::super::__u32;"));
    assert!(!module.contains("pub type Value"));
    assert!(module.contains("value_size: 12,"));
    assert!(g.code.contains(
        "    /// The value is declared by its size only (12 bytes): no `Value` type.\n    pub mod sized {"
    ));
    let glue = &g.code[g.code.find("pub mod aya_glue").unwrap()..];
    assert!(
        !glue.contains("pub mod sized"),
        "no typed aya handle for `sized`"
    );
    assert!(glue.contains("pub mod index_by_size"));
}

#[test]
fn value_type_only_declared_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let obj = compile(
        tmp.path(),
        "fwd",
        r#"
struct lonely;
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
    __uint(max_entries, 1);
    __type(key, __u32);
    __array(values, struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 4);
        __type(key, __u32);
        __type(value, struct lonely);
    });
} outer SEC(".maps");
SEC("xdp") int prog(void *ctx) { __u32 k = 0; return bpf_map_lookup_elem(&outer, &k) ? 1 : 2; }
"#,
    );
    let err = bpfgen_core::load(&obj, &Options::default())
        .err()
        .expect("a map whose value type has no definition is an error");
    assert_eq!(
        masked_ids(&err.to_string()),
        format!(
            "{}: map `outer.inner` (BTF type id N): the value type `struct lonely` (BTF type id N) is only declared, \
             never defined, in the BTF, so its size is unknown (libbpf rejects this map too); if it is only used by \
             an inner map, anchor it with a typed global (`struct lonely anchor;`) so clang emits its definition",
            obj.display()
        )
    );
}

#[test]
fn anonymous_types_of_maps_and_globals_get_names_and_compile() {
    let tmp = tempfile::tempdir().unwrap();
    let obj = compile(
        tmp.path(),
        "anon",
        r#"
struct { int a; struct { char x; long y; } nested; } anon_knob = { 1 };
const volatile struct { __u32 seed; } anon_cfg = { 5 };
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4);
    __type(key, struct { __u32 a; __u16 b; });
    __type(value, __u64);
} anon_key SEC(".maps");
SEC("xdp") int prog(void *ctx) { return anon_knob.a + anon_cfg.seed + (bpf_map_lookup_elem(&anon_key, &anon_knob) ? 1 : 2); }
"#,
    );
    let opts = Options {
        zerocopy: Some(false),
        ..Options::default()
    };
    let model = bpfgen_core::load(&obj, &opts).unwrap();
    let code = model.generate_to(&opts, None).unwrap().code;
    for want in [
        "pub struct anon_knob {",
        "pub struct anon_knob__nested {",
        "pub struct anon_cfg {",
        "pub struct anon_key__key {",
        "pub type Key = super::super::anon_key__key;",
        "pub anon_knob: super::anon_knob,",
        "pub anon_cfg: super::anon_cfg,",
    ] {
        assert!(code.contains(want), "missing `{want}`");
    }
    // The whole file compiles as a no_std library with every warning denied.
    assert_compiles_no_std(tmp.path(), &code);
}

fn include_path(code: &str) -> String {
    let start = code.find("include_bytes!(").expect("OBJECT is embedded") + "include_bytes!(".len();
    let rest = code[start..].trim_start();
    let rest = &rest[rest.find('"').unwrap() + 1..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[test]
fn embed_spells_the_path_relative_to_the_output() {
    let obj = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bpfel/maps.bpf.o");
    let opts = Options {
        embed: true,
        ..Options::default()
    };
    let model = bpfgen_core::load(&obj, &opts).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("src/gen");
    std::fs::create_dir_all(&out_dir).unwrap();
    let rel = include_path(
        &model
            .generate_to(&opts, Some(&out_dir.join("maps.rs")))
            .unwrap()
            .code,
    );
    assert!(
        rel.starts_with("../") && rel.ends_with("fixtures/bpfel/maps.bpf.o"),
        "{rel}"
    );
    assert_eq!(
        std::fs::canonicalize(out_dir.join(&rel)).unwrap(),
        std::fs::canonicalize(&obj).unwrap()
    );
    // Next to the object: just its name.
    let here = obj.parent().unwrap().join("maps.rs");
    assert_eq!(
        include_path(&model.generate_to(&opts, Some(&here)).unwrap().code),
        "maps.bpf.o"
    );
    // No output file (stdout, include_bpf!): the absolute path.
    let abs = include_path(&model.generate_to(&opts, None).unwrap().code);
    assert_eq!(Path::new(&abs), std::fs::canonicalize(&obj).unwrap());
    // Bytes without a path cannot be embedded.
    let bytes = std::fs::read(&obj).unwrap();
    let m = bpfgen_core::load_bytes(&bytes, "memory.bpf.o", None).unwrap();
    assert_eq!(
        m.generate_to(&opts, None).unwrap_err().to_string(),
        "memory.bpf.o: cannot embed `memory.bpf.o`: the object was given as bytes, not as a file (set `Model::input_path`)"
    );
}

/// `--type` on an object adds to the types shared through maps and globals, which
/// stay described; raw BTF has no maps to describe.
#[test]
fn type_selection_adds_to_maps_and_raw_btf_describes_none() {
    let obj = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bpfel/maps.bpf.o");
    let opts = Options {
        types: vec!["mp_key".into()],
        aya: true,
        ..Options::default()
    };
    let code = bpfgen_core::load(&obj, &opts)
        .unwrap()
        .generate(&opts)
        .unwrap();
    assert!(code.contains("pub mod maps {") && code.contains("pub mod globals {"));
    assert!(code.contains("unsafe impl ::aya::Pod for super::mp_key {}"));
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    if vmlinux.exists() {
        let opts = Options {
            types: vec!["xdp_md".into()],
            ..Options::default()
        };
        let m = bpfgen_core::load(vmlinux, &opts).unwrap();
        assert!(m.elf.is_none() && m.maps.maps.is_empty() && m.globals.sections.is_empty());
        assert!(!m.generate(&opts).unwrap().contains("pub mod maps"));
    }
}

/// The maps, globals, `OBJECT` and aya glue are exactly what prettyplease prints, like
/// the types (see tests/tests/format.rs, which covers the default options).
#[test]
fn skeleton_and_glue_are_prettyplease_formatted() {
    let normalise = |text: &str| -> String {
        text.lines()
            .filter(|l| {
                let t = l.trim_start();
                let plain_comment = t.starts_with("//") && !t.starts_with("///");
                !t.is_empty() && !plain_comment
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for name in ["maps", "externs", "layout", "bitfields_values"] {
        let obj = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../../fixtures/bpfel/{name}.bpf.o"));
        for zerocopy in [true, false] {
            let opts = Options {
                aya: true,
                embed: true,
                zerocopy: Some(zerocopy),
                ..Options::default()
            };
            let code = bpfgen_core::load(&obj, &opts)
                .unwrap()
                .generate(&opts)
                .unwrap();
            let again = prettyplease::unparse(&syn::parse_file(&code).unwrap());
            let (a, b) = (normalise(&code), normalise(&again));
            if a != b {
                let line = a
                    .lines()
                    .zip(b.lines())
                    .position(|(x, y)| x != y)
                    .unwrap_or(0);
                panic!(
                    "{name}: differs from prettyplease at normalised line {line}:\n{}\n---\n{}",
                    a.lines().nth(line).unwrap_or(""),
                    b.lines().nth(line).unwrap_or("")
                );
            }
        }
    }
}

/// vmlinux.h reproduces cacheline-aligned holes with anonymous `long: 64;` padding,
/// which leaves no trace in the new object's BTF: bpfgen infers alignment 64 from the
/// holes, while clang laid the global out with alignment 8. Such a global is held as
/// bytes with accessors instead of being refused (found with `struct net_device` in
/// `.bss` at offset 4272).
#[test]
fn global_its_type_alignment_does_not_place_is_held_as_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let obj = compile(
        tmp.path(),
        "cacheline",
        r#"
struct cl { int a; long: 64; long: 64; long: 64; long: 64; long: 64; long: 64; long: 64; int b; long: 64; long: 64; long: 64; long: 64; long: 64; long: 64; long: 64; };
__u32 g_small;
struct cl g_cl;
SEC("xdp") int prog(void *ctx) { return g_small + g_cl.b; }
"#,
    );
    let opts = Options {
        zerocopy: Some(false),
        ..Options::default()
    };
    let code = bpfgen_core::load(&obj, &opts)
        .unwrap()
        .generate_to(&opts, None)
        .unwrap()
        .code;
    for want in [
        "/// C `struct cl` (BTF type id",
        "pub g_cl_bytes: [::core::primitive::u8; 128],",
        "pub fn g_cl(&self) -> super::cl {",
        "pub fn set_g_cl(&mut self, value: super::cl) {",
        "assert!(offset_of!(bss, g_cl_bytes) == 8);",
    ] {
        assert!(code.contains(want), "missing `{want}`");
    }
    assert!(
        code.contains(": 128 bytes, aligned to 64."),
        "the hole implies 64"
    );
    // And it compiles, accessors included.
    assert_compiles_no_std(tmp.path(), &code);
}
