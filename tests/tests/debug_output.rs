//! What the generated `Debug` impls print, compiled into a program and run: a struct
//! prints like `#[derive(Debug)]` would print it (`name { a: 1, b: 2 }`, C member names,
//! padding left out, bitfields and union members through their accessors), also past
//! twelve members (the generated call groups its values: one level at 13, two at 150)
//! and for a member too large to copy (taken by reference); `{:#?}` gives one member per
//! line whatever the grouping; an enum prints its constant's name, else `name(raw)`.
//! The expected text is built here from the values the program sets.

use std::process::Command;

#[path = "../src/btf_builder.rs"]
#[allow(dead_code)]
mod btf_builder;

#[path = "../support/rustc.rs"]
#[allow(dead_code)]
mod rustc;

use btf_builder::{bf, m, Btf};

/// The program's output.
fn run(code: &str, main: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("g.rs"), code).unwrap();
    let src = dir.path().join("main.rs");
    std::fs::write(
        &src,
        format!(
            "#![deny(warnings)]\n#[allow(dead_code)]\nmod g {{\n    include!(\"g.rs\");\n}}\nfn main() {{\n{main}}}\n"
        ),
    )
    .unwrap();
    let exe = dir.path().join("debug_output");
    let out = rustc::command()
        .args(["--edition", "2021", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "rustc:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().expect("run the program");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn debug_prints_every_member_by_its_c_name() {
    let mut b = Btf::new();
    let u8t = b.int("unsigned char", 1, false);
    let u32t = b.int("unsigned int", 4, false);
    let e = b.enumeration("colour", 4, &[("RED", 1), ("GREEN", 2)]);
    let big = b.array(u8t, u32t, 300);
    let pair = b.array(u8t, u32t, 2);
    let m13: Vec<String> = (0..13).map(|i| format!("m{i}")).collect();
    let members: Vec<_> = m13
        .iter()
        .zip(0..)
        .map(|(n, i)| m(n, u32t, 4 * i))
        .collect();
    b.structure("wide13", 52, &members);
    let n150: Vec<String> = (0..150).map(|i| format!("n{i}")).collect();
    let members: Vec<_> = n150.iter().zip(0..).map(|(n, i)| m(n, u8t, i)).collect();
    b.structure("wide150", 150, &members);
    // `big` (300 bytes) is borrowed, the others copied; 3 bytes of padding after `c`.
    b.structure(
        "mixed",
        312,
        &[
            m("big", big, 0),
            m("c", e, 300),
            bf("low", u32t, 304 * 8, 3),
            bf("high", u32t, 304 * 8 + 3, 5),
            m("tail", u8t, 308),
        ],
    );
    b.union("either", 4, &[m("word", u32t, 0), m("bytes", pair, 0)]);
    let code = {
        let model = bpfgen_core::load_bytes(&b.blob(), "debug.btf", None).unwrap();
        let opts = bpfgen_core::Options {
            all: true,
            zerocopy: Some(false),
            ..Default::default()
        };
        model.generate(&opts).unwrap()
    };
    // wide13: groups of 12 and 1; wide150: 13 groups, themselves in groups of 12 and 1.
    assert_eq!(code.matches("__bpfgen_fmt::Group((").count(), 2 + 13 + 2);
    assert!(code.contains("&self.big,"), "big is taken by reference");

    let mut main = String::new();
    main.push_str("    let mut w = g::wide13::default();\n");
    for i in 0..13 {
        main.push_str(&format!("    w.m{i} = {};\n", 1000 + i));
    }
    main.push_str("    println!(\"{w:?}\");\n    println!(\"{w:#?}\");\n");
    main.push_str("    let mut v = g::wide150::default();\n");
    for i in 0..150 {
        main.push_str(&format!("    v.n{i} = {i};\n"));
    }
    main.push_str("    println!(\"{v:?}\");\n");
    main.push_str(
        "    let mut x = g::mixed::default();\n    x.big[299] = 7;\n    x.c = g::colour::GREEN;\n    x.set_low(5);\n    x.set_high(17);\n    x.tail = 9;\n    println!(\"{x:?}\");\n",
    );
    main.push_str("    println!(\"{:?} {:?}\", g::colour::RED, g::colour(7));\n");
    main.push_str(
        "    let mut u = g::either::default();\n    u.set_word(0x0403_0201);\n    println!(\"{u:?}\");\n",
    );
    let out = run(&code, &main);

    let w: Vec<String> = (0..13).map(|i| format!("m{i}: {}", 1000 + i)).collect();
    let w_pretty: String = w.iter().map(|f| format!("    {f},\n")).collect();
    let v: Vec<String> = (0..150).map(|i| format!("n{i}: {i}")).collect();
    let mut big = vec!["0"; 300];
    big[299] = "7";
    let expected = [
        format!("wide13 {{ {} }}", w.join(", ")),
        format!("wide13 {{\n{w_pretty}}}"),
        format!("wide150 {{ {} }}", v.join(", ")),
        format!(
            "mixed {{ big: [{}], c: GREEN, low: 5, high: 17, tail: 9 }}",
            big.join(", ")
        ),
        "RED colour(7)".to_string(),
        "either { word: 67305985, bytes: [1, 2] }".to_string(),
    ];
    assert_eq!(out, expected.join("\n") + "\n");
}
