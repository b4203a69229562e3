//! Every byte of every struct and union accounted for.
//!
//! BTF gives sizes and member bit offsets but not alignment. The BPF alignment of a
//! composite is inferred from where the compiler put things:
//! 1. each member has an effective alignment. If nothing is packed, its type's, or
//!    more when it sits further than that requires (a member `aligned(N)`: the
//!    smallest power of two explaining the hole). If anything is packed (a member at
//!    an offset its type's alignment does not divide, a bitfield straddling a unit of
//!    its type, or a size natural alignment cannot give), only what its hole proves
//!    (1 when there is none);
//! 2. the composite's alignment is the largest of these, halved until it divides the
//!    size (a packed struct whose members all happen to sit aligned shows only there);
//! 3. tail padding beyond what that explains (`aligned(N)` on the type, `packed,
//!    aligned(N)`) raises it to the smallest power of two that explains the tail.
//!
//! Where two alignments give identical BTF (a packed union of equal-sized members, or
//! `packed, aligned(2)` vs `aligned(4)` with the same tail) the smaller is chosen;
//! sizes and offsets are exact either way. The C oracle test lists those cases.
//!
//! A struct becomes a sequence of slots: typed fields, members held as bytes (their
//! type's alignment exceeds what their offset or the struct's alignment allows, as in
//! packed structs), bitfield storage units, and explicit padding. No implicit padding
//! remains, so the Rust layout is the same on every host.

use std::collections::HashMap;

use crate::error::{ErrorKind, KResult};
use crate::ir::{Composite, Ir, Kind, TypeId};

/// How a struct's bytes are covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Member `member` as a field of its own type at `offset`.
    Field {
        member: usize,
        offset: u32,
        size: u32,
    },
    /// Member `member` held as `[u8; size]` with typed accessors.
    Bytes {
        member: usize,
        offset: u32,
        size: u32,
    },
    /// Bitfield storage `[u8; len]` at `offset` holding `members`.
    Bits {
        offset: u32,
        len: u32,
        members: Vec<usize>,
    },
    /// Padding the C compiler inserted (no member).
    Pad { offset: u32, len: u32 },
}

/// A bitfield member, relative to the storage that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitField {
    /// Bit offset from the start of the composite, as in BTF.
    pub bit_offset: u32,
    pub bits: u32,
}

#[derive(Clone, Debug)]
pub struct CLayout {
    pub size: u32,
    pub align: u32,
    pub packed: bool,
    pub is_union: bool,
    /// Struct slots in offset order (empty for unions).
    pub slots: Vec<Slot>,
    /// Per member: its bitfield placement, if it is one.
    pub bitfields: Vec<Option<BitField>>,
    /// Whether `#[repr(align(N))]` is needed for every host to agree.
    pub align_attr: bool,
}

/// Memoised layouts and alignments.
pub struct Layouts<'a> {
    ir: &'a Ir,
    composites: HashMap<TypeId, CLayout>,
    in_progress: Vec<TypeId>,
}

/// Deepest recursion of `composite`: the graph's nesting is already bounded by
/// [`crate::ir::MAX_NESTING`] when it is built; this guards the recursion itself.
pub const MAX_NESTING: usize = crate::ir::MAX_NESTING as usize;

impl<'a> Layouts<'a> {
    pub fn new(ir: &'a Ir) -> Self {
        Layouts {
            ir,
            composites: HashMap::new(),
            in_progress: Vec::new(),
        }
    }

    /// Layout of struct/union `id`.
    pub fn composite(&mut self, id: TypeId) -> KResult<&CLayout> {
        if !self.composites.contains_key(&id) {
            if self.in_progress.contains(&id) {
                return Err(ErrorKind::ty(
                    id,
                    "struct or union contains itself by value",
                ));
            }
            if self.in_progress.len() >= MAX_NESTING {
                return Err(ErrorKind::ty(
                    id,
                    format!("structs nested more than {MAX_NESTING} levels deep"),
                ));
            }
            self.in_progress.push(id);
            let l = self.compute(id);
            self.in_progress.pop();
            let l = l?;
            self.composites.insert(id, l);
        }
        Ok(&self.composites[&id])
    }

