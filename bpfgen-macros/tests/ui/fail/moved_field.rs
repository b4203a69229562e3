//! A generated file edited by hand so that a field moved: the layout assertions name
//! the type and the field.
mod bpf {
    include!("data/moved.rs");
}

fn main() {
    let _ = bpf::lay_holes::default();
}
