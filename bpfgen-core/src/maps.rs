//! The maps of an object: the BTF-defined maps of its `.maps` section, decoded the way
//! libbpf's `parse_btf_map_def` decodes them, and the legacy `SEC("maps")` ones (which
//! are only reported).
//!
//! A BTF map is a variable of `.maps` whose type is a struct such as
//! `struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, K); … }`. The integer
//! members (`type`, `max_entries`, `map_flags`, `numa_node`, `map_extra`, `pinning`,
//! `key_size`, `value_size`) are pointers to arrays whose length is the value
//! (`int (*type)[1]`); `key` and `value` are pointers to the types; `values` (map in
//! map, or a program array's programs) is a zero-length array of pointers to the inner
//! map's definition, which is decoded the same way.
//!
//! The numbers are what a loader passes to the kernel, with the loaders' own
//! completions: a map in map's value is the inner map's fd (4 bytes). The kernel or
//! loader may still adjust at load time: a ring buffer's `max_entries` is rounded up to
//! a multiple of the page size, a perf event array with `max_entries` 0 gets the number
//! of possible CPUs (libbpf and aya both do both; aya also lowers a perf event array's
//! `max_entries` above that number to it).

use crate::error::{ErrorKind, KResult, WarningKind};
use crate::ir::{Ir, Kind, TypeId};
use crate::object::ElfInfo;

/// `BPF_MAP_TYPE_*` values (`enum bpf_map_type`, `<linux/bpf.h>`).
pub mod map_type {
    pub const HASH: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const PROG_ARRAY: u32 = 3;
    pub const PERF_EVENT_ARRAY: u32 = 4;
    pub const PERCPU_HASH: u32 = 5;
    pub const PERCPU_ARRAY: u32 = 6;
    pub const STACK_TRACE: u32 = 7;
    pub const CGROUP_ARRAY: u32 = 8;
    pub const LRU_HASH: u32 = 9;
    pub const LRU_PERCPU_HASH: u32 = 10;
    pub const LPM_TRIE: u32 = 11;
    pub const ARRAY_OF_MAPS: u32 = 12;
    pub const HASH_OF_MAPS: u32 = 13;
    pub const DEVMAP: u32 = 14;
    pub const SOCKMAP: u32 = 15;
    pub const CPUMAP: u32 = 16;
    pub const XSKMAP: u32 = 17;
    pub const SOCKHASH: u32 = 18;
    pub const CGROUP_STORAGE: u32 = 19;
    pub const REUSEPORT_SOCKARRAY: u32 = 20;
    pub const PERCPU_CGROUP_STORAGE: u32 = 21;
    pub const QUEUE: u32 = 22;
    pub const STACK: u32 = 23;
    pub const SK_STORAGE: u32 = 24;
    pub const DEVMAP_HASH: u32 = 25;
    pub const STRUCT_OPS: u32 = 26;
    pub const RINGBUF: u32 = 27;
    pub const INODE_STORAGE: u32 = 28;
    pub const TASK_STORAGE: u32 = 29;
    pub const BLOOM_FILTER: u32 = 30;
    pub const USER_RINGBUF: u32 = 31;
    pub const CGRP_STORAGE: u32 = 32;
    pub const ARENA: u32 = 33;

    /// Every kernel name, by value (index = value).
    pub const NAMES: &[&str] = &[
        "BPF_MAP_TYPE_UNSPEC",
        "BPF_MAP_TYPE_HASH",
        "BPF_MAP_TYPE_ARRAY",
        "BPF_MAP_TYPE_PROG_ARRAY",
        "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
        "BPF_MAP_TYPE_PERCPU_HASH",
        "BPF_MAP_TYPE_PERCPU_ARRAY",
        "BPF_MAP_TYPE_STACK_TRACE",
        "BPF_MAP_TYPE_CGROUP_ARRAY",
        "BPF_MAP_TYPE_LRU_HASH",
        "BPF_MAP_TYPE_LRU_PERCPU_HASH",
        "BPF_MAP_TYPE_LPM_TRIE",
        "BPF_MAP_TYPE_ARRAY_OF_MAPS",
        "BPF_MAP_TYPE_HASH_OF_MAPS",
        "BPF_MAP_TYPE_DEVMAP",
        "BPF_MAP_TYPE_SOCKMAP",
        "BPF_MAP_TYPE_CPUMAP",
        "BPF_MAP_TYPE_XSKMAP",
        "BPF_MAP_TYPE_SOCKHASH",
        "BPF_MAP_TYPE_CGROUP_STORAGE",
        "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY",
        "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE",
        "BPF_MAP_TYPE_QUEUE",
        "BPF_MAP_TYPE_STACK",
        "BPF_MAP_TYPE_SK_STORAGE",
        "BPF_MAP_TYPE_DEVMAP_HASH",
        "BPF_MAP_TYPE_STRUCT_OPS",
        "BPF_MAP_TYPE_RINGBUF",
        "BPF_MAP_TYPE_INODE_STORAGE",
        "BPF_MAP_TYPE_TASK_STORAGE",
        "BPF_MAP_TYPE_BLOOM_FILTER",
        "BPF_MAP_TYPE_USER_RINGBUF",
        "BPF_MAP_TYPE_CGRP_STORAGE",
        "BPF_MAP_TYPE_ARENA",
    ];