    /// BPF alignment of a value of type `id`.
    pub fn align_of(&mut self, id: TypeId) -> KResult<u32> {
        let base = self.elem(id)?;
        Ok(match &self.ir.get(base).kind {
            Kind::Int(i) => i.size,
            // A power of two: 12 bytes (i386's long double) is 4-aligned.
            Kind::Float { size } => 1 << size.trailing_zeros().min(4),
            Kind::Ptr { .. } => 8,
            Kind::Enum(e) => e.size,
            Kind::Struct(_) | Kind::Union(_) => self.composite(base)?.align,
            _ => {
                self.ir.size_of(id)?; // produces the precise error
                return Err(ErrorKind::ty(id, "type has no alignment"));
            }
        })
    }

    /// The alignment Rust guarantees for the generated type of `id` on every host
    /// (u64 and f64 are 4-aligned on i686; generated composites are exact).
    pub fn guaranteed_align(&mut self, id: TypeId) -> KResult<u32> {
        let base = self.elem(id)?;
        Ok(match &self.ir.get(base).kind {
            Kind::Int(i) => i.size.min(4),
            Kind::Float { size: 4 | 8 } => 4,
            Kind::Float { .. } => 1,
            Kind::Ptr { .. } => 4,
            Kind::Enum(e) if e.size == 8 => 8,
            Kind::Enum(e) => e.size,
            Kind::Struct(_) | Kind::Union(_) => self.composite(base)?.align,
            _ => 1,
        })
    }

    /// Strips typedefs, qualifiers and arrays down to the element type.
    fn elem(&self, id: TypeId) -> KResult<TypeId> {
        let mut cur = id;
        for _ in 0..=self.ir.types.len() {
            let s = self.ir.strip(cur)?;
            match &self.ir.get(s).kind {
                Kind::Array { elem, .. } => cur = *elem,
                _ => return Ok(s),
            }
        }
        Err(ErrorKind::ty(id, "array chain is cyclic"))
    }

