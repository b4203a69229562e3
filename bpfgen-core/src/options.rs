//! The options the CLI, `include_bpf!` and the build-script API share: same names,
//! same defaults.

use std::path::PathBuf;

/// What to generate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--type NAME`: only these types and what they hold by value (C names; generated
    /// names of anonymous types are accepted too).
    pub types: Vec<String>,
    /// `--all`: every type (required for raw BTF such as vmlinux when no `--type`).
    pub all: bool,
    /// `--base BTF`: base BTF for split BTF (kernel modules).
    pub base: Option<PathBuf>,
    /// `--zerocopy` / `--no-zerocopy`: derive zerocopy's `FromBytes`, `IntoBytes`,
    /// `KnownLayout`, `Immutable`. Default: on for objects, off for raw BTF.
    pub zerocopy: Option<bool>,
    /// `--aya`: also emit glue for the aya loader (`aya::Pod` impls, typed map
    /// accessors, `.rodata` setters).
    pub aya: bool,
    /// `--embed`: also emit `pub const OBJECT: &[u8]` holding the object's bytes
    /// (`include_bytes!` of the input path).
    pub embed: bool,
    /// Threads that emit items (`None`: the machine's parallelism, at most 8). Not an
    /// output option: the output is the same for any number. `include_bpf!` sets 1,
    /// because `proc_macro2` tokens may only be made on the macro's own thread.
    pub threads: Option<std::num::NonZeroUsize>,
    /// Test knob, not an output option: build every item as tokens and format it with
    /// prettyplease — the slow path that the text bpfgen writes directly for speed must
    /// equal byte for byte (`tests/tests/format.rs`).
    #[doc(hidden)]
    pub tokens_only: bool,
}

impl Options {
    /// The options as command-line arguments (recorded in the generated header).
    pub fn to_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        for t in &self.types {
            a.push("--type".to_string());
            a.push(t.clone());
        }
        if self.all {
            a.push("--all".into());
        }
        if let Some(b) = &self.base {
            a.push("--base".into());
            a.push(b.display().to_string());
        }
        match self.zerocopy {
            Some(true) => a.push("--zerocopy".into()),
            Some(false) => a.push("--no-zerocopy".into()),
            None => {}
        }
        if self.aya {
            a.push("--aya".into());
        }
        if self.embed {
            a.push("--embed".into());
        }
        a
    }
}
