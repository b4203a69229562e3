//! A vmlinux.h tracing tool's object (hundreds of BTF types, CO-RE reads, a ring
//! buffer) as a user includes it: `#![deny(warnings)]`, one type used, a glob import
//! that leaves `bool` meaning `bool`.
#![deny(warnings)]

mod bpf {
    bpfgen_macros::include_bpf!("../../../../fixtures/bpfel/tracing.bpf.o");
}

use bpf::*;

fn main() {
    let b: bool = true;
    let mut e = event::default();
    e.exit_event = u8::from(b);
    assert_eq!(e.exit_event, 1);
    assert_eq!(core::mem::size_of::<event>(), 168);
    // C's `struct maps` did not collide with the generated `maps` module.
    assert_eq!(maps::counts::DEF.value_size as usize, core::mem::size_of::<maps_struct>());
    assert_eq!(maps::ALL.len(), 7);
}
