//! `bpfgen layout`: what bpfgen knows about each type's bytes, pahole-style.

use std::fmt::Write as _;
use std::path::Path;

use bpfgen_core::report::{report, TypeReport};
use bpfgen_core::{Error, Options};

pub fn run(object: &Path, json: bool, opts: &Options) -> Result<(), Error> {
    let model = bpfgen_core::load(object, opts)?;
    let items = model.select_for_report(opts)?;
    let reports = report(&model, &items).map_err(|k| k.at(object.display().to_string()))?;
    let text = if json {
        to_json(&reports)
    } else {
        to_text(&reports)
    };
    print!("{text}");
    Ok(())
}

fn to_text(reports: &[TypeReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let name = r
            .c_type
            .clone()
            .unwrap_or_else(|| format!("{} {}", r.kind, r.rust));
        if r.kind == "enum" {
            let _ = writeln!(
                out,
                "{name};  /* BTF id {}, size {}, Rust `{}` */\n",
                r.id, r.size, r.rust
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{name} {{  /* BTF id {}, size {}, align {}, Rust `{}` */",
            r.id, r.size, r.align, r.rust
        );
        let mut holes = r.holes.iter().peekable();
        let mut members: Vec<_> = r.members.iter().collect();
        members.sort_by_key(|m| m.bit_offset);
        for m in members {
            let byte = m.bit_offset / 8;
            while let Some((off, len)) = holes.next_if(|(off, len)| off + len <= byte) {
                let _ = writeln!(
                    out,
                    "\t/* XXX {len} byte{} hole at {off} */",
                    if *len == 1 { "" } else { "s" }
                );
            }
            let decl = match m.bits {
                Some(bits) => format!("{} {}:{bits};", m.c_type, m.c_name.as_deref().unwrap_or("")),
                None => format!("{} {};", m.c_type, m.c_name.as_deref().unwrap_or("")),
            };
            let pos = match m.bits {
                Some(_) => format!("{:>5}:{}", byte, m.bit_offset % 8),
                None => format!("{byte:>7}"),
            };
            let note = match m.held_as {
                "bytes" => format!("  held as bytes: `{}()`", m.rust),
                "bits" => format!("  `{}()`", m.rust),
                _ => String::new(),
            };
            let _ = writeln!(out, "\t{decl:<40} /* {pos} {:>5} */{note}", m.size);
        }
        let mut tail = 0;
        for (off, len) in holes {
            if off + len == r.size {
                tail = *len;
            } else {
                let _ = writeln!(
                    out,
                    "\t/* XXX {len} byte{} hole at {off} */",
                    if *len == 1 { "" } else { "s" }
                );
            }
        }
        let hole_bytes: u32 = r.holes.iter().map(|(_, l)| l).sum::<u32>() - tail;
        let _ = writeln!(
            out,
            "}};  /* size: {}, holes: {} ({hole_bytes} bytes), tail padding: {tail} */\n",
            r.size,
            r.holes.len() - usize::from(tail > 0)
        );
    }
    out
}

fn to_json(reports: &[TypeReport]) -> String {
    use serde_json::json;
    let types: Vec<_> = reports
        .iter()
        .map(|r| {
            let members: Vec<_> = r
                .members
                .iter()
                .map(|m| {
                    json!({
                        "name": m.c_name,
                        "rust": m.rust,
                        "type": m.c_type,
                        "offset": m.bit_offset / 8,
                        "bit_offset": m.bit_offset,
                        "bits": m.bits,
                        "size": m.size,
                        "held_as": m.held_as,
                    })
                })
                .collect();
            let holes: Vec<_> = r
                .holes
                .iter()
                .map(|(o, l)| json!({"offset": o, "len": l}))
                .collect();
            json!({
                "btf_id": r.id,
                "rust": r.rust,
                "c": r.c_type,
                "kind": r.kind,
                "size": r.size,
                "align": r.align,
                "members": members,
                "padding": holes,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&types).unwrap_or_default();
    s.push('\n');
    s
}
