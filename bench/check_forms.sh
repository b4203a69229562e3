#!/usr/bin/env bash
# What `cargo check` pays for each form of generated code, on synthetic files of
# N structs x F u32 fields (one rustc --emit=metadata per form, best of RUNS).
# The figures behind the shapes bpfgen emits: layout checks as one call with three
# arrays instead of an assert! per field, Debug as one call with a slice instead of a
# .field() chain, Clone/Copy written out instead of derived. Never run in CI.
#   bash bench/check_forms.sh            (N=5000 F=8 for checks, N=2000 F=40 for Debug)
set -euo pipefail
RUNS=${RUNS:-3}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
gen() { # gen FORM N F > file
python3 - "$@" <<'PY'
import sys
form, N, F = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
o = ['#![no_std]', '#![allow(dead_code)]']
o.append('const fn check<const K: usize>(a: [usize; K], e: [usize; K], w: [&str; K]) { let mut i = 0; while i < K { if a[i] != e[i] { panic!("{}", w[i]) } i += 1; } }')
o.append("fn fields(f: &mut core::fmt::Formatter<'_>, n: &str, fs: &[(&str, &dyn core::fmt::Debug)]) -> core::fmt::Result { let mut d = f.debug_struct(n); for (l, v) in fs { d.field(l, v); } d.finish() }")
for i in range(N):
    t = f'S{i}'
    fl = [f'f{j}' for j in range(F)]
    derive = '#[derive(Clone, Copy)] ' if form != 'clone-manual' else ''
    o.append(f'#[repr(C)] {derive}pub struct {t} {{ ' + ' '.join(f'pub {f}: u32,' for f in fl) + ' }')
    if form == 'clone-manual':
        o.append(f'impl Clone for {t} {{ #[inline] fn clone(&self) -> Self {{ *self }} }} impl Copy for {t} {{}}')
    offs = [f'::core::mem::offset_of!({t}, {f})' for f in fl]
    exp = [str(4 * j) for j in range(F)]
    if form == 'check-assert':
        o.append('const _: () = { ' + ' '.join(f'assert!({a} == {e});' for a, e in zip(offs, exp)) + ' };')
    if form == 'check-call':
        o.append('const _: () = check([' + ', '.join(offs) + '], [' + ', '.join(exp) + '], [' + ', '.join(f'"bpfgen: offset of `{t}::{f}` differs from the BTF"' for f in fl) + ']);')
    if form == 'check-index':
        o.append('const _: () = { ' + ' '.join(f'["{t}::{f}"][{a} - {e}];' for a, e, f in zip(offs, exp, fl)) + ' };')
    h = f"impl core::fmt::Debug for {t} {{ fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {{ "
    if form == 'debug-chain':
        o.append(h + f'f.debug_struct("{t}")' + ''.join(f'.field("{f}", &self.{f})' for f in fl) + '.finish() } }')
    if form == 'debug-slice':
        o.append(h + f'fields(f, "{t}", &[' + ', '.join(f'("{f}", &self.{f})' for f in fl) + ']) } }')
print('\n'.join(o))
PY
}
best() { # best FILE -> "seconds MB"
    local b="" m=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$W/t" rustc --edition 2021 --crate-type lib --emit=metadata -o "$W/x.rmeta" "$1" >/dev/null 2>&1
        read -r s kb < "$W/t"
        if [[ -z $b ]] || python3 -c "import sys; sys.exit(0 if $s < $b else 1)"; then b=$s; m=$((kb / 1024)); fi
    done
    echo "$b $m"
}
echo "rustc $(rustc --version | cut -d' ' -f2), $(nproc) cores; best of $RUNS"
printf '| %-52s | %7s | %7s |\n' "form" "check s" "RSS MB"
printf '|%s|%s|%s|\n' "------------------------------------------------------" "---------" "---------"
row() { gen "$2" "$3" "$4" > "$W/f.rs"; read -r s m < <(best "$W/f.rs"); printf '| %-52s | %7s | %7s |\n' "$1" "$s" "$m"; }
row "5000 structs x 8 fields, no checks" none 5000 8
row "  + assert!(offset_of!(..) == N) per field" check-assert 5000 8
row "  + bindgen's [\"..\"][offset_of!(..) - N] per field" check-index 5000 8
row "  + check([offset_of!..], [N..], [\"..\"]) per type" check-call 5000 8
row "5000 structs x 8 fields, #[derive(Clone, Copy)]" none 5000 8
row "  Clone/Copy written out" clone-manual 5000 8
row "2000 structs x 40 fields, no Debug" none 2000 40
row "  + Debug as a .field() chain" debug-chain 2000 40
row "  + Debug as one call with a slice" debug-slice 2000 40
