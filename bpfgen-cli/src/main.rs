//! `bpfgen`: Rust types from the BTF of a BPF object. A thin front end: parse the
//! options, call the core, report errors as one sentence on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

// Generation allocates many small token trees; mimalloc cut the vmlinux run by a
// quarter against glibc malloc (see bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXAMPLES: &str = "\
Examples:
  bpfgen lb.bpf.o -o src/lb_types.rs          every type of an object
  bpfgen lb.bpf.o --type vip_key --type vip_meta
  bpfgen /sys/kernel/btf/vmlinux --type task_struct -o task.rs
  bpfgen /sys/kernel/btf/vmlinux --all -o vmlinux.rs
  bpfgen --base /sys/kernel/btf/vmlinux /sys/kernel/btf/nf_conntrack --all

Exit status: 0 on success, 2 on error (nothing is written then).";

/// Generate Rust types whose memory layout is exactly the BTF layout of a BPF object.
#[derive(Parser, Debug)]
#[command(name = "bpfgen", version, after_help = EXAMPLES)]
struct Cli {
    /// A BPF object (`clang -g -target bpf`), or a raw BTF file such as /sys/kernel/btf/vmlinux.
    input: PathBuf,
    /// Write to FILE (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let opts = bpfgen_core::Options {
        types: cli.types,
        all: cli.all,
        base: cli.base,
        zerocopy: match (cli.zerocopy, cli.no_zerocopy) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        ..Default::default()
    };
    let result = bpfgen_core::generate_file(&cli.input, &opts).and_then(|code| match &cli.output {
        Some(path) => bpfgen_core::write_atomic(path, &code),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            // A closed pipe (`bpfgen x.o | head`) is not an error worth a message.
            let _ = out.write_all(code.as_bytes());
            Ok(())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bpfgen: error: {e}");
            ExitCode::from(2)
        }
    }
}
