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
        // Only a compiler's own report keeps its lines.
        let keep_lines = matches!(self.kind, ErrorKind::Build(_));
        let text = format!("{}: {}", self.file, self.kind);
        f.write_str(&escape_controls(&text, keep_lines))
    }
}

/// A character no C name holds, that no generated doc comment may hold and no message
/// may print raw: control characters (a carriage return is an error in a Rust doc
/// comment, a newline would forge a message line, ESC starts terminal sequences) and
/// the text-direction overrides rustc denies in comments.
pub fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every control and text-direction character written as `\u{…}`, so a name
/// from a file can neither forge a message line nor reach the terminal as an escape
/// sequence (`keep_lines`: newlines and tabs stay, for multi-line reports of a tool).
pub fn escape_controls(text: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| unprintable(c) && !(keep_lines && matches!(c, '\n' | '\t'));
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if bad(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

impl std::error::Error for Error {}

/// A name from the user or a file as a message shows it: whole up to 128 characters,
/// else its start and its length.
fn shorten(name: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 128;
    match name.char_indices().nth(MAX) {
        None => std::borrow::Cow::Borrowed(name),
        Some((end, _)) => std::borrow::Cow::Owned(format!(
            "{}… ({} characters)",
            &name[..end],
            name.chars().count()
        )),
    }
}

/// Why a type of the C source can be missing from an object's BTF, and the fix.
fn absent_from_object(name: std::borrow::Cow<'_, str>, object: bool) -> String {
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
    /// An output path bpfgen refuses to write (nothing was written).
    #[error("not writing output `{path}`: {what}")]
    Output { path: String, what: String },
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
    /// (`magic` is not printed: the file may be anything, e.g. a `--base` taken from a
    /// checked file's header, and its bytes are not for messages.)
    #[error("BTF: no BTF magic (0xeb9f, either byte order) at byte 0: not a BTF file")]
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
    /// A bug of bpfgen's, not of the input.
    #[error("internal error (a bpfgen bug: please report it with the input): {0}")]
    Internal(String),
    #[error("the split BTF needs its base: pass `--base BASE_BTF` (e.g. /sys/kernel/btf/vmlinux)")]
    NeedsBase,
    #[error("type `{}` not found{}{}", shorten(.name), suggestions(.close), absent_from_object(shorten(.name), *.object))]
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
        "input is {size} bytes or more, over the limit of {limit} bytes (no BPF object or kernel BTF comes near it)"
    )]
    TooLarge { size: u64, limit: u64 },
    #[error("cannot read: it is {what}, not a file (bpfgen reads BPF objects and BTF files)")]
    NotAFile { what: &'static str },
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
    /// A data section bpfgen cannot describe as a whole.
    #[error("data section `{section}` (section {index}): {what}")]
    DataSection {
        section: String,
        index: usize,
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
        let text = format!("{}: {}", self.file, self.kind);
        f.write_str(&escape_controls(&text, false))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_escape_controls() {
        assert_eq!(
            escape_controls("map `a\nbpfgen: error: x` \u{1b}[31m\u{202e}", false),
            "map `a\\u{a}bpfgen: error: x` \\u{1b}[31m\\u{202e}"
        );
        assert_eq!(
            escape_controls("clang:\n\terror\r", true),
            "clang:\n\terror\\u{d}"
        );
        let e = ErrorKind::Elf("section `\u{1b}]0;pwned\u{7}`".into()).at("x.o");
        assert_eq!(
            e.to_string(),
            "x.o: malformed ELF: section `\\u{1b}]0;pwned\\u{7}`"
        );
    }
}
