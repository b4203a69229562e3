bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/layout.bpf.o", zerocpy);

fn main() {}
