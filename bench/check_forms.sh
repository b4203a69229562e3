#!/usr/bin/env bash
# What `cargo check` pays for each form of generated code, on synthetic files of
# N structs x F u32 fields (one rustc --emit=metadata per form, best of RUNS).
# The figures behind the shapes bpfgen emits: layout checks as one call per type with a
# description string, several types per const block, instead of an assert! per field; Debug
# as one call with a names string and a tuple of values instead of a .field() chain; Clone/Copy
# written out instead of derived; enums with only PartialEq derived and a table-driven
# Debug. Never run in CI.
#   bash bench/check_forms.sh
set -euo pipefail
RUNS=${RUNS:-3}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
gen() { # gen FORM N F > file
python3 - "$@" <<'PY'
import sys
form, N, F = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
o = ['#![no_std]', '#![allow(dead_code)]']
o.append('const fn check<const K: usize>(a: [usize; K], e: [usize; K], w: [&str; K]) { let mut i = 0; while i < K { if a[i] != e[i] { panic!("{}", w[i]) } i += 1; } }')
# bpfgen's helper names the failing entry from one description string (sentence built
# only on failure, so a stub is enough here).
o.append('const fn checkd<const K: usize>(w: &str, a: [usize; K], e: [usize; K]) { let mut i = 0; while i < K { if a[i] != e[i] { panic!("{}", w) } i += 1; } }')
o.append("fn fields(f: &mut core::fmt::Formatter<'_>, n: &str, fs: &[(&str, &dyn core::fmt::Debug)]) -> core::fmt::Result { let mut d = f.debug_struct(n); for (l, v) in fs { d.field(l, v); } d.finish() }")
o.append("fn fieldsn(f: &mut core::fmt::Formatter<'_>, n: &str, l: &str, fs: &[&dyn core::fmt::Debug]) -> core::fmt::Result { let mut d = f.debug_struct(n); for (l, v) in l.split(' ').zip(fs) { d.field(l, v); } d.finish() }")
o.append("fn variant(f: &mut core::fmt::Formatter<'_>, n: &str, raw: &dyn core::fmt::Debug, v: i128, names: &str, values: &[i128]) -> core::fmt::Result { match names.split(' ').zip(values).find(|(_, x)| **x == v) { Some((k, _)) => f.write_str(k), None => f.debug_tuple(n).field(raw).finish() } }")
# bpfgen's Debug now: a tuple of values (copies), in groups of 12 past 12 (see debug.rs).
S = "d: &mut core::fmt::DebugStruct<'_, '_>, n: &mut core::str::Split<'_, char>"
o.append(f'trait Value {{ fn add(&self, {S}); }}')
o.append(f'impl<T: core::fmt::Debug> Value for T {{ fn add(&self, {S}) {{ d.field(n.next().unwrap_or("?"), self); }} }}')
o.append(f'struct Group<V>(V);')
o.append(f'impl<V: Values> Value for Group<V> {{ fn add(&self, {S}) {{ self.0.add_all(d, n) }} }}')
o.append(f'trait Values {{ fn add_all(&self, {S}); }}')
for k in range(1, 13):
    ps = [f'V{j}' for j in range(k)]
    o.append(f'impl<{", ".join(p + ": Value" for p in ps)}> Values for ({"".join(p + ", " for p in ps)}) {{ fn add_all(&self, {S}) {{ ' + ' '.join(f'self.{j}.add(d, n);' for j in range(k)) + ' } }')
o.append("fn fieldst<V: Values>(f: &mut core::fmt::Formatter<'_>, name: &str, names: &str, v: V) -> core::fmt::Result { let mut d = f.debug_struct(name); v.add_all(&mut d, &mut names.split(' ')); d.finish() }")
def tup(es):
    while len(es) > 12:
        es = ['Group(' + (f'({es[j]},)' if len(es[j:j+12]) == 1 else '(' + ', '.join(es[j:j+12]) + ')') + ')' for j in range(0, len(es), 12)]
    return '(' + ', '.join(es) + (',)' if len(es) == 1 else ')')
group = []
for i in range(N):
    t = f'S{i}'
    fl = [f'f{j}' for j in range(F)]
    if form.startswith('enum'):
        vals = range(F)
        if form == 'enum-derived':
            o.append(f'#[repr(transparent)] #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)] pub struct {t}(pub u32);')
            arms = ' '.join(f'{v} => f.write_str("{t}_V{v}"),' for v in vals)
            o.append(f"impl core::fmt::Debug for {t} {{ fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{ match self.0 {{ {arms} _ => f.debug_tuple(\"{t}\").field(&self.0).finish(), }} }} }}")
        else:
            o.append(f'#[repr(transparent)] #[derive(PartialEq)] pub struct {t}(pub u32);')
            o.append(f'impl Eq for {t} {{}} impl Clone for {t} {{ #[inline] fn clone(&self) -> Self {{ *self }} }} impl Copy for {t} {{}} impl Default for {t} {{ #[inline] fn default() -> Self {{ Self(0) }} }}')
            o.append(f"impl core::fmt::Debug for {t} {{ fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{ variant(f, \"{t}\", &self.0, i128::from(self.0), \"" + ' '.join(f'{t}_V{v}' for v in vals) + '", &[' + ', '.join(str(v) for v in vals) + ']) } }')
        o.append(f'impl {t} {{ ' + ' '.join(f'pub const V{v}: Self = Self({v});' for v in vals) + ' }')
        continue
    derive = '#[derive(Clone, Copy)] ' if form != 'clone-manual' else ''
    o.append(f'#[repr(C)] {derive}pub struct {t} {{ ' + ' '.join(f'pub {f}: u32,' for f in fl) + ' }')
    if form == 'clone-manual':
        o.append(f'impl Clone for {t} {{ #[inline] fn clone(&self) -> Self {{ *self }} }} impl Copy for {t} {{}}')
    offs = [f'::core::mem::offset_of!({t}, {f})' for f in fl]
    exp = [str(4 * j) for j in range(F)]
    what = f'"{t}: ' + ' '.join(fl) + '"'
    if form == 'check-assert':
        o.append('const _: () = { ' + ' '.join(f'assert!({a} == {e});' for a, e in zip(offs, exp)) + ' };')
    if form == 'check-call':
        o.append('const _: () = check([' + ', '.join(offs) + '], [' + ', '.join(exp) + '], [' + ', '.join(f'"bpfgen: offset of `{t}::{f}` differs from the BTF"' for f in fl) + ']);')
    if form == 'check-what':
        o.append(f'const _: () = checkd({what}, [' + ', '.join(offs) + '], [' + ', '.join(exp) + ']);')
    if form == 'check-grouped':
        group.append(f'checkd({what}, [' + ', '.join(offs) + '], [' + ', '.join(exp) + ']);')
        if len(group) == 64 or i == N - 1:
            o.append('const _: () = { ' + ' '.join(group) + ' };')
            group = []
    if form == 'check-index':
        o.append('const _: () = { ' + ' '.join(f'["{t}::{f}"][{a} - {e}];' for a, e, f in zip(offs, exp, fl)) + ' };')
    h = f"impl core::fmt::Debug for {t} {{ fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{ "
    if form == 'debug-chain':
        o.append(h + f'f.debug_struct("{t}")' + ''.join(f'.field("{f}", &self.{f})' for f in fl) + '.finish() } }')
    if form == 'debug-slice':
        o.append(h + f'fields(f, "{t}", &[' + ', '.join(f'("{f}", &self.{f})' for f in fl) + ']) } }')
    if form == 'debug-names':
        o.append(h + f'fieldsn(f, "{t}", "' + ' '.join(fl) + '", &[' + ', '.join(f'&self.{f}' for f in fl) + ']) } }')
    if form == 'debug-tuple':
        o.append(h + f'fieldst(f, "{t}", "' + ' '.join(fl) + '", ' + tup([f'self.{f}' for f in fl]) + ') } }')
print('\n'.join(o))
PY
}
best() { # best FILE -> "seconds MB"
    local b="" m=""
    for _ in $(seq "$RUNS"); do
        if ! /usr/bin/time -f "%e %M" -o "$W/t" rustc --edition 2021 --crate-type lib --emit=metadata -o "$W/x.rmeta" "$1" > "$W/err" 2>&1; then
            echo "check_forms: $1 does not compile:" >&2; head -20 "$W/err" >&2; exit 1
        fi
        read -r s kb < "$W/t"
        if [[ -z $b ]] || python3 -c "import sys; sys.exit(0 if $s < $b else 1)"; then b=$s; m=$((kb / 1024)); fi
    done
    echo "$b $m"
}
echo "rustc $(rustc --version | cut -d' ' -f2), $(nproc) cores; best of $RUNS"
printf '| %-52s | %7s | %7s |\n' "form" "check s" "RSS MB"
printf '|%s|%s|%s|\n' "------------------------------------------------------" "---------" "---------"
row() { gen "$2" "$3" "$4" > "$W/f.rs"; best "$W/f.rs" > "$W/best"; read -r s m < "$W/best"; printf '| %-52s | %7s | %7s |\n' "$1" "$s" "$m"; }
row "5000 structs x 8 fields, no checks" none 5000 8
row "  + assert!(offset_of!(..) == N) per field" check-assert 5000 8
row "  + bindgen's [\"..\"][offset_of!(..) - N] per field" check-index 5000 8
row "  + check([offset_of!..], [N..], [sentence..]) per type" check-call 5000 8
row "  + check(\"T: a b\", [offset_of!..], [N..]) per type" check-what 5000 8
row "  + the same, 64 types per const block" check-grouped 5000 8
row "5000 structs x 8 fields, #[derive(Clone, Copy)]" none 5000 8
row "  Clone/Copy written out" clone-manual 5000 8
row "2000 structs x 40 fields, no Debug" none 2000 40
row "  + Debug as a .field() chain" debug-chain 2000 40
row "  + Debug as one call, slice of (label, value)" debug-slice 2000 40
row "  + Debug as one call, one names string + values" debug-names 2000 40
row "  + the same with a tuple of copies, not &dyn slice" debug-tuple 2000 40
row "2500 enums x 8 values, derive(6 traits) + match Debug" enum-derived 2500 8
row "  derive(PartialEq), rest written, table Debug" enum-written 2500 8
