//! The load balancer's object through the macro: keys built the way the control
//! plane builds them, the v4/v6 union, the 1-byte enum, the tail padding, the maps.
mod lb {
    bpfgen_macros::include_bpf!("../../../../examples/lb/bpf/lb.bpf.o");
}

use lb::*;

fn main() {
    let mut addr = lb_addr::default();
    addr.set_v4(u32::from_ne_bytes([10, 0, 0, 10]));
    assert_eq!(&addr._data[..4], &[10, 0, 0, 10]);
    let key = lb_vip_key {
        addr,
        port: 80u16.to_be(),
        proto: 6,
        family: lb_family::LB_FAMILY_V4,
        ..Default::default()
    };
    assert_eq!(core::mem::size_of::<lb_vip_key>(), 20);
    assert_eq!(key.family.0, 4);
    // Two bytes of tail padding are a field, so the key's bytes are fully defined.
    use zerocopy::IntoBytes;
    let flow = lb_flow_key { family: lb_family::LB_FAMILY_V6, ..Default::default() };
    assert_eq!(flow.as_bytes().len(), 40);
    assert_eq!(flow.as_bytes()[38..], [0, 0]);
    // Map descriptions are typed with the same types.
    assert_eq!(maps::lb_vips::DEF.key_size, 20);
    assert_eq!(maps::lb_maglev::DEF.map_type, maps::MapType::BPF_MAP_TYPE_ARRAY_OF_MAPS);
    let _: maps::lb_vips::Key = key;
}
