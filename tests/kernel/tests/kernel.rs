//! bpfgen's map descriptions, data-section structs and aya glue against the running
//! kernel: `fixtures/bpfel/maps.bpf.o` is loaded with aya 0.14 (through the generated
//! glue and the embedded object) and run with `BPF_PROG_TEST_RUN`.
//!
//! These tests need root (or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN). Without it they
//! FAIL with a message saying so: they never skip.

use aya::maps::{Map, MapData};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use aya::EbpfLoader;
use bpfgen_kernel_tests::maps_bpf::{self as g, aya_glue, globals, maps};
use bpfgen_kernel_tests::{error_chain, load_maps};

const XDP_PASS: u32 = 2;

/// The object, loaded with the default `.rodata`.
fn load() -> aya::Ebpf {
    load_maps(&mut EbpfLoader::new())
}

/// Loads and verifies program `name`, runs it once on a 64-byte frame and returns
/// its return value.
fn run(ebpf: &mut aya::Ebpf, name: &str) -> u32 {
    let prog: &mut Xdp = ebpf
        .program_mut(name)
        .unwrap_or_else(|| panic!("no program `{name}`"))
        .try_into()
        .unwrap();
    if prog.fd().is_err() {
        prog.load()
            .unwrap_or_else(|e| panic!("loading `{name}`: {}", error_chain(&e)));
    }
    let frame = [0u8; 64];
    prog.test_run(TestRunOptions {
        data_in: Some(&frame),
        repeat: 1,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN of `{name}`: {}", error_chain(&e)))
    .return_value
}

fn map_data(map: &Map) -> &MapData {
    match map {
        Map::Array(m)
        | Map::ArrayOfMaps(m)
        | Map::BloomFilter(m)
        | Map::CgroupArray(m)
        | Map::CgroupStorage(m)
        | Map::CgrpStorage(m)
        | Map::CpuMap(m)
        | Map::DevMap(m)
        | Map::DevMapHash(m)
        | Map::HashMap(m)
        | Map::HashOfMaps(m)
        | Map::InodeStorage(m)
        | Map::LpmTrie(m)
        | Map::LruHashMap(m)
        | Map::PerCpuArray(m)
        | Map::PerCpuCgroupStorage(m)
        | Map::PerCpuHashMap(m)
        | Map::PerCpuLruHashMap(m)
        | Map::PerfEventArray(m)
        | Map::ProgramArray(m)
        | Map::Queue(m)
        | Map::ReusePortSockArray(m)
        | Map::RingBuf(m)
        | Map::SockHash(m)
        | Map::SockMap(m)
        | Map::SkStorage(m)
        | Map::Stack(m)
        | Map::StackTraceMap(m)
        | Map::Unsupported(m)
        | Map::XskMap(m) => m,
    }
}

/// The kernel's number of possible CPUs (the per-CPU value count).
fn possible_cpus() -> usize {
    aya::util::nr_cpus().expect("/sys/devices/system/cpu/possible")
}

/// Every generated map description equals the map the kernel created from the
/// object: type, key size, value size, max entries and flags.
#[test]
fn map_descriptions_equal_the_kernel_maps() {
    let ebpf = load();
    assert_eq!(maps::ALL.len(), 16, "the fixture defines 16 maps");
    let mut seen = Vec::new();
    for def in maps::ALL {
        let map = ebpf
            .map(def.name)
            .unwrap_or_else(|| panic!("aya created no map `{}`", def.name));
        let info = map_data(map).info().unwrap();
        let kernel_type = info.map_type().unwrap() as u32;
        assert_eq!(kernel_type, def.map_type.0, "{}: map type", def.name);
        assert_eq!(info.key_size(), def.key_size, "{}: key_size", def.name);
        assert_eq!(
            info.value_size(),
            def.value_size,
            "{}: value_size",
            def.name
        );
        // The one documented loader adjustment that applies here: aya lowers a perf
        // event array's max_entries to the number of possible CPUs.
        let max = if def.map_type == maps::MapType::BPF_MAP_TYPE_PERF_EVENT_ARRAY {
            def.max_entries.min(possible_cpus() as u32)
        } else {
            def.max_entries
        };
        assert_eq!(info.max_entries(), max, "{}: max_entries", def.name);
        assert_eq!(info.map_flags(), def.map_flags, "{}: map_flags", def.name);
        assert_eq!(info.name_as_str(), Some(def.name), "{}: name", def.name);
        seen.push(def.map_type.name().unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "BPF_MAP_TYPE_ARRAY",
            "BPF_MAP_TYPE_ARRAY_OF_MAPS",
            "BPF_MAP_TYPE_BLOOM_FILTER",
            "BPF_MAP_TYPE_HASH",
            "BPF_MAP_TYPE_HASH_OF_MAPS",
            "BPF_MAP_TYPE_LPM_TRIE",
            "BPF_MAP_TYPE_LRU_HASH",
            "BPF_MAP_TYPE_LRU_PERCPU_HASH",
            "BPF_MAP_TYPE_PERCPU_ARRAY",
            "BPF_MAP_TYPE_PERCPU_HASH",
            "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
            "BPF_MAP_TYPE_PROG_ARRAY",
            "BPF_MAP_TYPE_QUEUE",
            "BPF_MAP_TYPE_RINGBUF",
            "BPF_MAP_TYPE_SK_STORAGE",
            "BPF_MAP_TYPE_STACK",
        ]
    );
    // The typed handles accept every map (aya checks type, key and value sizes).
    aya_glue::lpm::get(&ebpf).unwrap();
    aya_glue::outer_array::get(&ebpf).unwrap();
    aya_glue::rt_array::get(&ebpf).unwrap();
    aya_glue::hash::get(&ebpf).unwrap();
    aya_glue::lru_hash::get(&ebpf).unwrap();
    aya_glue::percpu_hash::get(&ebpf).unwrap();
    aya_glue::percpu_array::get(&ebpf).unwrap();
    aya_glue::lru_percpu_hash::get(&ebpf).unwrap();
    aya_glue::events::get(&ebpf).unwrap();
    aya_glue::perf::get(&ebpf).unwrap();
    aya_glue::jumps::get(&ebpf).unwrap();
    aya_glue::outer_hash::get(&ebpf).unwrap();
    aya_glue::queue::get(&ebpf).unwrap();
    aya_glue::stack::get(&ebpf).unwrap();
    aya_glue::sk_store::get(&ebpf).unwrap();
    aya_glue::bloom::get(&ebpf).unwrap();
    assert!(matches!(
        aya_glue::hash::get(&load_maps(EbpfLoader::new().map_max_entries("hash", 1)))
            .map(|h| h.keys().count()),
        Ok(0)
    ));
}

/// Every data section's struct has the section's size, and the kernel map aya made
/// of the section has exactly that value size.
#[test]
fn data_section_sizes_equal_the_kernel_maps() {
    let ebpf = load();
    let with_struct: Vec<(&str, usize, usize)> = vec![
        (
            globals::bss::SECTION,
            globals::bss::SECTION_SIZE,
            size_of::<globals::bss>(),
        ),
        (
            globals::data::SECTION,
            globals::data::SECTION_SIZE,
            size_of::<globals::data>(),
        ),
        (
            globals::rodata::SECTION,
            globals::rodata::SECTION_SIZE,
            size_of::<globals::rodata>(),
        ),
        (
            globals::data_custom::SECTION,
            globals::data_custom::SECTION_SIZE,
            size_of::<globals::data_custom>(),
        ),
        (
            globals::rodata_custom::SECTION,
            globals::rodata_custom::SECTION_SIZE,
            size_of::<globals::rodata_custom>(),
        ),
    ];
    for (name, section_size, struct_size) in &with_struct {
        let def = globals::SECTIONS.iter().find(|s| s.name == *name).unwrap();
        assert_eq!(def.size, *section_size, "{name}");
        assert!(def.has_struct, "{name}");
        // The struct is the section rounded up to its alignment, never shorter.
        assert!(
            *struct_size >= *section_size && *struct_size - *section_size < 8,
            "{name}"
        );
    }
    let mut names: Vec<&str> = globals::SECTIONS.iter().map(|s| s.name).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            ".bss",
            ".data",
            ".data.custom",
            ".rodata",
            ".rodata.custom",
            ".rodata.str1.1"
        ]
    );
    for def in globals::SECTIONS {
        let map = ebpf
            .map(def.name)
            .unwrap_or_else(|| panic!("aya made no map of section `{}`", def.name));
        let info = map_data(map).info().unwrap();
        assert_eq!(info.map_type().unwrap() as u32, 2, "{}: an array", def.name);
        assert_eq!(info.key_size(), 4, "{}", def.name);
        assert_eq!(info.max_entries(), 1, "{}", def.name);
        assert_eq!(
            info.value_size() as usize,
            def.size,
            "{}: value size",
            def.name
        );
        let rdonly_prog = info.map_flags() & 0x80 != 0; // BPF_F_RDONLY_PROG
        assert_eq!(
            rdonly_prog, !def.writable,
            "{}: read-only for programs",
            def.name
        );
    }
    // The compiler's string section has no variables, so no struct: it is only listed.
    let strs = globals::SECTIONS
        .iter()
        .find(|s| s.name == ".rodata.str1.1")
        .unwrap();
    assert!(!strs.has_struct && strs.size > 0);
}

