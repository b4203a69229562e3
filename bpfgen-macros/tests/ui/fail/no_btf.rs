// data/nobtf.bpf.o is fixtures/bpfel/layout.bpf.o without its .BTF sections
// (llvm-objcopy-19 --remove-section .BTF --remove-section .BTF.ext).
bpfgen_macros::include_bpf!("../../../../bpfgen-macros/tests/ui/fail/data/nobtf.bpf.o");

fn main() {}
