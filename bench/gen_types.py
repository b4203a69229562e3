#!/usr/bin/env python3
"""Writes a BPF C source with N struct types (mixed members, nesting, bitfields,
unions, enums) anchored by globals, for the generation benchmark."""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
out = ["#include <linux/types.h>"]
for i in range(n):
    k = i % 5
    if k == 0:
        out.append(f"struct t{i} {{ __u8 a; __u64 b; __u16 c; __u32 arr[{i % 7 + 1}]; }};")
    elif k == 1:
        out.append(f"struct t{i} {{ __u32 x:3, y:13, z:16; struct t{i-1} inner; void *p; }};")
    elif k == 2:
        out.append(f"union t{i} {{ __u32 v4; __u32 v6[4]; struct t{i-2} s; }};")
    elif k == 3:
        out.append(f"enum t{i} {{ T{i}_A = 1, T{i}_B = 2, T{i}_C = {i} }};")
    else:
        out.append(
            f"struct t{i} {{ enum t{i-1} e; union t{i-2} u; char name[16]; "
            f"struct {{ __u16 lo, hi; }} anon; __s64 big; }};"
        )
for i in range(n):
    kw = "union" if i % 5 == 2 else "enum" if i % 5 == 3 else "struct"
    out.append(f"{kw} t{i} g{i};")
print("\n".join(out))