/// The data-section structs against what the program sees: `.rodata` knobs set
/// through the generated setters (a struct-typed one among them), `.data` written
/// through the generated struct, then `compute` runs and reports every value it read
/// into `.bss`, which is read back through the generated struct. Any wrong offset or
/// size shows up as a wrong number here.
#[test]
fn data_sections_round_trip_through_the_program() {
    let cfg = g::mp_cfg {
        seed: 0xdead_beef,
        port: 8443,
        mode: 7,
        timeout_ns: 0x0123_4567_89ab_cdef,
        bias: -100,
        ..Default::default()
    };
    let ro_scale: u16 = 0xabcd;
    let ro_custom: u16 = 0x1234;
    let custom_wide: u64 = 0x1111_2222_3333_4444;
    let mut loader = EbpfLoader::new();
    aya_glue::override_cfg(&mut loader, &cfg);
    aya_glue::override_ro_scale(&mut loader, &ro_scale);
    aya_glue::override_ro_custom(&mut loader, &ro_custom);
    aya_glue::override_custom_wide(&mut loader, &custom_wide);
    let mut ebpf = load_maps(&mut loader);

    // The section's initial values are where the struct says, as clang laid them out.
    let data0 = aya_glue::read_data(&ebpf).unwrap();
    assert_eq!((data0.data_small, data0.data_a, data0.data_b), (1, 2, 5));
    assert_eq!((data0.data_pair.lo, data0.data_pair.hi), (3, 4));
    let ro = aya_glue::read_rodata(&ebpf).unwrap();
    assert_eq!(ro.cfg.seed, cfg.seed);
    assert_eq!(ro.cfg.timeout_ns, cfg.timeout_ns);
    assert_eq!(ro.ro_scale, ro_scale);
    // bpf_printk's format string is a static of `compute` in .rodata.
    let fmt: Vec<u8> = ro.compute_____fmt.iter().map(|&c| c as u8).collect();
    assert_eq!(&fmt, b"compute %u\0");
    assert_eq!(aya_glue::read_data_custom(&ebpf).unwrap().custom_val, 7);

    let mut data = data0;
    data.data_small = 0x5a;
    data.data_a = 0x0102_0304_0506_0708;
    data.data_pair.lo = 0xfedc;
    data.data_pair.hi = 0x7654_3210;
    data.data_b = 0x9999;
    aya_glue::write_data(&mut ebpf, &data).unwrap();
    let mut custom = aya_glue::read_data_custom(&ebpf).unwrap();
    custom.custom_val = 0x00c0_ffee;
    aya_glue::write_data_custom(&mut ebpf, &custom).unwrap();

    for calls in 1..=2u32 {
        assert_eq!(run(&mut ebpf, "compute"), XDP_PASS);
        let bss = aya_glue::read_bss(&ebpf).unwrap();
        let r = bss.result;
        let sum = u64::from(data.data_small)
            + data.data_a
            + u64::from(data.data_pair.lo)
            + u64::from(data.data_pair.hi)
            + u64::from(data.data_b);
        assert_eq!(r.sum, sum);
        assert_eq!(r.seed, cfg.seed);
        assert_eq!(r.port, cfg.port);
        assert_eq!(r.mode, cfg.mode);
        assert_eq!(r.bias, cfg.bias);
        assert_eq!(r.timeout_ns, cfg.timeout_ns);
        assert_eq!(r.pair_lo, u32::from(data.data_pair.lo));
        assert_eq!(r.pair_hi, data.data_pair.hi);
        assert_eq!(r.custom_wide, custom_wide);
        assert_eq!(r.custom_val, custom.custom_val);
        assert_eq!(r.ro_custom, ro_custom);
        assert_eq!(r.ro_scale, ro_scale);
        // Statics: `compute`'s local `calls` and the file-scope `static_calls`, read
        // where the struct places them and checked against what the program counted.
        assert_eq!(r.calls, calls);
        assert_eq!(bss.compute_calls, calls);
        assert_eq!(r.static_seen, 2 * calls);
        assert_eq!(bss.static_calls, 2 * calls);
        assert_eq!(bss.bss_counter, u64::from(calls));
        assert_eq!(bss.bss_byte, data.data_small);
    }
    // The write went exactly where the program reads: nothing else in .data moved.
    assert_eq!(
        aya_glue::read_data(&ebpf).unwrap().to_section_bytes(),
        data.to_section_bytes()
    );
}