    /// The kernel's name of map type `t`.
    pub fn name(t: u32) -> Option<&'static str> {
        NAMES.get(t as usize).copied()
    }

    /// Per-CPU maps: a lookup from user space returns one value per possible CPU.
    pub fn is_percpu(t: u32) -> bool {
        matches!(
            t,
            PERCPU_HASH | PERCPU_ARRAY | LRU_PERCPU_HASH | PERCPU_CGROUP_STORAGE
        )
    }

    /// Whether the key is data the program defines (a type is expected), rather
    /// than absent, an index or a file descriptor.
    pub(crate) fn typed_key(t: u32) -> bool {
        matches!(
            t,
            HASH | PERCPU_HASH | LRU_HASH | LRU_PERCPU_HASH | LPM_TRIE | HASH_OF_MAPS
        )
    }

    /// Whether the value is data the program defines (a type is expected), rather
    /// than absent, a file descriptor or kernel-defined.
    pub(crate) fn typed_value(t: u32) -> bool {
        matches!(
            t,
            HASH | ARRAY
                | PERCPU_HASH
                | PERCPU_ARRAY
                | LRU_HASH
                | LRU_PERCPU_HASH
                | LPM_TRIE
                | CGROUP_STORAGE
                | PERCPU_CGROUP_STORAGE
                | QUEUE
                | STACK
                | SK_STORAGE
                | INODE_STORAGE
                | TASK_STORAGE
                | BLOOM_FILTER
                | CGRP_STORAGE
        )
    }
}

/// One decoded map definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map's name: its variable's name (inner definitions: `OUTER.inner`, as
    /// libbpf names the inner map template).
    pub name: String,
    /// The definition struct's BTF type id.
    pub def_id: TypeId,
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub numa_node: u32,
    pub map_extra: u64,
    pub pinning: u32,
    /// `__type(key, K)`: K (qualifiers kept: the naming and emitter strip them).
    pub key: Option<TypeId>,
    pub value: Option<TypeId>,
    /// The inner map definition of a map in map (`__array(values, struct { … })`).
    pub inner: Option<Box<MapSpec>>,
    /// `__array(values, int (void *))` of a program array: the programs are fds.
    pub values_are_programs: bool,
}

/// What [`decode`] found.
#[derive(Clone, Debug, Default)]
pub struct Maps {
    /// BTF-defined maps, in the order of the `.maps` section (symbol offsets).
    pub maps: Vec<MapSpec>,
    pub warnings: Vec<WarningKind>,
}

