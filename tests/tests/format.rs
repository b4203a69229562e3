//! The generated text is exactly what prettyplease prints: re-parsing each output and
//! formatting it again with prettyplease gives the same bytes; and the text bpfgen
//! writes directly equals, byte for byte, the same items built as tokens and formatted
//! by prettyplease (`Options::tokens_only`). (bpfgen writes the
//! regular layout-assertion blocks directly, in prettyplease's layout, for speed; this
//! test is what keeps that honest.) Plain `//` comments (the header and `// SAFETY:`
//! lines) do not survive parsing, and blank lines between items are bpfgen's own,
//! so both are left out of the comparison.

use std::path::Path;

use bpfgen_core::Options;

fn normalise(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            let plain_comment = t.starts_with("//") && !t.starts_with("///");
            !t.is_empty() && !plain_comment
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_fixed_point(label: &str, code: &str) {
    let file = syn::parse_file(code)
        .unwrap_or_else(|e| panic!("{label}: generated code does not parse: {e}"));
    let again = prettyplease::unparse(&file);
    let (ours, theirs) = (normalise(code), normalise(&again));
    if ours != theirs {
        let first = ours
            .lines()
            .zip(theirs.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(ours.lines().count().min(theirs.lines().count()));
        let ctx = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(3))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{label}: output differs from prettyplease at normalised line {first}:\n--- bpfgen\n{}\n--- prettyplease\n{}",
            ctx(&ours),
            ctx(&theirs)
        );
    }
}

#[test]
fn every_fixture_is_prettyplease_formatted() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut n = 0;
    for endian in ["bpfel", "bpfeb"] {
        let mut objs: Vec<_> = std::fs::read_dir(root.join(endian))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        objs.sort();
        for obj in objs {
            for zerocopy in [true, false] {
                let opts = Options {
                    zerocopy: Some(zerocopy),
                    ..Options::default()
                };
                let code = bpfgen_core::generate_file(&obj, &opts).unwrap();
                assert_fixed_point(&format!("{} (zerocopy {zerocopy})", obj.display()), &code);
                n += 1;
            }
        }
    }
    assert!(n >= 20, "{n} outputs checked");
}

/// Kernel types have long names, which exercise the wrapped forms.
#[test]
fn kernel_types_are_prettyplease_formatted() {
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    if !vmlinux.exists() {
        eprintln!("no /sys/kernel/btf/vmlinux on this machine: nothing to check");
        return;
    }
    let opts = Options {
        types: [
            "task_struct",
            "sk_buff",
            "bpf_prog_aux",
            "tcp_sock",
            "xdp_md",
        ]
        .map(String::from)
        .to_vec(),
        ..Options::default()
    };
    let code = bpfgen_core::generate_file(vmlinux, &opts).unwrap();
    assert!(code.lines().count() > 10_000);
    assert_fixed_point("vmlinux subset", &code);
}

/// Every item of the running kernel (about 800k lines): slow, so not in the default
/// run; `cargo test --release -p bpfgen-tests --test format -- --ignored`.
#[test]
#[ignore]
fn all_of_vmlinux_is_prettyplease_formatted() {
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    let opts = Options {
        all: true,
        ..Options::default()
    };
    let code = bpfgen_core::generate_file(vmlinux, &opts).unwrap();
    assert!(code.lines().count() > 100_000);
    // Item by item, so a difference is reported near its item.
    let mut item = String::new();
    for line in code.lines() {
        if line.is_empty() && !item.trim().is_empty() {
            assert_fixed_point("vmlinux --all", &item);
            item.clear();
        } else {
            item.push_str(line);
            item.push('\n');
        }
    }
    assert_fixed_point("vmlinux --all", &item);
}

/// `path` generated with `opts` through the fast path (text written directly) and with
/// every item built as tokens and formatted by prettyplease: the same bytes, or the
/// first differing line.
fn same_both_ways(label: &str, path: &Path, opts: &Options, out: Option<&Path>) {
    let model = bpfgen_core::load(path, opts).unwrap_or_else(|e| panic!("{label}: {e}"));
    let fast = model.generate_to(opts, out).unwrap().code;
    let slow_opts = Options {
        tokens_only: true,
        ..opts.clone()
    };
    let slow = model.generate_to(&slow_opts, out).unwrap().code;
    if fast != slow {
        // Both kept for a diff: target/format-{fast,tokens}.rs.
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
        let _ = std::fs::write(target.join("format-fast.rs"), &fast);
        let _ = std::fs::write(target.join("format-tokens.rs"), &slow);
        let at = fast
            .lines()
            .zip(slow.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(fast.lines().count().min(slow.lines().count()));
        let ctx = |s: &str| {
            s.lines()
                .skip(at.saturating_sub(3))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{label}: the fast path differs from tokens + prettyplease at line {}:\n--- fast\n{}\n--- tokens\n{}",
            at + 1,
            ctx(&fast),
            ctx(&slow)
        );
    }
}

/// One description, two renderings: every fixture (both byte orders, with and without
/// zerocopy, with `--aya --embed`), the load balancer and a vmlinux subset give the same
/// bytes through the fast text path and through tokens + prettyplease.
#[test]
fn fast_path_equals_tokens_and_prettyplease() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut objs: Vec<std::path::PathBuf> = Vec::new();
    for endian in ["bpfel", "bpfeb"] {
        let mut v: Vec<_> = std::fs::read_dir(root.join("fixtures").join(endian))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        objs.extend(v);
    }
    objs.push(root.join("examples/lb/bpf/lb.bpf.o"));
    let out = root.join("target/format-test.rs");
    let mut n = 0;
    for obj in &objs {
        for opts in [
            Options::default(),
            Options {
                zerocopy: Some(false),
                ..Options::default()
            },
            Options {
                aya: true,
                embed: true,
                ..Options::default()
            },
        ] {
            same_both_ways(
                &format!("{} {:?}", obj.display(), opts.to_args()),
                obj,
                &opts,
                Some(&out),
            );
            n += 1;
        }
    }
    let vmlinux = Path::new("/sys/kernel/btf/vmlinux");
    if vmlinux.exists() {
        let opts = Options {
            types: ["task_struct", "sk_buff", "tcp_sock"]
                .map(String::from)
                .to_vec(),
            ..Options::default()
        };
        same_both_ways("vmlinux subset", vmlinux, &opts, None);
        n += 1;
    }
    assert!(n >= 60, "{n} outputs compared");
}

/// The same for every item of the running kernel (slow in a debug build:
/// `cargo test --release -p bpfgen-tests --test format -- --ignored`).
#[test]
#[ignore]
fn all_of_vmlinux_fast_path_equals_tokens() {
    let opts = Options {
        all: true,
        ..Options::default()
    };
    same_both_ways(
        "vmlinux --all",
        Path::new("/sys/kernel/btf/vmlinux"),
        &opts,
        None,
    );
}
