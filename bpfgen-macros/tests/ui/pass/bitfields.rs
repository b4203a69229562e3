//! Bitfield accessors through the macro, with options.
mod bpf {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/bitfields.bpf.o", types = ["bf_mixed"], zerocopy);
}

fn main() {
    let mut m = bpf::bf_mixed::default();
    m.tag = 9;
    m.set_f1(0xf);
    m.set_f2(3);
    m.after = 0xbeef;
    assert_eq!((m.tag, m.f1(), m.f2(), m.after), (9, 0xf, 3, 0xbeef));
    // f1 is the low nibble of byte 1, f2 the high one (little-endian BPF).
    assert_eq!(m._bitfield_1, [0x3f]);
}