/// Decodes the maps of an object.
pub fn decode(ir: &Ir, elf: &ElfInfo) -> KResult<Maps> {
    let mut out = Maps::default();
    // Legacy `SEC("maps")` (also `maps/NAME`, as old iproute2/bcc-style objects had).
    for sec in &elf.sections {
        if sec.name == "maps" || sec.name.starts_with("maps/") {
            let mut names: Vec<(u64, &str)> = elf
                .symbols
                .iter()
                .filter(|s| s.section == Some(sec.index) && s.kind != 3 && !s.name.is_empty())
                .map(|s| (s.value, s.name.as_str()))
                .collect();
            names.sort();
            if names.is_empty() {
                out.warnings.push(WarningKind::LegacyMap {
                    map: sec.name.clone(),
                });
            }
            for (_, n) in names {
                out.warnings
                    .push(WarningKind::LegacyMap { map: n.to_string() });
            }
        }
    }
    let Some(datasec) = find_datasec(ir, ".maps") else {
        return Ok(out);
    };
    let maps_section = elf.section_by_name(".maps").map(|s| s.index);
    let Kind::Datasec { vars } = &ir.get(datasec).kind else {
        return Ok(out);
    };
    let mut found: Vec<(u64, MapSpec)> = Vec::new();
    for v in vars {
        let var = v.var;
        let (name, target) = match (&ir.get(var).name, &ir.get(var).kind) {
            (Some(n), Kind::Var { target }) => (n.clone(), *target),
            _ => {
                return Err(ErrorKind::ty(
                    var,
                    "an entry of the `.maps` DATASEC is not a named VAR",
                ))
            }
        };
        // Order by place in the section (clang lays out the maps it meets first first).
        let offset = elf
            .symbols
            .iter()
            .find(|s| s.name == name && s.section.is_some() && s.section == maps_section)
            .map_or(u64::from(v.offset), |s| s.value);
        let def = ir.strip(target)?;
        let spec = decode_def(ir, &name, def, false)?;
        found.push((offset, spec));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    for (_, spec) in &found {
        untyped_warnings(spec, &mut out.warnings);
    }
    out.maps = found.into_iter().map(|(_, s)| s).collect();
    Ok(out)
}

fn untyped_warnings(spec: &MapSpec, w: &mut Vec<WarningKind>) {
    if spec.key.is_none() && spec.key_size > 0 && map_type::typed_key(spec.map_type) {
        w.push(WarningKind::UntypedMap {
            map: spec.name.clone(),
            what: "key",
            size: spec.key_size,
            alias: "Key",
        });
    }
    // A per-CPU array declared by value size only is a scratch buffer the program uses
    // for itself (bcc's `heap`): normal, and nothing user space reads.
    let scratch = spec.map_type == map_type::PERCPU_ARRAY;
    if spec.value.is_none()
        && spec.value_size > 0
        && !scratch
        && map_type::typed_value(spec.map_type)
    {
        w.push(WarningKind::UntypedMap {
            map: spec.name.clone(),
            what: "value",
            size: spec.value_size,
            alias: "Value",
        });
    }
    if let Some(inner) = &spec.inner {
        untyped_warnings(inner, w);
    }
}

/// The DATASEC named `name`, if any.
pub(crate) fn find_datasec(ir: &Ir, name: &str) -> Option<TypeId> {
    (ir.first_id..ir.types.len() as TypeId)
        .find(|&id| matches!(ir.get(id).kind, Kind::Datasec { .. }) && ir.name(id) == Some(name))
}

fn decode_def(ir: &Ir, name: &str, def: TypeId, inner: bool) -> KResult<MapSpec> {
    let err = |what: String| ErrorKind::Map {
        map: name.to_string(),
        id: def,
        what,
    };
    let Kind::Struct(c) = &ir.get(def).kind else {
        return Err(err(
            "the definition is not a struct (declare BTF maps as `struct { __uint(type, …); … } NAME SEC(\".maps\");`)".into(),
        ));
    };
    let mut spec = MapSpec {
        name: name.to_string(),
        def_id: def,
        map_type: 0,
        key_size: 0,
        value_size: 0,
        max_entries: 0,
        map_flags: 0,
        numa_node: 0,
        map_extra: 0,
        pinning: 0,
        key: None,
        value: None,
        inner: None,
        values_are_programs: false,
    };
    let mut key_size: Option<u32> = None;
    let mut value_size: Option<u32> = None;
    for m in &c.members {
        let Some(field) = m.name.as_deref() else {
            return Err(err("the definition has an unnamed member".into()));
        };
        match field {
            "type" | "max_entries" | "map_flags" | "numa_node" | "map_extra" | "pinning"
            | "key_size" | "value_size" => {
                let n = int_field(ir, m.ty).ok_or_else(|| {
                    err(format!(
                        "member `{field}` is not a pointer to an array (declare it with `__uint({field}, N)`)"
                    ))
                })?;
                match field {
                    "type" => spec.map_type = n,
                    "max_entries" => spec.max_entries = n,
                    "map_flags" => spec.map_flags = n,
                    "numa_node" => spec.numa_node = n,
                    "map_extra" => spec.map_extra = u64::from(n),
                    "pinning" => {
                        if inner {
                            return Err(err("an inner map definition cannot be pinned".into()));
                        }
                        if n > 1 {
                            return Err(err(format!(
                                "`pinning` is {n}; known values are LIBBPF_PIN_NONE (0) and LIBBPF_PIN_BY_NAME (1)"
                            )));
                        }
                        spec.pinning = n;
                    }
                    "key_size" => key_size = Some(n),
                    _ => value_size = Some(n),
                }
            }
            "key" | "value" => {
                let Kind::Ptr { target } = ir.get(ir.strip_quals(m.ty)?).kind else {
                    return Err(err(format!(
                        "member `{field}` is not a pointer (declare it with `__type({field}, T)`)"
                    )));
                };
                let size = type_size(ir, target).map_err(|why| {
                    err(format!(
                        "the {field} type {} {why}, so its size is unknown (libbpf rejects this map too){}",
                        describe(ir, target),
                        if why.starts_with("is only declared") {
                            format!(
                                "; if it is only used by an inner map, anchor it with a typed global (`{} anchor;`) so clang emits its definition",
                                c_name(ir, target)
                            )
                        } else {
                            String::new()
                        }
                    ))
                })?;
                if field == "key" {
                    spec.key = Some(target);
                    spec.key_size = size;
                } else {
                    spec.value = Some(target);
                    spec.value_size = size;
                }
            }
            "values" => {
                if inner {
                    return Err(err(
                        "an inner map definition cannot have `values` (maps in maps nest one level only)"
                            .into(),
                    ));
                }
                let elem = match &ir.get(ir.strip(m.ty)?).kind {
                    Kind::Array { elem, len: 0 } => *elem,
                    _ => {
                        return Err(err(
                            "member `values` is not a zero-length array (declare it with `__array(values, …)`)".into(),
                        ))
                    }
                };
                let Kind::Ptr { target } = ir.get(ir.strip(elem)?).kind else {
                    return Err(err(
                        "member `values` is not an array of pointers (declare it with `__array(values, …)`)".into(),
                    ));
                };
                let target = ir.strip(target)?;
                match &ir.get(target).kind {
                    Kind::Struct(_) => {
                        spec.inner = Some(Box::new(decode_def(
                            ir,
                            &format!("{name}.inner"),
                            target,
                            true,
                        )?));
                    }
                    Kind::FuncProto => spec.values_are_programs = true,
                    _ => {
                        return Err(err(
                            "`values` points neither to an inner map definition (struct) nor to a program (function prototype)".into(),
                        ))
                    }
                }
            }
            other => {
                return Err(err(format!(
                    "unknown member `{other}` (libbpf rejects it too); known members: type, key, value, key_size, value_size, max_entries, map_flags, numa_node, map_extra, pinning, values"
                )))
            }
        }
    }
    for (what, declared, typed, size) in [
        ("key", key_size, spec.key, &mut spec.key_size),
        ("value", value_size, spec.value, &mut spec.value_size),
    ] {
        match (declared, typed) {
            (Some(d), Some(_)) if d != *size => {
                return Err(ErrorKind::Map {
                    map: name.to_string(),
                    id: def,
                    what: format!(
                        "`{what}_size` is {d} but the {what} type is {} bytes",
                        *size
                    ),
                })
            }
            (Some(d), None) => *size = d,
            _ => {}
        }
    }
    if spec.inner.is_some() || spec.values_are_programs {
        // The value of a map in map is the inner map's fd, of a program array a
        // program's fd: libbpf and aya both pass 4.
        // libbpf accepts a declared value of 4 bytes next to `values` (katran's outer
        // maps say `__type(value, __u32)`): it describes the same fd.
        let typed = spec.value.map(|_| spec.value_size);
        if let Some(size) = value_size.or(typed).filter(|&v| v != 4) {
            return Err(ErrorKind::Map {
                map: name.to_string(),
                id: def,
                what: format!(
                    "its value is declared as {size} bytes, but a map with `values` holds file descriptors (4 bytes)"
                ),
            });
        }
        spec.value = None;
        spec.value_size = 4;
    }
    Ok(spec)
}

/// `int (*name)[N]` → N.
fn int_field(ir: &Ir, ty: TypeId) -> Option<u32> {
    let Kind::Ptr { target } = ir.get(ir.strip(ty).ok()?).kind else {
        return None;
    };
    match ir.get(ir.strip(target).ok()?).kind {
        Kind::Array { len, .. } => Some(len),
        _ => None,
    }
}

/// The size of a key or value type, or why there is none.
fn type_size(ir: &Ir, ty: TypeId) -> Result<u32, String> {
    let base = ir.strip(ty).map_err(|e| e.to_string())?;
    match &ir.get(base).kind {
        Kind::Fwd { .. } => return Err("is only declared, never defined, in the BTF".into()),
        Kind::Void => return Err("is void".into()),
        _ => {}
    }
    match ir.size_of(ty) {
        Ok(s) => Ok(u32::try_from(s).unwrap_or(u32::MAX)),
        Err(e) => Err(format!("has no size ({e})")),
    }
}

/// `` `struct foo` (BTF type id 23)`` for messages.
fn describe(ir: &Ir, ty: TypeId) -> String {
    let base = ir.strip(ty).unwrap_or(ty);
    format!("`{}` (BTF type id {base})", c_name(ir, ty))
}

/// A C spelling of a type for messages.
pub(crate) fn c_name(ir: &Ir, ty: TypeId) -> String {
    let id = ir.strip_quals(ty).unwrap_or(ty);
    let t = ir.get(id);
    let name = t.name.as_deref().unwrap_or("<anonymous>");
    match &t.kind {
        Kind::Struct(_) | Kind::Fwd { union: false } => format!("struct {name}"),
        Kind::Union(_) | Kind::Fwd { union: true } => format!("union {name}"),
        Kind::Enum(_) => format!("enum {name}"),
        Kind::Void => "void".into(),
        Kind::Ptr { .. } => "pointer".into(),
        Kind::Array { .. } => "array".into(),
        _ => name.to_string(),
    }
}
