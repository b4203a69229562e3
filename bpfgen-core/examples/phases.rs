//! Prints how long each pipeline stage takes on one input (a profiling aid):
//! `cargo run --release -p bpfgen-core --example phases -- /sys/kernel/btf/vmlinux`
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: phases INPUT")?;
    let bytes = std::fs::read(&path)?;
    let t = Instant::now();
    let input = bpfgen_core::object::read(&bytes)?;
    let loaded = bpfgen_core::btf::load(&input.btf, None)?;
    println!("btf (framing + btf-rs): {:?}", t.elapsed());
    let t = Instant::now();
    let ir = bpfgen_core::ir::build(&loaded)?;
    println!("ir: {:?} ({} types)", t.elapsed(), ir.types.len());
    let t = Instant::now();
    let model = bpfgen_core::load_bytes(&bytes, &path, None)?;
    println!("load total: {:?}", t.elapsed());
    let opts = bpfgen_core::Options {
        all: true,
        ..Default::default()
    };
    let t = Instant::now();
    let code = model.generate(&opts)?;
    println!("generate: {:?} ({} bytes)", t.elapsed(), code.len());
    Ok(())
}
