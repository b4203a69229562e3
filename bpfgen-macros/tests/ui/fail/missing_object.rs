bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/no_such.bpf.o");

fn main() {}
