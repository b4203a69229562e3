bpfgen_macros::include_bpf!("../../../../bpfgen-macros/tests/ui/fail/data/corrupt.bpf.o");

fn main() {}
