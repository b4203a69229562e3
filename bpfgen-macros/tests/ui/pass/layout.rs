//! Every type of the layout fixture, used as a program would.
mod bpf {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/layout.bpf.o");
}

use bpf::*;

fn main() {
    // Construct with the padding made explicit, read fields back.
    let h = lay_holes { a: 1, b: 2, c: 3, ..Default::default() };
    assert_eq!((h.a, h.b, h.c), (1, 2, 3));
    assert_eq!(core::mem::size_of::<lay_holes>(), 24);
    // u64 after u32: the hole is a field, so the layout is the same on every host.
    let p = lay_u32_u64 { a: 7, b: u64::MAX, ..Default::default() };
    assert_eq!(p.b, u64::MAX);
    assert_eq!(core::mem::offset_of!(lay_u32_u64, b), 8);
    // zerocopy: the bytes are the kernel's bytes.
    use zerocopy::IntoBytes;
    assert_eq!(&p.as_bytes()[..4], &7u32.to_le_bytes());
    println!("{h:?} {p:?}");
}
