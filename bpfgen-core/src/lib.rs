//! bpfgen: Rust types whose memory layout is, byte for byte, the layout of the types in
//! a BPF object's BTF.
//!
//! The pipeline, one module per stage:
//! bytes → [`object`] (ELF or raw BTF) → [`btf`] (framing checks, btf-rs) → [`ir`]
//! (checked type graph) → [`naming`] + [`select`] → [`layout`] (every byte) → `emit`
//! (tokens, prettyplease) → front ends (the `bpfgen` CLI, `include_bpf!`, build scripts).

pub mod btf;
pub mod builder;
mod elf_check;
mod emit;
pub mod error;
pub mod globals;
pub mod input;
pub mod ir;
pub mod layout;
pub mod maps;
pub mod naming;
pub mod object;
pub mod options;
pub mod output;
pub mod report;
pub mod select;

use std::path::{Path, PathBuf};

pub use error::{Error, ErrorKind, Warning, WarningKind};
pub use options::Options;

/// A loaded input: the graph, its names, and what it came from.
pub struct Model {
    pub ir: ir::Ir,
    pub names: naming::Names,
    pub kind: object::InputKind,
    /// File name used in messages and docs.
    pub label: String,
    /// The input's path, when it was read from a file ([`load`] sets it): what
    /// `--embed` includes. Set it yourself after [`load_bytes`] to embed.
    pub input_path: Option<PathBuf>,
    /// The ELF sections and symbols (`None` for raw BTF).
    pub elf: Option<object::ElfInfo>,
    /// The object's maps (empty for raw BTF).
    pub maps: maps::Maps,
    /// The object's data sections and externs (empty for raw BTF).
    pub globals: globals::Globals,
}

/// Generated source and what the user should hear about it.
#[derive(Clone, Debug)]
pub struct Generated {
    pub code: String,
    /// Things the input asked for that were not (fully) generated: print them.
    pub warnings: Vec<Warning>,
}

/// Reads and checks `path` (and the `--base` file, if any) into a [`Model`].
pub fn load(path: &Path, opts: &Options) -> Result<Model, Error> {
    let label = path.display().to_string();
    let bytes = input::read_bounded(path).map_err(|k| k.at(&label))?;
    let base = match &opts.base {
        Some(b) => {
            let bl = b.display().to_string();
            Some((input::read_bounded(b).map_err(|k| k.at(&bl))?, bl))
        }
        None => None,
    };
    let mut model = load_bytes(
        &bytes,
        &label,
        base.as_ref().map(|(b, l)| (b.as_slice(), l.as_str())),
    )?;
    model.input_path = Some(path.to_path_buf());
    Ok(model)
}

/// [`load`] for bytes in memory; `base` is the base BTF and its label.
pub fn load_bytes(bytes: &[u8], label: &str, base: Option<(&[u8], &str)>) -> Result<Model, Error> {
    let input = object::read(bytes).map_err(|k| k.at(label))?;
    let base_loaded = match base {
        Some((b, bl)) => Some(btf::load(b, None).map_err(|k| k.at(bl))?),
        None => None,
    };
    let loaded = btf::load(&input.btf, base_loaded.as_ref()).map_err(|k| k.at(label))?;
    if loaded.raw.endian != input.endian {
        return Err(ErrorKind::EndianMismatch {
            btf: loaded.raw.endian.name(),
            elf: input.endian.name(),
        }
        .at(label));
    }
    let ir = ir::build(&loaded).map_err(|k| k.at(label))?;
    let mut names = naming::assign(&ir).map_err(|k| k.at(label))?;
    let elf = match &input.elf {
        Some(e) => Some(object::ElfInfo::from_elf(e).map_err(|k| k.at(label))?),
        None => None,
    };
    let (maps, globals) = match &elf {
        Some(e) => {
            let maps = maps::decode(&ir, e).map_err(|k| k.at(label))?;
            let globals = globals::decode(&ir, e).map_err(|k| k.at(label))?;
            // Anonymous types only maps and globals use get names of their own.
            let mut wants = Vec::new();
            for m in &maps.maps {
                let inner = m
                    .inner
                    .as_deref()
                    .map(|i| (i, format!("{}__inner", m.name)));
                for (spec, base) in std::iter::once((m, m.name.clone())).chain(inner) {
                    for (ty, what) in [(spec.key, "key"), (spec.value, "value")] {
                        if let Some(ty) = ty {
                            wants.push((
                                ty,
                                format!("{base}__{what}"),
                                format!("{}.{what}", spec.name),
                            ));
                        }
                    }
                }
            }
            for sec in &globals.sections {
                for v in &sec.vars {
                    wants.push((v.ty, v.name.clone(), v.name.clone()));
                }
            }
            globals::name_anonymous(&ir, &mut names, &wants).map_err(|k| k.at(label))?;
            (maps, globals)
        }
        None => Default::default(),
    };
    Ok(Model {
        ir,
        names,
        kind: input.kind,
        label: label.to_string(),
        input_path: None,
        elf,
        maps,
        globals,
    })
}

