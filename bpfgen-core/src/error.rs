//! The one error type of bpfgen. Every variant says where the problem is: the file,
//! and the byte offset, section or BTF type id inside it.

use std::fmt;

/// An error, with the input it concerns.
#[derive(Debug)]
pub struct Error {
    /// The input file (as given by the user), or a short description of in-memory input.
    pub file: String,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.kind)
    }
}

impl std::error::Error for Error {}

/// Why a type of the C source can be missing from an object's BTF, and the fix.
fn absent_from_object(name: &str, object: bool) -> String {
    if !object {
        return String::new();
    }
    format!(
        ". clang writes BTF only for the types that globals, maps, function signatures or CO-RE \
         relocations reach, so a ring-buffer or perf-buffer record used only through a pointer is \
         absent: anchor it with a global in the C source (`struct {name} _{name} = {{}};`) and \
         rebuild the object"
    )
}

/// What is wrong, without the file name (see [`Error`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot write output `{path}`: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("not an ELF object or raw BTF file (first bytes {first_bytes})")]
    NotObject { first_bytes: String },
    #[error("malformed ELF: {0}")]
    Elf(String),
    #[error("not a BPF object: ELF machine is {machine} (bpfgen reads `clang -target bpf` objects and raw BTF)")]
    NotBpf { machine: String },
    #[error("32-bit ELF: BPF objects are 64-bit (ELFCLASS64)")]
    Elf32,
    #[error("no `.BTF` section (compile with `clang -g -target bpf`)")]
    NoBtf,
    #[error("section `{section}` is compressed or unreadable: {msg}")]
    Section { section: String, msg: String },
    #[error("BTF byte order ({btf}) differs from the ELF byte order ({elf})")]
    EndianMismatch {
        btf: &'static str,
        elf: &'static str,
    },
    #[error("BTF: truncated at byte {offset}: {what}")]
    Truncated { offset: u64, what: String },
    #[error("BTF: bad magic {magic:#06x} at byte 0 (expected 0xeb9f)")]
    BadMagic { magic: u16 },
    #[error("BTF header: {0}")]
    Header(String),
    #[error("BTF string table, offset {offset}: {what}")]
    Strings { offset: u32, what: String },
    #[error("unknown BTF kind {kind} at type id {id} (byte {offset} of the type section)")]
    UnknownKind { kind: u32, id: u32, offset: u64 },
    #[error("BTF type id {id}: {what}")]
    Type { id: u32, what: String },
    #[error("BTF: {0}")]
    Btf(String),
    #[error("the split BTF needs its base: pass `--base BASE_BTF` (e.g. /sys/kernel/btf/vmlinux)")]
    NeedsBase,
    #[error("type `{name}` not found{}{}", suggestions(.close), absent_from_object(.name, *.object))]
    TypeNotFound {
        name: String,
        close: Vec<String>,
        /// The input is an object (not raw BTF): the message explains which types
        /// clang leaves out of its BTF.
        object: bool,
    },
    #[error("raw BTF holds the whole kernel: choose types with `--type NAME` (repeatable) or pass `--all`")]
    SelectionRequired,
    #[error(
        "input is {size} bytes, over the limit of {limit} bytes (raise it with `--max-input-size`)"
    )]
    TooLarge { size: u64, limit: u64 },
    #[error("{0}")]
    Build(String),
    /// A map definition of the `.maps` section that bpfgen (and libbpf) cannot use.
    #[error("map `{map}` (BTF type id {id}): {what}")]
    Map { map: String, id: u32, what: String },
    /// A variable of a data section whose place cannot be established.
    #[error("section `{section}`, variable `{var}`: {what}")]
    Global {
        section: String,
        var: String,
        what: String,
    },
    /// `--embed` cannot spell the object's path in `include_bytes!`.
    #[error("cannot embed `{path}`: {what}")]
    Embed { path: String, what: String },
}

fn suggestions(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
        format!("; close matches: {}", names.join(", "))
    }
}

impl ErrorKind {
    /// Attaches the file name.
    pub fn at(self, file: impl Into<String>) -> Error {
        Error {
            file: file.into(),
            kind: self,
        }
    }

    pub(crate) fn ty(id: u32, what: impl Into<String>) -> Self {
        ErrorKind::Type {
            id,
            what: what.into(),
        }
    }
}

/// Result with [`ErrorKind`], used inside the pipeline before the file name is attached.
pub type KResult<T> = std::result::Result<T, ErrorKind>;

/// Something bpfgen generates less for than the input seems to ask, with the input it
/// concerns. Generation goes on; front ends print these (the CLI as
/// `bpfgen: warning: FILE: …` on stderr).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The input file, as in [`Error::file`].
    pub file: String,
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.kind)
    }
}

/// What a [`Warning`] is about, without the file name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WarningKind {
    /// A map of the legacy `SEC("maps")` section (`struct bpf_map_def`).
    #[error(
        "map `{map}` is a legacy `SEC(\"maps\")` definition (`struct bpf_map_def`, no BTF key or value type): \
         no description is generated for it (libbpf 1.0 no longer loads such maps); \
         declare it in `SEC(\".maps\")` with `__uint(type, …)`, `__type(key, …)` and `__type(value, …)`"
    )]
    LegacyMap { map: String },
    /// A map whose key or value holds data but is declared by its size only.
    #[error(
        "map `{map}`: its {what} is declared by size only (`__uint({what}_size, {size})`), so bpfgen has no type for it: \
         no `{alias}` type and no typed aya handle are generated; declare it with `__type({what}, T)`"
    )]
    UntypedMap {
        map: String,
        /// `key` or `value`.
        what: &'static str,
        size: u32,
        /// `Key` or `Value`.
        alias: &'static str,
    },
}

impl WarningKind {
    /// Attaches the file name.
    pub fn at(self, file: impl Into<String>) -> Warning {
        Warning {
            file: file.into(),
            kind: self,
        }
    }
}
