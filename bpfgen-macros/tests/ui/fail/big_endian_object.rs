//! A big-endian (bpfeb) object on this little-endian host: the guard stops the build.
mod bpf {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfeb/layout.bpf.o", types = ["lay_holes"]);
}

fn main() {}