impl Model {
    /// The item ids `opts` selects, in BTF id order: for an object, the types user
    /// space shares with it ([`Self::shared_types`]) plus the `--type` names; for raw
    /// BTF, the `--type` names; with `--all`, every type. Each with what it holds by
    /// value.
    pub fn select(&self, opts: &Options) -> Result<Vec<ir::TypeId>, Error> {
        if opts.all {
            return Ok(select::all(&self.ir, &self.names));
        }
        let mut start = self.named(opts)?;
        if self.kind == object::InputKind::Elf {
            start.extend(self.shared_types());
        } else if start.is_empty() {
            return Err(ErrorKind::SelectionRequired.at(&self.label));
        }
        Ok(select::closure(&self.ir, &self.names, start))
    }

    /// The types the `--type` names name.
    fn named(&self, opts: &Options) -> Result<Vec<ir::TypeId>, Error> {
        let object = self.kind == object::InputKind::Elf;
        select::named(&self.ir, &self.names, &opts.types, object).map_err(|k| k.at(&self.label))
    }

    /// What a layout report covers: the `--type` names and what they hold by value
    /// when any are given (not the types shared with the object besides), else the
    /// items of [`Self::select`].
    pub fn select_for_report(&self, opts: &Options) -> Result<Vec<ir::TypeId>, Error> {
        if opts.types.is_empty() || opts.all {
            return self.select(opts);
        }
        Ok(select::closure(&self.ir, &self.names, self.named(opts)?))
    }

    /// The types user space exchanges with the object: every map's key and value
    /// (inner maps' too) and the type of every variable of its data sections. Types
    /// reached only through CO-RE relocations, program signatures or pointers are not
    /// among them.
    pub fn shared_types(&self) -> Vec<ir::TypeId> {
        let mut out = Vec::new();
        for m in &self.maps.maps {
            for spec in std::iter::once(m).chain(m.inner.as_deref()) {
                out.extend(spec.key);
                out.extend(spec.value);
            }
        }
        for sec in &self.globals.sections {
            out.extend(sec.vars.iter().map(|v| v.ty));
        }
        out
    }

    /// Generates the Rust source for `opts` (warnings are dropped: see
    /// [`Self::generate_to`]; `--embed` spells the object's absolute path).
    pub fn generate(&self, opts: &Options) -> Result<String, Error> {
        Ok(self.generate_to(opts, None)?.code)
    }

    /// Whether the output describes the object's maps and globals: for every ELF
    /// object (`--type` adds types to what it shares).
    pub fn describes_skeleton(&self) -> bool {
        self.elf.is_some()
    }

    /// Generates the Rust source for `opts`, to be written to `output` (`None`:
    /// stdout or memory). `output` only matters for `--embed`: `include_bytes!`
    /// resolves a relative path from the file it appears in, so the object's path is
    /// spelled relative to `output`'s directory when there is one (a generated file
    /// committed next to its object stays valid in any checkout), and absolute
    /// otherwise.
    pub fn generate_to(&self, opts: &Options, output: Option<&Path>) -> Result<Generated, Error> {
        let embed = if opts.embed {
            Some(self.embed_path(output).map_err(|k| k.at(&self.label))?)
        } else {
            None
        };
        self.generate_embedding(opts, embed)
    }

