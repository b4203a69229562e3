//! `bpfgen`: Rust types from the BTF of a BPF object. A thin front end: parse the
//! options, call the core, report errors as one sentence on stderr.
//!
//! - `bpfgen INPUT [-o OUT] [options]`: generate;
//! - `bpfgen check OBJECT GENERATED.rs [options]`: the CI drift gate;
//! - `bpfgen layout OBJECT [--type NAME]... [--json]`: a pahole-like layout report.

mod check;
mod layout;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

// Generation allocates many small token trees; mimalloc cut the vmlinux run by a
// quarter against glibc malloc (see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  bpfgen lb.bpf.o -o src/lb_types.rs          every type of an object
  bpfgen lb.bpf.o --type vip_key --type vip_meta
  bpfgen lb.bpf.o --aya --embed -o src/lb.rs  plus map/global glue for aya
  bpfgen /sys/kernel/btf/vmlinux --type task_struct -o task.rs
  bpfgen /sys/kernel/btf/vmlinux --all -o vmlinux.rs
  bpfgen --base /sys/kernel/btf/vmlinux /sys/kernel/btf/nf_conntrack --all
  bpfgen check lb.bpf.o src/lb_types.rs       exit 1 if the file drifted
  bpfgen layout lb.bpf.o --type vip_key       offsets, holes, padding

Exit status: 0 on success, 2 on error (nothing is written then);
`check`: 0 up to date, 1 out of date, 2 error.";

/// Generate Rust types whose memory layout is exactly the BTF layout of a BPF object.
#[derive(Parser, Debug)]
#[command(
    name = "bpfgen",
    version,
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A BPF object (`clang -g -target bpf`), or a raw BTF file such as /sys/kernel/btf/vmlinux.
    #[arg(required = true)]
    input: Option<PathBuf>,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    gen: GenArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Regenerate from OBJECT and compare with GENERATED: exit 0 when equal, 1 (with a
    /// unified diff) when it drifted, 2 on error. Options default to those recorded
    /// in GENERATED's header.
    Check {
        object: PathBuf,
        generated: PathBuf,
        #[command(flatten)]
        gen: GenArgs,
    },
    /// Print each type's layout: member offsets and sizes, holes, tail padding.
    Layout {
        object: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        gen: GenArgs,
    },
}

/// The generation options (the same table as `include_bpf!` and the build-script API).
#[derive(Args, Debug, Default, Clone, PartialEq, Eq)]
pub struct GenArgs {
    /// Only this type and what it holds by value (repeatable). C name, or the generated
    /// name of an anonymous type.
    #[arg(long = "type", value_name = "NAME")]
    types: Vec<String>,
    /// Every type (required for raw BTF when no --type is given).
    #[arg(long)]
    all: bool,
    /// Base BTF of a split BTF input (a kernel module's BTF needs vmlinux).
    #[arg(long, value_name = "BTF")]
    base: Option<PathBuf>,
    /// Derive zerocopy's FromBytes/IntoBytes/KnownLayout/Immutable (default for objects).
    #[arg(long, overrides_with = "no_zerocopy")]
    zerocopy: bool,
    /// Do not derive zerocopy traits (default for raw BTF).
    #[arg(long)]
    no_zerocopy: bool,
    /// Also emit glue for the aya loader (Pod impls, typed map accessors, .rodata setters).
    #[arg(long)]
    aya: bool,
    /// Also emit `pub const OBJECT: &[u8]` with the object's bytes (include_bytes!).
    #[arg(long)]
    embed: bool,
}

impl GenArgs {
    pub fn options(&self) -> bpfgen_core::Options {
        bpfgen_core::Options {
            types: self.types.clone(),
            all: self.all,
            base: self.base.clone(),
            zerocopy: match (self.zerocopy, self.no_zerocopy) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            aya: self.aya,
            embed: self.embed,
            ..Default::default()
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Check {
            object,
            generated,
            gen,
        }) => return check::run(&object, &generated, &gen),
        Some(Command::Layout { object, json, gen }) => layout::run(&object, json, &gen.options()),
        None => generate(
            cli.input.unwrap_or_default(),
            cli.output,
            &cli.gen.options(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bpfgen: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn generate(
    input: PathBuf,
    output: Option<PathBuf>,
    opts: &bpfgen_core::Options,
) -> Result<(), bpfgen_core::Error> {
    let model = bpfgen_core::load(&input, opts)?;
    // The output path matters for `--embed`: include_bytes! resolves relative to it.
    let generated = model.generate_to(opts, output.as_deref())?;
    for w in &generated.warnings {
        eprintln!("bpfgen: warning: {w}");
    }
    match &output {
        Some(path) => {
            let mut inputs = vec![input.as_path()];
            inputs.extend(opts.base.as_deref());
            bpfgen_core::output::write_output(path, &generated.code, &inputs)
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`bpfgen x.o | head`) is not an error worth a message.
            let _ = out.write_all(generated.code.as_bytes());
            Ok(())
        }
    }
}