    fn compute(&mut self, id: TypeId) -> KResult<CLayout> {
        let ir = self.ir;
        let (c, is_union): (&Composite, bool) = match &ir.get(id).kind {
            Kind::Struct(c) => (c, false),
            Kind::Union(c) => (c, true),
            _ => return Err(ErrorKind::ty(id, "not a struct or union")),
        };
        let size = c.size;
        let size_bits = u64::from(size) * 8;
        let label = |i: usize| -> String {
            match &c.members[i].name {
                Some(n) => format!("member `{n}`"),
                None => format!("anonymous member {i}"),
            }
        };

        // Members: byte size, alignment, bitfield placement; all checked against the size.
        let mut sizes = Vec::with_capacity(c.members.len());
        let mut aligns = Vec::with_capacity(c.members.len());
        let mut bitfields = Vec::with_capacity(c.members.len());
        for (i, m) in c.members.iter().enumerate() {
            let msize = ir
                .size_of(m.ty)
                .map_err(|e| ErrorKind::ty(id, format!("{}: {e}", label(i))))?;
            let msize = u32::try_from(msize).unwrap_or(u32::MAX);
            let malign = self.align_of(m.ty)?;
            let mut bf = m.bits.map(|bits| BitField {
                bit_offset: m.bit_offset,
                bits,
            });
            // Legacy encoding (no kind_flag): the INT itself carries bits and offset.
            if bf.is_none() {
                if let Kind::Int(int) = &ir.get(ir.strip(m.ty)?).kind {
                    if int.bits != int.size * 8 || int.bit_offset != 0 {
                        bf = Some(BitField {
                            bit_offset: m.bit_offset + int.bit_offset,
                            bits: int.bits,
                        });
                    }
                }
            }
            let (start, end) = match &bf {
                Some(b) => {
                    if b.bits > msize * 8 {
                        return Err(ErrorKind::ty(
                            id,
                            format!(
                                "bitfield {} is {} bits wide, wider than its {}-bit type",
                                label(i),
                                b.bits,
                                msize * 8
                            ),
                        ));
                    }
                    if b.bits > 64 {
                        return Err(ErrorKind::ty(
                            id,
                            format!(
                                "bitfield {} is {} bits wide (at most 64 supported)",
                                label(i),
                                b.bits
                            ),
                        ));
                    }
                    let strip = ir.strip(m.ty)?;
                    if !matches!(ir.get(strip).kind, Kind::Int(_) | Kind::Enum(_)) {
                        return Err(ErrorKind::ty(
                            id,
                            format!("bitfield {} is not of an integer or enum type", label(i)),
                        ));
                    }
                    (
                        u64::from(b.bit_offset),
                        u64::from(b.bit_offset) + u64::from(b.bits),
                    )
                }
                None => {
                    if m.bit_offset % 8 != 0 {
                        return Err(ErrorKind::ty(
                            id,
                            format!(
                                "{} is at bit offset {}, not on a byte boundary",
                                label(i),
                                m.bit_offset
                            ),
                        ));
                    }
                    (
                        u64::from(m.bit_offset),
                        u64::from(m.bit_offset) + u64::from(msize) * 8,
                    )
                }
            };
            if end > size_bits {
                return Err(ErrorKind::ty(
                    id,
                    format!(
                        "{} (bits {start}..{end}) runs past the end of the {} ({size} bytes)",
                        label(i),
                        if is_union { "union" } else { "struct" }
                    ),
                ));
            }
            sizes.push(msize);
            aligns.push(malign);
            bitfields.push(bf);
        }

        let natural = aligns.iter().copied().max().unwrap_or(1).max(1);
        let mut order: Vec<usize> = (0..c.members.len()).collect();
        order.sort_by_key(|&i| c.members[i].bit_offset);

        // Is anything packed? A member its type's alignment does not place, a
        // bitfield straddling a unit of its type, or a size natural alignment cannot give.
        let straddles = |i: usize| -> bool {
            bitfields[i].as_ref().is_some_and(|b| {
                let unit = u64::from(sizes[i]) * 8;
                let first = u64::from(b.bit_offset) / unit;
                let last = (u64::from(b.bit_offset) + u64::from(b.bits.max(1)) - 1) / unit;
                first != last
            })
        };
        let packing = size % natural != 0
            || (0..c.members.len()).any(|i| match &bitfields[i] {
                Some(_) => straddles(i),
                None => (c.members[i].bit_offset / 8) % aligns[i] != 0,
            });

        // Each member's effective alignment. Without packing, its type's, or more
        // when it sits further than that requires (a member `aligned(N)`: the
        // smallest power of two explaining the hole). With packing, only what its
        // hole proves (1 when there is none): `packed` members and structs ignore
        // their types' alignment, and a hole is the only evidence left.
        let mut align = 1;
        let mut prev_end: u32 = 0;
        for &i in &order {
            let m = &c.members[i];
            let effective = match &bitfields[i] {
                Some(b) => {
                    prev_end = prev_end.max((b.bit_offset + b.bits).div_ceil(8));
                    if packing {
                        1
                    } else {
                        aligns[i]
                    }
                }
                None => {
                    let off = m.bit_offset / 8;
                    let nat = aligns[i];
                    let a = if is_union {
                        if packing {
                            1
                        } else {
                            nat
                        }
                    } else if packing {
                        explaining_align(prev_end, off, 1).unwrap_or(1)
                    } else if off > round_up(prev_end, nat) {
                        explaining_align(prev_end, off, nat).unwrap_or(nat)
                    } else {
                        nat
                    };
                    prev_end = prev_end.max(off + sizes[i]);
                    a
                }
            };
            align = align.max(effective);
        }
        // The size must be a multiple of the alignment: a packed struct whose members
        // all happen to sit aligned is told apart by its size alone.
        while size % align != 0 {
            align /= 2;
        }
        // Tail padding beyond what the alignment explains: an aligned(N) type.
        let end = (0..c.members.len())
            .map(|i| match &bitfields[i] {
                Some(b) => (b.bit_offset + b.bits).div_ceil(8),
                None => c.members[i].bit_offset / 8 + sizes[i],
            })
            .max()
            .unwrap_or(0);
        if round_up(end, align) != size {
            let mut a = align * 2;
            while a <= 4096 {
                if size % a == 0 && round_up(end, a) == size {
                    align = a;
                    break;
                }
                a *= 2;
            }
        }
        let packed = align < natural;

        let mut layout = CLayout {
            size,
            align,
            packed,
            is_union,
            slots: Vec::new(),
            bitfields,
            align_attr: false,
        };
        if is_union {
            layout.align_attr = align > 1;
            return Ok(layout);
        }

        // Slots, in offset order; overlap is an error.
        let mut slots: Vec<Slot> = Vec::new();
        let mut cursor_bits: u64 = 0;
        let mut guaranteed = 1;
        let push_pad = |slots: &mut Vec<Slot>, from: u32, to: u32| {
            if to > from {
                slots.push(Slot::Pad {
                    offset: from,
                    len: to - from,
                });
            }
        };
        for &i in &order {
            let m = &c.members[i];
            match layout.bitfields[i].clone() {
                Some(b) => {
                    let start = u64::from(b.bit_offset);
                    if start < cursor_bits {
                        return Err(overlap(id, &label(i)));
                    }
                    let first_byte = b.bit_offset / 8;
                    let last_byte = (b.bit_offset + b.bits).div_ceil(8).max(first_byte + 1);
                    // Join the previous bitfield unit when it shares or touches a byte.
                    if let Some(Slot::Bits {
                        offset,
                        len,
                        members,
                    }) = slots.last_mut()
                    {
                        if first_byte <= *offset + *len {
                            *len = (*len).max(last_byte - *offset);
                            members.push(i);
                            cursor_bits = start + u64::from(b.bits);
                            continue;
                        }
                    }
                    let from = cursor_bits.div_ceil(8) as u32;
                    push_pad(&mut slots, from, first_byte);
                    slots.push(Slot::Bits {
                        offset: first_byte,
                        len: last_byte - first_byte,
                        members: vec![i],
                    });
                    cursor_bits = start + u64::from(b.bits);
                }
                None => {
                    let off = m.bit_offset / 8;
                    if u64::from(off) * 8 < cursor_bits {
                        return Err(overlap(id, &label(i)));
                    }
                    let from = cursor_bits.div_ceil(8) as u32;
                    push_pad(&mut slots, from, off);
                    let typed = aligns[i] <= align && off % aligns[i] == 0;
                    if typed {
                        guaranteed = guaranteed.max(self.guaranteed_align(m.ty)?);
                        slots.push(Slot::Field {
                            member: i,
                            offset: off,
                            size: sizes[i],
                        });
                    } else {
                        slots.push(Slot::Bytes {
                            member: i,
                            offset: off,
                            size: sizes[i],
                        });
                    }
                    cursor_bits = u64::from(off + sizes[i]) * 8;
                }
            }
        }
        let from = cursor_bits.div_ceil(8) as u32;
        push_pad(&mut slots, from, size);
        layout.slots = slots;
        layout.align_attr = align > guaranteed;
        Ok(layout)
    }
}

fn overlap(id: TypeId, what: &str) -> ErrorKind {
    ErrorKind::ty(id, format!("{what} overlaps the member before it"))
}

fn round_up(x: u32, a: u32) -> u32 {
    x.div_ceil(a) * a
}

/// The smallest power of two ≥ `min` that places a member after `prev_end` at `off`.
fn explaining_align(prev_end: u32, off: u32, min: u32) -> Option<u32> {
    let mut a = min.max(1);
    while a <= 4096 {
        if off % a == 0 && round_up(prev_end, a) == off {
            return Some(a);
        }
        a *= 2;
    }
    None
}