    /// [`Self::generate_to`] with `--embed`'s `include_bytes!` path given as it is to be
    /// spelled (`None`: no `OBJECT`). `bpfgen check` keeps the path a generated file
    /// already embeds ([`embedded_path`]), so the same object bytes at another place
    /// are not drift.
    pub fn generate_embedding(
        &self,
        opts: &Options,
        embed: Option<String>,
    ) -> Result<Generated, Error> {
        let items = self.select(opts)?;
        let source = Path::new(&self.label)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.label.clone());
        let zerocopy = opts.zerocopy.unwrap_or(self.kind == object::InputKind::Elf);
        let mut header = vec![
            format!(
                "Generated by bpfgen {} from `{source}` ({}, {} types). Do not edit.",
                env!("CARGO_PKG_VERSION"),
                self.ir.endian.name(),
                items.len()
            ),
            "Every layout below is asserted at compile time against the BTF.".to_string(),
        ];
        if !opts.all && self.kind == object::InputKind::Elf {
            let left = select::all(&self.ir, &self.names)
                .len()
                .saturating_sub(items.len());
            if left > 0 {
                header.push(format!(
                    "{left} more types of the object are left out: its BTF reaches them only through CO-RE"
                ));
                header.push(
                    "relocations, program signatures or pointers. Add one with `--type NAME` \
                     (include_bpf!: `types = [\"NAME\"]`), or all with `--all`."
                        .to_string(),
                );
            }
        }
        let args = opts.to_args();
        header.push(
            format!("bpfgen-options: {}", args.join(" "))
                .trim_end()
                .to_string(),
        );
        let skeleton = self.describes_skeleton();
        let cfg = emit::EmitConfig {
            source: &source,
            header,
            zerocopy,
            skeleton: skeleton.then_some((self.maps.maps.as_slice(), &self.globals)),
            aya: opts.aya,
            embed,
            threads: opts.threads,
            tokens_only: opts.tokens_only,
        };
        let code =
            emit::emit(&self.ir, &self.names, &items, &cfg).map_err(|k| k.at(&self.label))?;
        let warnings = if skeleton {
            self.maps
                .warnings
                .iter()
                .map(|w| w.clone().at(&self.label))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Generated { code, warnings })
    }

    /// How `include_bytes!` reaches the input from a file written to `output`.
    fn embed_path(&self, output: Option<&Path>) -> Result<String, ErrorKind> {
        let label = self.label.clone();
        let input = self.input_path.as_deref().ok_or_else(|| ErrorKind::Embed {
            path: label.clone(),
            what: "the object was given as bytes, not as a file (set `Model::input_path`)".into(),
        })?;
        let fail = |what: String| ErrorKind::Embed {
            path: input.display().to_string(),
            what,
        };
        let abs = std::fs::canonicalize(input).map_err(|e| fail(e.to_string()))?;
        let spelled = match output {
            Some(out) => {
                let dir = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                match std::fs::canonicalize(dir) {
                    Ok(dir) => relative_path(&dir, &abs),
                    Err(_) => abs,
                }
            }
            None => abs,
        };
        spelled
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| fail("its path is not valid UTF-8, which `include_bytes!` needs".into()))
    }
}

/// The path a generated file's `OBJECT` embeds (`--embed`: the argument of its
/// `include_bytes!`), if it has one.
pub fn embedded_path(code: &str) -> Option<String> {
    let item = &code[code.find("pub const OBJECT:")?..];
    let args = &item[item.find("include_bytes!(")? + "include_bytes!(".len()..];
    let lit = &args[..args.find(')')?];
    syn::parse_str::<syn::LitStr>(lit.trim())
        .ok()
        .map(|l| l.value())
}

/// `to` relative to directory `from` (both absolute, canonical).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// Loads `path` and generates Rust source for it (warnings are dropped: see
/// [`Model::generate_to`]).
pub fn generate_file(path: &Path, opts: &Options) -> Result<String, Error> {
    load(path, opts)?.generate(opts)
}

/// Writes `contents` to `path` without destroying anything (see [`output`]: atomic
/// replace of regular files, symbolic links followed, devices and FIFOs written
/// through).
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), Error> {
    output::write_output(path, contents, &[])
}
