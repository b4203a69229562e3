//! Every type of a vmlinux.h tracing tool (244 items: the emitter runs on worker
//! threads, which must never touch the macro's tokens), with the aya glue and the
//! embedded object, under `#![deny(warnings)]`.
#![deny(warnings)]

mod bpf {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/tracing.bpf.o", all, aya, embed);
}

fn main() {
    assert_eq!(core::mem::size_of::<bpf::event>(), 168);
    assert!(core::mem::size_of::<bpf::task_struct>() > 1000);
    assert!(!bpf::OBJECT.is_empty());
    let _load: fn() -> Result<aya::Ebpf, aya::EbpfError> = bpf::aya_glue::load;
}
