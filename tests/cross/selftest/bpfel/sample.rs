// Hand-written stand-in for bpfgen output from a little-endian (bpfel) BPF object,
// used to self-test tests/cross/run.sh until real generated files are available.
#[cfg(not(target_endian = "little"))]
::core::compile_error!(
    "bpfgen: these types mirror `sample.bpf.o`, a little-endian BPF object, but this target is big-endian: the object's maps and globals hold little-endian bytes, so these layouts and bitfield accessors would be wrong here. Generate from a big-endian object (clang -target bpfeb) for this host."
);

/// `struct event` with its holes made explicit, so the layout is the same on every target.
#[derive(::zerocopy::FromBytes, ::zerocopy::IntoBytes, ::zerocopy::KnownLayout, ::zerocopy::Immutable)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct Event {
    pub pid: u32,
    pub __pad0: [u8; 4],
    pub ts_ns: u64,
    pub comm: [u8; 16],
    pub flags: u16,
    pub __pad1: [u8; 6],
}
const _: () = assert!(::core::mem::size_of::<Event>() == 40);
const _: () = assert!(::core::mem::align_of::<Event>() == 8);
const _: () = assert!(::core::mem::offset_of!(Event, pid) == 0);
const _: () = assert!(::core::mem::offset_of!(Event, ts_ns) == 8);
const _: () = assert!(::core::mem::offset_of!(Event, comm) == 16);
const _: () = assert!(::core::mem::offset_of!(Event, flags) == 32);

/// `struct stats { __u64 packets; __u32 cpu; }` with trailing padding.
#[derive(::zerocopy::FromBytes, ::zerocopy::IntoBytes, ::zerocopy::KnownLayout, ::zerocopy::Immutable)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct Stats {
    pub packets: u64,
    pub cpu: u32,
    pub __pad0: [u8; 4],
}
const _: () = assert!(::core::mem::size_of::<Stats>() == 16);
const _: () = assert!(::core::mem::align_of::<Stats>() == 8);
const _: () = assert!(::core::mem::offset_of!(Stats, cpu) == 8);
