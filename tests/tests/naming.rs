//! Naming rules: stable names for anonymous types, keywords, clashes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bpfgen_core::ir::Kind;
use bpfgen_core::naming::Role;
use bpfgen_core::{Model, Options};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/bpfel")
        .join(format!("{name}.bpf.o"))
}

fn model(name: &str) -> Model {
    bpfgen_core::load(&fixture(name), &Options::default()).unwrap()
}

/// What identifies a type independently of its BTF id → its generated name.
fn names_by_identity(m: &Model) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (id, role) in &m.names.roles {
        let Role::Item(rust) = role else { continue };
        let t = m.ir.get(*id);
        let word = match &t.kind {
            Kind::Struct(_) => "struct",
            Kind::Union(_) => "union",
            Kind::Enum(_) => "enum",
            Kind::Typedef { .. } => "typedef",
            _ => "fwd",
        };
        let key = match (&t.name, m.names.anon_origin.get(id)) {
            (Some(n), _) => format!("{word} {n}"),
            (None, Some(origin)) => format!("anonymous {word} at {origin}"),
            // Named by its typedef, or a top-level anonymous enum named by its first
            // enumerator: the name itself is the identity.
            (None, None) => format!("anonymous {word} {rust}"),
        };
        assert!(
            out.insert(key.clone(), rust.clone()).is_none(),
            "duplicate identity {key}"
        );
    }
    out
}

#[test]
fn adding_an_unrelated_anonymous_type_renames_nothing() {
    let v1 = names_by_identity(&model("naming"));
    let v2 = names_by_identity(&model("naming_v2"));
    let mut checked = 0;
    for (key, name) in &v1 {
        assert_eq!(
            v2.get(key),
            Some(name),
            "`{key}` was `{name}` in naming, differs in naming_v2"
        );
        checked += 1;
    }
    let anon_v1 = v1.keys().filter(|k| k.starts_with("anonymous")).count();
    let added: Vec<&String> = v2.keys().filter(|k| !v1.contains_key(*k)).collect();
    println!("{checked} names stable ({anon_v1} anonymous); naming_v2 adds {added:?}");
    assert!(anon_v1 >= 10, "the fixture must exercise anonymous types");
    assert!(
        added.iter().filter(|k| k.starts_with("anonymous")).count() >= 2,
        "naming_v2 must add anonymous types for the test to mean anything: {added:?}"
    );
    // And the BTF ids really moved: v2's additions come first.
    let id_of = |m: &Model, n: &str| m.ir.types.iter().position(|t| t.name.as_deref() == Some(n));
    assert_ne!(
        id_of(&model("naming"), "nm_outer"),
        id_of(&model("naming_v2"), "nm_outer")
    );
}

#[test]
fn anonymous_types_are_named_by_path() {
    let v1 = names_by_identity(&model("naming"));
    let expect = [
        ("anonymous union at nm_outer.<anon0>", "nm_outer__anon0"),
        ("anonymous struct at nm_outer.<anon1>", "nm_outer__anon1"),
        (
            "anonymous struct at nm_named_anon.hdr",
            "nm_named_anon__hdr",
        ),
        ("anonymous struct at nm_deep.level1", "nm_deep__level1"),
        (
            "anonymous union at nm_deep.level1.<anon0>",
            "nm_deep__level1__anon0",
        ),
        (
            "anonymous struct at nm_deep.level1.<anon0>.leaf_pair",
            "nm_deep__level1__anon0__leaf_pair",
        ),
        ("anonymous struct at nm_arr_anon.arr", "nm_arr_anon__arr"),
        (
            "anonymous struct at nm_arr_anon.colors",
            "nm_arr_anon__colors",
        ),
        (
            "anonymous enum at nm_inline_enum.inl_kind",
            "nm_inline_enum__inl_kind",
        ),
        ("anonymous struct thing_t", "thing_t"),
        ("anonymous enum anon_enum_ANON_A", "anon_enum_ANON_A"),
    ];
    for (key, name) in expect {
        assert_eq!(v1.get(key).map(String::as_str), Some(name), "{key}");
    }
}

#[test]
fn keywords_and_clashes() {
    let m = model("naming");
    let code = m.generate(&Options::default()).unwrap();
    for line in [
        "pub struct r#type {",
        "    pub r#match: ::core::primitive::i32,",
        "    pub self_: ::core::primitive::i32,",
        "    pub Self_: ::core::primitive::i32,",
        "    pub super_: ::core::primitive::i32,",
        "    pub crate_: ::core::primitive::i32,",
        "pub struct r#match {",
        "pub struct r#impl(pub ::core::primitive::u32);",
        "pub struct Self_ {",
        // `struct x` keeps its name; `typedef struct y x;` is renamed by kind.
        "pub struct x {",
        "pub type x_typedef = y;",
        // `typedef struct z z;` adds no item of its own.
        "pub struct z {",
        // vmlinux-style `typedef __u8 u8;` is fine: primitives are spelled in full.
        "pub type u8 = __u8;",
        "pub type __u8 = ::core::primitive::u8;",
        // Enums named like the impls' bindings (`f`, `value`, `b`) are renamed by kind;
        // the fields keep their names (the library compiling this file proves the rest).
        "pub struct f_enum(pub ::core::primitive::u32);",
        "pub struct value_enum(pub ::core::primitive::u32);",
        "pub struct b_enum(pub ::core::primitive::u32);",
        "    pub f: f_enum,",
        "    pub value: value_enum,",
        "    pub fn set_b(&mut self, value: b_enum) {",
        "                let mut b = [0u8; 4];",
    ] {
        assert!(code.lines().any(|l| l == line), "missing line `{line}`");
    }
    assert!(
        !code.contains("pub type z ="),
        "same-name typedef must not become an alias"
    );
    assert_eq!(code.matches("pub struct z {").count(), 1);
}

#[test]
fn ident_rules() {
    use bpfgen_core::naming::ident;
    assert_eq!(ident("type"), "r#type");
    assert_eq!(ident("gen"), "r#gen");
    assert_eq!(ident("self"), "self_");
    assert_eq!(ident("Self"), "Self_");
    assert_eq!(ident("_"), "__");
    assert_eq!(ident("9lives"), "_9lives");
    assert_eq!(ident("a.b<c>"), "a_b_c_");
    assert_eq!(ident("union"), "union");
    assert_eq!(ident("vip_key"), "vip_key");
}