/// A value with holes, a nested union, bitfields and an enum goes from user space
/// through the generated type into the kernel; the program reads each field, writes
/// a transformed copy; user space reads it back and compares every field. Also a
/// hash map whose key has tail padding (built zero-padded by the program: the lookup
/// only hits if user space's key bytes, padding included, are the same), per-CPU
/// values (12 bytes, strided by 16), an LPM trie key through aya's key type, and a
/// map in map whose inner map is created from the generated inner definition.
#[test]
fn values_round_trip_field_by_field() {
    let mut ebpf = load();
    let mut src = g::mp_rt {
        tag: 0x41,
        port: 0xbeef,
        kind: g::mp_kind::MP_KIND_V4,
        delta: -0x1234_5678_9abc,
        tail: 0x0f,
        ..Default::default()
    };
    src.addr
        .set_halves([0x1111_2222_3333_4444, 0x5555_6666_7777_8888]);
    src.bits.set_a(5);
    src.bits.set_b(0x0abc);
    src.bits.set_c(-17);
    src.bits.set_d(0x1_2345_6789);
    src.bits.set_e(-300_000);
    {
        let mut rt = aya_glue::rt_array::get_mut(&mut ebpf).unwrap();
        rt.set(0, src, 0).unwrap();
    }
    let key = g::mp_key {
        id: 7,
        port: 80,
        proto: 6,
        ..Default::default()
    };
    let val = g::mp_val {
        flag: 9,
        bytes: 1_000_000_007,
        small: 0x7fff,
        ..Default::default()
    };
    aya_glue::hash::get_mut(&mut ebpf)
        .unwrap()
        .insert(key, val, 0)
        .unwrap();
    let lpm_key = g::mp_lpm_key {
        prefixlen: 24,
        addr: [10, 1, 2, 0],
    };
    aya_glue::lpm::get_mut(&mut ebpf)
        .unwrap()
        .insert(&aya_glue::lpm::key(&lpm_key), 77, 0)
        .unwrap();
    let inner = aya_glue::outer_array::inner::create().unwrap();
    let mut inner_typed = inner;
    inner_typed
        .set(
            0,
            g::mp_inner_val {
                hits: 40,
                backend: 2,
                ..Default::default()
            },
            0,
        )
        .unwrap();
    aya_glue::outer_array::get_mut(&mut ebpf)
        .unwrap()
        .set(0, &inner_typed, 0)
        .unwrap();

    let runs = 3;
    for _ in 0..runs {
        assert_eq!(run(&mut ebpf, "roundtrip"), XDP_PASS);
    }
    assert_eq!(run(&mut ebpf, "compute"), XDP_PASS);

    let dst = aya_glue::rt_array::get(&ebpf).unwrap().get(&1, 0).unwrap();
    assert_eq!(dst.tag, src.tag + 1);
    assert_eq!(
        dst.addr.halves(),
        [src.addr.halves()[0] + 1, src.addr.halves()[1] ^ 0xffff]
    );
    assert_eq!(dst.addr.v4(), (src.addr.halves()[0] + 1) as u32);
    assert_eq!(dst.bits.a(), (src.bits.a() + 1) & 7);
    assert_eq!(dst.bits.b(), src.bits.b() ^ 0x1555);
    assert_eq!(dst.bits.c(), 17);
    assert_eq!(dst.bits.d(), src.bits.d() + 3);
    assert_eq!(dst.bits.e(), src.bits.e() - 1);
    assert_eq!(dst.port, src.port.wrapping_add(1));
    assert_eq!(dst.kind, g::mp_kind::MP_KIND_V6);
    assert_eq!(dst.delta, -src.delta);
    assert_eq!(dst.tail, !src.tail);
    // The program zero-initialised its copy: every padding byte is 0, and the
    // padding fields are exactly the bytes C leaves unused.
    assert_eq!(
        (
            dst._pad_1,
            dst._pad_42,
            dst._pad_57,
            dst.bits._pad_7,
            dst.bits._pad_11
        ),
        ([0; 7], [0; 2], [0; 7], [0; 1], [0; 5])
    );
    let mut all_ones = g::mp_rt::default();
    zerocopy::IntoBytes::as_mut_bytes(&mut all_ones).fill(0xff);
    all_ones._pad_1 = [0; 7];
    all_ones._pad_42 = [0; 2];
    all_ones._pad_57 = [0; 7];
    all_ones.bits._pad_7 = [0; 1];
    all_ones.bits._pad_11 = [0; 5];
    {
        let mut rt = aya_glue::rt_array::get_mut(&mut ebpf).unwrap();
        rt.set(2, all_ones, 0).unwrap();
    }
    let back = aya_glue::rt_array::get(&ebpf).unwrap().get(&2, 0).unwrap();
    assert_eq!(
        zerocopy::IntoBytes::as_bytes(&back),
        zerocopy::IntoBytes::as_bytes(&all_ones)
    );

    let copied = aya_glue::lru_hash::get(&ebpf).unwrap().get(&7, 0).unwrap();
    assert_eq!(copied.flag, val.flag + 1);
    assert_eq!(copied.bytes, val.bytes * 2);
    assert_eq!(copied.small, val.small + 3);

    let ncpu = possible_cpus();
    assert_eq!(maps::percpu_value_size(12, ncpu), 16 * ncpu);
    assert_eq!(maps::percpu_hash::DEF.value_buffer_size(ncpu), 16 * ncpu);
    assert_eq!(maps::hash::DEF.value_buffer_size(ncpu), 24);
    let pc = aya_glue::percpu_hash::get(&ebpf)
        .unwrap()
        .get(&1, 0)
        .unwrap();
    assert_eq!(pc.len(), ncpu);
    let (pkts, drops) = pc
        .iter()
        .fold((0, 0), |(p, d), v| (p + v.pkts, d + v.drops));
    assert_eq!((pkts, drops), (runs, 2 * runs));
    assert!(pc
        .iter()
        .all(|v| v.last == 3 || (v.pkts, v.drops, v.last) == (0, 0, 0)));
    let pa = aya_glue::percpu_array::get(&ebpf)
        .unwrap()
        .get(&0, 0)
        .unwrap();
    assert_eq!(pa.iter().sum::<u64>(), 5 * u64::from(runs));

    let bss = aya_glue::read_bss(&ebpf).unwrap();
    assert_eq!(
        bss.lpm_seen, 77,
        "the LPM lookup of 10.1.2.3/32 hit 10.1.2.0/24"
    );
    assert_eq!(
        bss.inner_hits, 42,
        "the program read the inner map user space set"
    );

    // Key-less and fd-valued maps through their typed handles.
    let mut q = aya_glue::queue::get_mut(&mut ebpf).unwrap();
    q.push(key, 0).unwrap();
    assert_eq!(q.pop(0).unwrap().port, 80);
    let mut st = aya_glue::stack::get_mut(&mut ebpf).unwrap();
    st.push(9u64, 0).unwrap();
    assert_eq!(st.pop(0).unwrap(), 9);
    let mut bloom = aya_glue::bloom::get_mut(&mut ebpf).unwrap();
    bloom.insert(5u32, 0).unwrap();
    bloom.contains(5, 0).unwrap();
    let inner_hash = aya_glue::outer_hash::inner::create().unwrap();
    aya_glue::outer_hash::get_mut(&mut ebpf)
        .unwrap()
        .insert(key, &inner_hash, 0)
        .unwrap();
}
