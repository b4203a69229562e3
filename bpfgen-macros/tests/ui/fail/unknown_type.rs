bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/layout.bpf.o", types = ["lay_holes", "lay_holez"]);

fn main() {}
