//! Every little-endian fixture through the macro, each in its own module.
mod layout {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/layout.bpf.o");
}
mod packed {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/packed.bpf.o");
}
mod bitfields {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/bitfields.bpf.o", zerocopy = false);
}
mod naming {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/naming.bpf.o");
}
mod naming_v2 {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/naming_v2.bpf.o");
}

fn main() {
    // Packed: the misaligned u64 is held as bytes, with accessors.
    let mut p = packed::pk_member_packed::default();
    p.set_b(0x0102_0304_0506_0708);
    assert_eq!(p.b(), 0x0102_0304_0506_0708);
    assert_eq!(core::mem::align_of::<packed::pk_member_packed>(), 4);
    // Unions: accessors over exact-size storage.
    let mut o = naming::nm_outer::default();
    o.__anon0.set_v4(0x7f00_0001);
    assert_eq!(o.__anon0.v4(), 0x7f00_0001);
    // Keywords as raw identifiers.
    let t = naming::r#type { r#match: 1, self_: 2, ..Default::default() };
    assert_eq!(t.r#match + t.self_, 3);
    // Signed bitfields sign-extend.
    let mut s = bitfields::bf_signed::default();
    s.set_s3(-3);
    assert_eq!(s.s3(), -3);
    let _ = (layout::lay_holes::default(), naming_v2::nm_outer::default());
}
