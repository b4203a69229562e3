//! Generates the load balancer's shared types from the BTF of `bpf/lb.bpf.o` with
//! bpfgen's build-script API, into `$OUT_DIR/lb.rs` (included by `src/lib.rs` as
//! `lb::bpf`). With `aya` and `embed` the file also holds the map descriptions
//! (`maps`), the data-section structs (`globals`: `.rodata` is `CONFIG`), the aya 0.14
//! glue (typed map handles, `override_CONFIG`, `lb_maglev::inner::create()`) and the
//! object's bytes (`OBJECT`), so `lbctl` needs no file at run time. Cargo reruns this
//! when the object changes (the builder prints `rerun-if-changed`).

fn main() {
    bpfgen_core::builder::Builder::new("bpf/lb.bpf.o")
        .aya(true)
        .embed(true)
        .generate()
        .unwrap_or_else(|e| panic!("bpfgen could not generate the types of bpf/lb.bpf.o: {e}"));
}
