#!/usr/bin/env python3
"""smoke.py - kernel smoke test of examples/lb/bpf/lb.bpf.o (run it via smoke.sh).

Loads the datapath into this machine's kernel with `bpftool prog loadall`,
fills its maps with `bpftool` (VIPs, backends, Maglev inner maps created with
`bpftool map create` and inserted into the outer array of maps), runs crafted
frames through it with `bpftool prog run` (BPF_PROG_TEST_RUN, repeat 1) and
checks every verdict, every output frame byte for byte against a reference
model written here from the documentation in lb.h / lb.bpf.c, and every
counter.

The config (.rodata `CONFIG`) is frozen at load time, so instance A loads a
copy of the object whose `.rodata` bytes were patched in the ELF file (exactly
what libbpf/aya do with the section before creating the map); instance B loads
the committed object unchanged and checks the defaults.

This file mirrors the C layout by hand (struct.pack) because it is a test of
the C datapath written in Python; it checks its own packing against the BTF of
the object first. The Rust control plane uses bpfgen's generated types instead.
"""

import ipaddress
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OBJ = os.environ.get("LB_OBJ", os.path.join(HERE, "lb.bpf.o"))
BPFTOOL = os.environ.get("BPFTOOL", "bpftool")
BPFFS = os.environ.get("BPFFS", "/sys/fs/bpf")

XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX = 0, 1, 2, 3
VERDICT = {0: "ABORTED", 1: "DROP", 2: "PASS", 3: "TX"}

# lb.h
LB_MAGLEV_SIZE = 65537
FAM_V4, FAM_V6 = 4, 6
ST_ACTIVE, ST_DRAINING, ST_REMOVED = 1, 2, 3
F_HASH_NO_SPORT = 1
DROPS = ["TRUNCATED", "MALFORMED", "IP_OPTIONS", "FRAGMENT", "NO_BACKEND",
         "BACKEND_INVALID", "ENCAP_FAILED"]
D = {n: i for i, n in enumerate(DROPS)}
GLOBAL_FIELDS = ["rx_packets", "rx_bytes", "pass_non_ip", "pass_non_vip", "tx_packets",
                 "tx_bytes", "new_flows", "ct_hits", "ct_stale", "ct_expired",
                 "ct_update_failed", "icmp_too_big"]
VIP_FIELDS = ["packets", "bytes", "new_flows", "ct_hits", "ct_stale", "ct_expired"]
BACKEND_FIELDS = ["packets", "bytes", "new_flows", "ct_hits"]
HIST_BUCKETS, HIST_WIDTH = 64, 32

IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6 = 6, 17, 1, 58

CHECKS = []


def ok(what):
    CHECKS.append(what)


def fail(msg):
    raise SystemExit(f"smoke: FAIL: {msg}")


def expect(cond, msg):
    if not cond:
        fail(msg)


# ---------------------------------------------------------------- hashing ---

M32 = 0xFFFFFFFF


def rol32(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


def jmix(a, b, c):
    a = (a - c) & M32; a ^= rol32(c, 4);  c = (c + b) & M32
    b = (b - a) & M32; b ^= rol32(a, 6);  a = (a + c) & M32
    c = (c - b) & M32; c ^= rol32(b, 8);  b = (b + a) & M32
    a = (a - c) & M32; a ^= rol32(c, 16); c = (c + b) & M32
    b = (b - a) & M32; b ^= rol32(a, 19); a = (a + c) & M32
    c = (c - b) & M32; c ^= rol32(b, 4);  b = (b + a) & M32
    return a, b, c


def jfinal(a, b, c):
    c ^= b; c = (c - rol32(b, 14)) & M32
    a ^= c; a = (a - rol32(c, 11)) & M32
    b ^= a; b = (b - rol32(a, 25)) & M32
    c ^= b; c = (c - rol32(b, 16)) & M32
    a ^= c; a = (a - rol32(c, 4)) & M32
    b ^= a; b = (b - rol32(a, 14)) & M32
    c ^= b; c = (c - rol32(b, 24)) & M32
    return a, b, c


def jhash2(words, seed):
    """Linux jhash2() (lookup3 hashword) over 32-bit words."""
    n = len(words)
    a = b = c = (0xDEADBEEF + (n << 2) + seed) & M32
    i = 0
    while n > 3:
        a = (a + words[i]) & M32
        b = (b + words[i + 1]) & M32
        c = (c + words[i + 2]) & M32
        a, b, c = jmix(a, b, c)
        n -= 3
        i += 3
    if n == 0:
        return c
    if n >= 3:
        c = (c + words[i + 2]) & M32
    if n >= 2:
        b = (b + words[i + 1]) & M32
    a = (a + words[i]) & M32
    a, b, c = jfinal(a, b, c)
    return c


def jhash_bytes(data, seed):
    """Linux jhash() (lookup3 hashlittle) over bytes: used to check jmix/jfinal
    against the published lookup3 test vector."""
    n = len(data)
    a = b = c = (0xDEADBEEF + n + seed) & M32
    k = 0
    while n > 12:
        a = (a + int.from_bytes(data[k:k + 4], "little")) & M32
        b = (b + int.from_bytes(data[k + 4:k + 8], "little")) & M32
        c = (c + int.from_bytes(data[k + 8:k + 12], "little")) & M32
        a, b, c = jmix(a, b, c)
        n -= 12
        k += 12
    if n == 0:
        return c
    tail = data[k:k + n] + bytes(12 - n)
    a = (a + int.from_bytes(tail[0:4], "little")) & M32
    b = (b + int.from_bytes(tail[4:8], "little")) & M32
    c = (c + int.from_bytes(tail[8:12], "little")) & M32
    a, b, c = jfinal(a, b, c)
    return c


def addr_words(addr):
    return list(struct.unpack(">4I", addr.packed.ljust(16, b"\0")))


def flow_hash(src, dst, sport, dport, proto, seed, no_sport=False):
    """The datapath's flow hash, from the specification in lb.h."""
    w = addr_words(src) + addr_words(dst)
    w.append((((0 if no_sport else sport) << 16) | dport) & M32)
    w.append(proto)
    return jhash2(w, seed)


def header_vectors():
    """The flow hash test vectors documented in lb.h."""
    out = []
    pat = re.compile(r"vector (\S+) (\d+) -> (\S+) (\d+) proto (\d+) seed (0x[0-9a-f]+) "
                     r"flags (\d+): hash (0x[0-9a-f]+) slot (\d+)")
    with open(os.path.join(HERE, "lb.h")) as f:
        for line in f:
            m = pat.search(line)
            if m:
                out.append(dict(src=ipaddress.ip_address(m[1]), sport=int(m[2]),
                                dst=ipaddress.ip_address(m[3]), dport=int(m[4]), proto=int(m[5]),
                                seed=int(m[6], 16), flags=int(m[7]), hash=int(m[8], 16),
                                slot=int(m[9]), line=m[0]))
    expect(len(out) >= 5, "lb.h: flow hash vectors not found")
    return out


def check_hash_reference():
    # lookup3.c's published self-test: hashlittle("Four score and seven years ago", 30, 0)
    expect(jhash_bytes(b"Four score and seven years ago", 0) == 0x17770551, "lookup3 vector, seed 0")
    expect(jhash_bytes(b"Four score and seven years ago", 1) == 0xCD628161, "lookup3 vector, seed 1")
    # hashword over n words == hashlittle over the same 4n little-endian bytes
    rnd = random.Random(7)
    for n in range(1, 13):
        ws = [rnd.getrandbits(32) for _ in range(n)]
        seed = rnd.getrandbits(32)
        blob = b"".join(struct.pack("<I", x) for x in ws)
        expect(jhash2(ws, seed) == jhash_bytes(blob, seed), f"jhash2 == jhash over {n} words")
    expect(jhash2([0] * 10, 0) == 0xC0FED4B2 and jhash2([0] * 10, 0x5EED1234) == 0x5A58F16E,
           "the jhash2 vectors of lb_jhash.h")
    for v in header_vectors():
        h = flow_hash(v["src"], v["dst"], v["sport"], v["dport"], v["proto"], v["seed"],
                      bool(v["flags"] & F_HASH_NO_SPORT))
        expect(h == v["hash"] and h % LB_MAGLEV_SIZE == v["slot"], f"lb.h vector {v['line']}")
    ok("reference jhash: lookup3 published vectors; jhash2(words) == jhash(bytes) for 1..12 "
       f"words; the vectors of lb_jhash.h and the {len(header_vectors())} flow vectors of lb.h")
    # the C code of lb_jhash.h, compiled for the host, agrees with this model
    cc = shutil.which(os.environ.get("HOSTCC", "gcc"))
    if not cc:
        print("smoke: note: no host C compiler, skipping the host build of lb_jhash.h")
        return
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "h.c")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n#include <stdlib.h>\n#include "lb_jhash.h"\n'
                    "int main(int argc, char **argv) { __u32 w[10]; int i;\n"
                    " for (i = 0; i < 10; i++) w[i] = strtoul(argv[1 + i], 0, 0);\n"
                    ' printf("%u\\n", lb_jhash_10words(w, strtoul(argv[11], 0, 0))); return 0; }\n')
        exe = os.path.join(d, "h")
        subprocess.run([cc, "-O2", "-I", HERE, src, "-o", exe], check=True)
        cases = [[0] * 10 + [0], [0xFFFFFFFF] * 11]
        for _ in range(30):
            cases.append([rnd.getrandbits(32) for _ in range(11)])
        for c in cases:
            out = subprocess.run([exe] + [str(x) for x in c], check=True, capture_output=True,
                                 text=True).stdout
            expect(int(out) == jhash2(c[:10], c[10]), f"host lb_jhash_10words{tuple(c)}")
    ok(f"lb_jhash.h compiled with the host compiler == the Python model ({len(cases)} vectors)")


# ---------------------------------------------------------------- packets ---

def csum16(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip4(a):
    return ipaddress.IPv4Address(a)


def ip6(a):
    return ipaddress.IPv6Address(a)


LB_MAC = bytes.fromhex("02000000aa01")      # the load balancer's interface
ROUTER_MAC = bytes.fromhex("02000000bb02")  # who sent us the frame
GW_MAC = bytes.fromhex("02000000cc03")      # CONFIG.gw_mac of instance A


def eth(ethertype, dst=LB_MAC, src=ROUTER_MAC):
    return dst + src + struct.pack("!H", ethertype)


def l4(proto, sport, dport, payload=b"", src=None, dst=None):
    if proto == IPPROTO_TCP:
        h = struct.pack("!HHIIBBHHH", sport, dport, 0x01020304, 0, 0x50, 0x18, 65535, 0, 0)
    else:
        h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    seg = h + payload
    if src is not None:  # a real checksum, for realism (the LB never reads it)
        if src.version == 4:
            pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, proto, len(seg))
        else:
            pseudo = src.packed + dst.packed + struct.pack("!IxxxB", len(seg), proto)
        c = 0xFFFF & ~csum16(pseudo + seg)
        off = 16 if proto == IPPROTO_TCP else 6
        seg = seg[:off] + struct.pack("!H", c or 0xFFFF) + seg[off + 2:]
    return seg


def ipv4(src, dst, proto, payload, tos=0, ttl=64, ident=0x1234, frag=0x4000, options=b"",
         tot_len=None, vihl=None):
    ihl = 5 + len(options) // 4
    tot = ihl * 4 + len(payload) if tot_len is None else tot_len
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl if vihl is None else vihl, tos, tot, ident, frag,
                    ttl, proto, 0, src.packed, dst.packed) + options
    h = h[:10] + struct.pack("!H", 0xFFFF & ~csum16(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, tc=0, flow=0x12345, hlim=64, plen=None):
    first = (6 << 28) | (tc << 20) | flow
    return struct.pack("!IHBB", first, len(payload) if plen is None else plen, nh, hlim) + \
        src.packed + dst.packed + payload


def tcp4_frame(src, dst, sport, dport, payload=b"hello", tos=0, proto=IPPROTO_TCP, **kw):
    s, d = ip4(src), ip4(dst)
    return eth(0x0800) + ipv4(s, d, proto, l4(proto, sport, dport, payload, s, d), tos=tos, **kw)


def tcp6_frame(src, dst, sport, dport, payload=b"hello6", tc=0, proto=IPPROTO_TCP, **kw):
    s, d = ip6(src), ip6(dst)
    return eth(0x86DD) + ipv6(s, d, proto, l4(proto, sport, dport, payload, s, d), tc=tc, **kw)


def icmp4_too_big(router, quoted_ip):
    """ICMP frag-needed from `router` to the quoted packet's source (a VIP),
    quoting its IP header and the first 8 bytes after it."""
    q = quoted_ip[:28]
    body = struct.pack("!BBHHH", 3, 4, 0, 0, 1400) + q
    body = body[:2] + struct.pack("!H", 0xFFFF & ~csum16(body)) + body[4:]
    return eth(0x0800) + ipv4(ip4(router), ip4(".".join(map(str, q[12:16]))), IPPROTO_ICMP, body,
                              tos=0xC0, frag=0)


def icmp6_too_big(router, quoted_ip6):
    q = quoted_ip6[:48]
    body = struct.pack("!BBHI", 2, 0, 0, 1280) + q  # checksum left 0: never checked here
    return eth(0x86DD) + ipv6(ip6(router), ipaddress.IPv6Address(q[8:24]), IPPROTO_ICMPV6, body)


class Cfg:
    def __init__(self, src_v4, src_v6, seed, gw_mac, ttl, udp_timeout_ns):
        self.src_v4, self.src_v6, self.seed = ip4(src_v4), ip6(src_v6), seed
        self.gw_mac, self.ttl, self.udp_timeout_ns = gw_mac, ttl, udp_timeout_ns

    def pack(self):  # struct lb_config, 40 bytes, 1-byte hole at 31
        return struct.pack("<4s16sI6sBxQ", self.src_v4.packed, self.src_v6.packed, self.seed,
                           self.gw_mac, self.ttl, self.udp_timeout_ns)


def expected_encap(frame, b_fam, b_addr, cfg):
    """The frame lb_xdp must produce (lb.bpf.c, "Outer headers")."""
    inner = frame[14:]
    if frame[12:14] == b"\x08\x00":
        inner_len = struct.unpack("!H", inner[2:4])[0]
        tos = inner[1]
        df = bool(struct.unpack("!H", inner[6:8])[0] & 0x4000)
        proto = 4
    else:
        inner_len = 40 + struct.unpack("!H", inner[4:6])[0]
        tos = ((inner[0] & 0x0F) << 4) | (inner[1] >> 4)
        df = True
        proto = 41
    dst_mac = cfg.gw_mac if any(cfg.gw_mac) else frame[6:12]
    if b_fam == FAM_V4:
        h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + inner_len, 0, 0x4000 if df else 0,
                        cfg.ttl, proto, 0, cfg.src_v4.packed, b_addr.packed)
        h = h[:10] + struct.pack("!H", 0xFFFF & ~csum16(h)) + h[12:]
        et = 0x0800
    else:
        h = struct.pack("!BBHHBB16s16s", 0x60 | (tos >> 4), (tos & 0x0F) << 4, 0, inner_len,
                        proto, cfg.ttl, cfg.src_v6.packed, b_addr.packed)
        et = 0x86DD
    return dst_mac + frame[0:6] + struct.pack("!H", et) + h + inner


# ------------------------------------------------------------------- ELF ---

def elf_symbol_in_section(path, symbol, section):
    """(file offset, size) of `symbol` in `section` of a little-endian ELF64 object."""
    with open(path, "rb") as f:
        data = f.read()
    expect(data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, f"{path}: not ELF64 LE")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    shdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = shdrs[shstrndx][4]

    def name_at(off, idx):
        end = data.index(b"\0", off + idx)
        return data[off + idx:end].decode()

    names = [name_at(strtab_off, s[0]) for s in shdrs]
    sec = names.index(section)
    symtab = next(s for s in shdrs if s[1] == 2)  # SHT_SYMTAB
    strs = shdrs[symtab[6]][4]
    for i in range(symtab[5] // 24):
        st_name, _info, _other, shndx, value, size = struct.unpack_from(
            "<IBBHQQ", data, symtab[4] + i * 24)
        if shndx == sec and name_at(strs, st_name) == symbol:
            return shdrs[sec][4] + value, size
    fail(f"{path}: no symbol {symbol} in {section}")


# -------------------------------------------------------------------- BTF ---

# What this script's struct.pack calls assume: C type -> (size, {member: offset}).
LAYOUT = {
    ("union", "lb_addr"): (16, {"v4": 0, "v6": 0, "bytes": 0}),
    ("struct", "lb_vip_key"): (20, {"addr": 0, "port": 16, "proto": 18, "family": 19}),
    ("struct", "lb_vip"): (8, {"id": 0, "flags": 4}),
    ("struct", "lb_addr_key"): (20, {"addr": 0, "family": 16, "pad": 17}),
    ("struct", "lb_backend"): (8, {"family": 0, "state": 1, "weight": 4}),
    ("struct", "lb_maglev_slot"): (4, {"backend_id": 0}),
    ("struct", "lb_flow_key"): (40, {"src": 0, "dst": 16, "sport": 32, "dport": 34, "proto": 36,
                                     "family": 37}),
    ("struct", "lb_conn"): (16, {"backend_id": 0, "last_seen_ns": 8}),
    ("struct", "lb_config"): (40, {"src_v4": 0, "src_v6": 4, "hash_seed": 20, "gw_mac": 24,
                                   "outer_ttl": 30, "udp_timeout_ns": 32}),
    ("struct", "lb_vip_stats"): (104, {f: 8 * i for i, f in enumerate(VIP_FIELDS + ["drops"])}),
    ("struct", "lb_backend_stats"): (32, {f: 8 * i for i, f in enumerate(BACKEND_FIELDS)}),
    ("struct", "lb_global_stats"): (664, dict({f: 8 * i for i, f in enumerate(GLOBAL_FIELDS)},
                                              drops=96, len_hist=152)),
}
ENUMS = {
    "lb_family": (1, {"LB_FAMILY_NONE": 0, "LB_FAMILY_V4": 4, "LB_FAMILY_V6": 6}),
    "lb_backend_state": (1, {"LB_BACKEND_ABSENT": 0, "LB_BACKEND_ACTIVE": 1,
                             "LB_BACKEND_DRAINING": 2, "LB_BACKEND_REMOVED": 3}),
    "lb_vip_flags": (4, {"LB_VIP_F_NONE": 0, "LB_VIP_F_HASH_NO_SPORT": 1}),
    "lb_drop_reason": (4, dict({"LB_DROP_" + n: i for i, n in enumerate(DROPS)},
                               LB_DROP__MAX=len(DROPS))),
}


def check_btf(obj):
    out = subprocess.run([BPFTOOL, "-j", "btf", "dump", "file", obj], check=True,
                         capture_output=True, text=True).stdout
    types = json.loads(out)["types"]
    seen = set()
    for t in types:
        expect(t["kind"] != "FWD", f"BTF has a FWD ({t.get('name')}): a type is incomplete")
        key = (t["kind"].lower(), t.get("name"))
        if key in LAYOUT:
            size, offs = LAYOUT[key]
            expect(t["size"] == size, f"BTF {key}: size {t['size']} != {size}")
            got = {m["name"]: m["bits_offset"] // 8 for m in t["members"]}
            expect(got == offs, f"BTF {key}: members {got} != {offs}")
            seen.add(key)
        if t["kind"] == "ENUM" and t.get("name") in ENUMS:
            size, vals = ENUMS[t["name"]]
            got = {v["name"]: v["val"] for v in t["values"]}
            expect(t["size"] == size and got == vals, f"BTF enum {t['name']}: {t['size']} {got}")
            seen.add(("enum", t["name"]))
    missing = set(LAYOUT) | {("enum", n) for n in ENUMS}
    expect(seen == missing, f"BTF lacks {missing - seen}")
    ok(f"BTF of the object: no FWD; {len(LAYOUT)} structs/unions and {len(ENUMS)} enums have the "
       "sizes, member offsets and values this test packs (and lb.h documents)")


# ---------------------------------------------------------------- bpftool ---

def hexb(b):
    return "hex " + " ".join(f"{x:02x}" for x in b)


def u32(x):
    return struct.pack("<I", x)


def bpftool(*args, json_out=False):
    cmd = [BPFTOOL] + (["-j"] if json_out else []) + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout) if json_out and r.stdout.strip() else r.stdout


def jbytes(lst):
    return bytes(int(x, 16) for x in lst)


class Instance:
    """One loaded copy of the program, pinned under a private bpffs directory."""

    def __init__(self, name, obj, cfg):
        self.cfg = cfg
        self.dir = os.path.join(BPFFS, f"lb_smoke_{os.getpid()}_{name}")
        os.makedirs(self.dir)
        r = subprocess.run([BPFTOOL, "-d", "prog", "loadall", obj, f"{self.dir}/progs",
                            "pinmaps", f"{self.dir}/maps", "type", "xdp"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stderr[-6000:], file=sys.stderr)
            fail(f"bpftool prog loadall {obj} failed (verifier log above)")
        m = re.search(r"processed (\d+) insns \(limit \d+\).*", r.stderr)
        self.verifier = m.group(0) if m else "(no verifier summary)"
        self.prog = f"{self.dir}/progs/lb_xdp"
        info = bpftool("prog", "show", "pinned", self.prog, json_out=True)
        self.xlated_insns = info["bytes_xlated"] // 8
        self.jited_bytes = info["bytes_jited"]
        self.tmp = tempfile.mkdtemp(prefix="lb_smoke_")
        self.n_tables = 0

    def map(self, name):
        return f"{self.dir}/maps/{name}"

    def batch(self, lines):
        path = os.path.join(self.tmp, "batch.txt")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        bpftool("batch", "file", path)

    def update(self, name, key, value):
        return f"map update pinned {self.map(name)} key {hexb(key)} value {hexb(value)}"

    def new_table(self, fill):
        """A Maglev inner map: ARRAY key 4 value 4, 65537 entries; slot i = fill(i)."""
        self.n_tables += 1
        path = f"{self.dir}/table{self.n_tables}"
        bpftool("map", "create", path, "type", "array", "key", 4, "value", 4,
                "entries", LB_MAGLEV_SIZE, "name", f"lb_smoke_t{self.n_tables}")
        if fill is not None:
            self.batch([f"map update pinned {path} key {hexb(u32(i))} value {hexb(u32(fill(i)))}"
                        for i in range(LB_MAGLEV_SIZE)])
        return path

    def install_table(self, vip_id, path):
        bpftool("map", "update", "pinned", self.map("lb_maglev"), "key", *hexb(u32(vip_id)).split(),
                "value", "pinned", path)

    def run(self, frame):
        fin = os.path.join(self.tmp, "in.bin")
        fout = os.path.join(self.tmp, "out.bin")
        with open(fin, "wb") as f:
            f.write(frame)
        if os.path.exists(fout):
            os.unlink(fout)
        r = bpftool("prog", "run", "pinned", self.prog, "data_in", fin, "data_out", fout,
                    "data_size_out", 4096, "repeat", 1, json_out=True)
        with open(fout, "rb") as f:
            out = f.read()
        return r["retval"], out

    def lookup_missing(self, name, key):
        r = subprocess.run([BPFTOOL, "map", "lookup", "pinned", self.map(name), "key"]
                           + hexb(key).split(), capture_output=True, text=True)
        return r.returncode != 0 and "not found" in (r.stdout + r.stderr).lower()

    def lookup(self, name, key):
        return bpftool("map", "lookup", "pinned", self.map(name), "key", *hexb(key).split(),
                       json_out=True)

    def percpu_sum(self, name, key, n_u64):
        r = self.lookup(name, key)
        tot = [0] * n_u64
        for v in r["values"]:
            words = struct.unpack_from(f"<{n_u64}Q", jbytes(v["value"]))
            tot = [a + b for a, b in zip(tot, words)]
        return tot, len(r["values"])

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------ keys/values ---

def addr16(a):
    return a.packed.ljust(16, b"\0")


def fam(a):
    return FAM_V4 if a.version == 4 else FAM_V6


def vip_key(addr, port, proto):
    return addr16(addr) + struct.pack("!H", port) + bytes([proto, fam(addr)])


def flow_key(src, dst, sport, dport, proto):
    return addr16(src) + addr16(dst) + struct.pack("!HH", sport, dport) + \
        bytes([proto, fam(src)]) + b"\0\0"


# ------------------------------------------------------------------ model ---

class Model:
    """Expected counters, updated by every frame sent."""

    def __init__(self):
        self.g = {f: 0 for f in GLOBAL_FIELDS}
        self.g_drops = [0] * len(DROPS)
        self.hist = [0] * HIST_BUCKETS
        self.vip = {}
        self.backend = {}

    def v(self, vid):
        return self.vip.setdefault(vid, {**{f: 0 for f in VIP_FIELDS}, "drops": [0] * len(DROPS)})

    def b(self, bid):
        return self.backend.setdefault(bid, {f: 0 for f in BACKEND_FIELDS})


# ------------------------------------------------------------------- test ---

class Smoke:
    def __init__(self, inst, vips, backends):
        self.i = inst
        self.m = Model()
        self.vips = vips          # (addr, port, proto) -> (id, flags)
        self.backends = backends  # id -> (family, address, state)
        self.tables = {}          # vip id -> function slot -> backend id

    def predict(self, src, dst, sport, dport, proto):
        vid, flags = self.vips.get((dst, dport, proto)) or self.vips[(dst, 0, proto)]
        h = flow_hash(src, dst, sport, dport, proto, self.i.cfg.seed, bool(flags & F_HASH_NO_SPORT))
        return vid, self.tables[vid](h % LB_MAGLEV_SIZE)

    def send(self, frame, verdict, *, drop=None, vip=None, backend=None, ct=None, non_ip=False,
             what=""):
        """Run one frame; check the verdict and the output; update the model.
        TX: ct is "new", "hit", "stale", "expired" or "icmp" (an ICMP error: no flow
        counter moves)."""
        ret, out = self.i.run(frame)
        expect(ret != XDP_ABORTED, f"{what}: XDP_ABORTED")
        expect(ret == verdict, f"{what}: verdict {VERDICT.get(ret, ret)}, expected "
               f"{VERDICT[verdict]}" + (f" ({DROPS[drop]})" if drop is not None else ""))
        m = self.m
        m.g["rx_packets"] += 1
        m.g["rx_bytes"] += len(frame)
        m.hist[min(len(frame) // HIST_WIDTH, HIST_BUCKETS - 1)] += 1
        if verdict == XDP_PASS:
            expect(out == frame, f"{what}: XDP_PASS changed the frame")
            m.g["pass_non_ip" if non_ip else "pass_non_vip"] += 1
        elif verdict == XDP_DROP:
            m.g_drops[drop] += 1
            if vip is not None:
                m.v(vip)["drops"][drop] += 1
        else:
            fam_, addr, _ = self.backends[backend]
            want = expected_encap(frame, fam_, addr, self.i.cfg)
            if out != want:
                fail(f"{what}: output differs from the model\n got  {out.hex()}\n want {want.hex()}")
            if fam_ == FAM_V4:  # the outer checksum, independently of the model
                expect(csum16(out[14:34]) == 0xFFFF, f"{what}: outer IPv4 checksum invalid")
            m.g["tx_packets"] += 1
            m.g["tx_bytes"] += len(out)
            v, b = m.v(vip), m.b(backend)
            v["packets"] += 1
            v["bytes"] += len(frame)
            b["packets"] += 1
            b["bytes"] += len(frame)
            if ct == "icmp":
                m.g["icmp_too_big"] += 1
            elif ct == "hit":
                for c in (m.g, v, b):
                    c["ct_hits"] += 1
            else:
                if ct in ("stale", "expired"):
                    m.g["ct_" + ct] += 1
                    v["ct_" + ct] += 1
                for c in (m.g, v, b):
                    c["new_flows"] += 1
        return out

    def tx4(self, src, dst, sport, dport, proto=IPPROTO_TCP, ct="new", backend=None, what="", **kw):
        vid, pred = self.predict(ip4(src), ip4(dst), sport, dport, proto)
        frame = tcp4_frame(src, dst, sport, dport, proto=proto, **kw)
        be = pred if backend is None else backend
        self.send(frame, XDP_TX, vip=vid, backend=be, ct=ct, what=what or f"{src}:{sport}->{dst}:{dport}")
        return be

    def tx6(self, src, dst, sport, dport, proto=IPPROTO_TCP, ct="new", backend=None, what="", **kw):
        vid, pred = self.predict(ip6(src), ip6(dst), sport, dport, proto)
        frame = tcp6_frame(src, dst, sport, dport, proto=proto, **kw)
        be = pred if backend is None else backend
        self.send(frame, XDP_TX, vip=vid, backend=be, ct=ct, what=what or f"[{src}]:{sport}->[{dst}]:{dport}")
        return be

    def check_counters(self, label):
        i, m = self.i, self.m
        n = len(GLOBAL_FIELDS) + len(DROPS) + HIST_BUCKETS
        tot, ncpu = i.percpu_sum("lb_global_stats", u32(0), n)
        got = dict(zip(GLOBAL_FIELDS, tot))
        expect(got == m.g, f"{label}: global counters {got} != expected {m.g}")
        expect(tot[len(GLOBAL_FIELDS):len(GLOBAL_FIELDS) + len(DROPS)] == m.g_drops,
               f"{label}: global drops {tot[len(GLOBAL_FIELDS):][:len(DROPS)]} != {m.g_drops}")
        expect(tot[-HIST_BUCKETS:] == m.hist, f"{label}: len_hist differs")
        for vid, want in m.vip.items():
            t, _ = i.percpu_sum("lb_vip_stats", u32(vid), len(VIP_FIELDS) + len(DROPS))
            got = dict(zip(VIP_FIELDS, t), drops=t[len(VIP_FIELDS):])
            expect(got == want, f"{label}: VIP {vid} counters {got} != expected {want}")
        for bid, want in m.backend.items():
            t, _ = i.percpu_sum("lb_backend_stats", u32(bid), len(BACKEND_FIELDS))
            got = dict(zip(BACKEND_FIELDS, t))
            expect(got == want, f"{label}: backend {bid} counters {got} != expected {want}")
        return ncpu


def setup_a(inst):
    """VIPs, backends and tables of instance A."""
    V4, V4B, V4C, V4D = ip4("10.0.0.10"), ip4("10.0.0.11"), ip4("10.0.0.12"), ip4("10.0.0.13")
    V6 = ip6("2001:db8::10")
    vips = {
        (V4, 80, IPPROTO_TCP): (0, 0),
        (V4, 0, IPPROTO_UDP): (1, F_HASH_NO_SPORT),   # wildcard port, hash without sport
        (V6, 443, IPPROTO_TCP): (2, 0),
        (V4B, 80, IPPROTO_TCP): (3, 0),               # no Maglev table
        (V4C, 80, IPPROTO_TCP): (4, 0),               # an all-zero (empty) table
        (V4D, 80, IPPROTO_TCP): (5, 0),               # a table naming a REMOVED backend
        (V6, 0, IPPROTO_UDP): (6, 0),                 # IPv6 wildcard
    }
    # 61 backends: odd ids IPv4, even ids IPv6; 62 is REMOVED.
    backends = {}
    for b in range(1, 62):
        if b % 2:
            backends[b] = (FAM_V4, ip4(f"10.1.0.{b}"), ST_ACTIVE)
        else:
            backends[b] = (FAM_V6, ip6(f"2001:db8:1::{b:x}"), ST_ACTIVE)
    backends[62] = (FAM_V4, ip4("10.1.0.62"), ST_REMOVED)

    lines = []
    addr_count = {}
    for (a, port, proto), (vid, flags) in vips.items():
        lines.append(inst.update("lb_vips", vip_key(a, port, proto), struct.pack("<II", vid, flags)))
        addr_count[a] = addr_count.get(a, 0) + 1
    for a, n in addr_count.items():
        lines.append(inst.update("lb_vip_addrs", addr16(a) + bytes([fam(a), 0, 0, 0]), u32(n)))
    for b, (f, a, st) in backends.items():  # address first, then publish the state
        lines.append(inst.update("lb_backend_addrs", u32(b), addr16(a)))
        lines.append(inst.update("lb_backends", u32(b), struct.pack("<BBxxI", f, st, 1)))
    inst.batch(lines)
    return vips, backends


def backend_state(s, bid, state):
    f, a, _ = s.backends[bid]
    s.backends[bid] = (f, a, state)
    s.i.batch([s.i.update("lb_backends", u32(bid), struct.pack("<BBxxI", f, state, 1))])


def test_a(obj_patched, cfg):
    inst = Instance("a", obj_patched, cfg)
    try:
        print(f"smoke: instance A loaded: verifier: {inst.verifier}", flush=True)
        print(f"smoke: xlated {inst.xlated_insns} insns, jited {inst.jited_bytes} bytes", flush=True)
        ok(f"the verifier accepts lb_xdp ({inst.verifier.split(' (')[0]}; "
           f"{inst.xlated_insns} xlated insns)")

        ro = bpftool("map", "dump", "pinned", inst.map("lb_rodata"), json_out=True)
        expect(jbytes(ro[0]["value"])[:40] == cfg.pack(), "the .rodata map is not the patched CONFIG")
        ok("the kernel's .rodata map holds the patched CONFIG bytes")

        vips, backends = setup_a(inst)
        s = Smoke(inst, vips, backends)
        t0 = inst.new_table(lambda i: 1 + i % 61)
        t_empty = inst.new_table(None)
        t_removed = inst.new_table(lambda i: 62)
        for vid in (0, 1, 2, 6):
            inst.install_table(vid, t0)
            s.tables[vid] = lambda i: 1 + i % 61
        inst.install_table(4, t_empty)
        inst.install_table(5, t_removed)
        ok("maps filled with bpftool: 7 VIPs (incl. port-0 wildcards), 62 backends, Maglev inner "
           "maps (bpftool map create, 65537 slots) inserted into the ARRAY_OF_MAPS")
        V4, V6 = "10.0.0.10", "2001:db8::10"

        # --- non-IP and non-VIP traffic passes untouched
        arp = eth(0x0806, dst=b"\xff" * 6) + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + \
            ROUTER_MAC + ip4("10.0.0.1").packed + bytes(6) + ip4(V4).packed
        s.send(arp, XDP_PASS, non_ip=True, what="ARP request")
        vlan = LB_MAC + ROUTER_MAC + b"\x81\x00\x00\x05" + tcp4_frame("1.2.3.4", V4, 1000, 80)[12:]
        s.send(vlan, XDP_PASS, non_ip=True, what="VLAN-tagged frame")
        s.send(eth(0x88CC)[:14], XDP_PASS, non_ip=True, what="14-byte LLDP frame")
        icmp = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
        s.send(eth(0x0800) + ipv4(ip4("1.2.3.4"), ip4(V4), IPPROTO_ICMP, icmp), XDP_PASS,
               what="ICMP echo to a VIP address")
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 81), XDP_PASS, what="TCP to a VIP address, other port")
        s.send(tcp4_frame("1.2.3.4", "10.0.0.99", 1000, 80), XDP_PASS, what="TCP to a non-VIP address")
        s.send(tcp6_frame("2001:db8::1", "2001:db8::99", 1000, 443), XDP_PASS, what="TCP/IPv6 non-VIP")
        s.send(eth(0x86DD) + ipv6(ip6("2001:db8::1"), ip6(V6), IPPROTO_ICMPV6,
                                  struct.pack("!BBHHH", 128, 0, 0, 1, 1)),
               XDP_PASS, what="ICMPv6 echo to a VIP address")
        s.send(tcp4_frame("1.2.3.4", "10.0.0.99", 1000, 80, options=b"\x01\x01\x01\x00"),
               XDP_PASS, what="IPv4 options to a non-VIP address")
        s.send(tcp4_frame("1.2.3.4", "10.0.0.99", 1000, 80, frag=0x2000), XDP_PASS,
               what="fragment to a non-VIP address")
        s.send(eth(0x0800) + ipv4(ip4("1.2.3.4"), ip4(V4), IPPROTO_ICMP, icmp, frag=0x2000),
               XDP_PASS, what="ICMP fragment to a VIP address")
        ok("XDP_PASS with the frame unchanged: ARP, VLAN-tagged, a 14-byte frame, ICMP echo to a "
           "VIP address, ICMPv6 to a VIP address, TCP to a VIP address on a non-VIP port, TCP/IPv4 "
           "and TCP/IPv6 to non-VIP addresses, IPv4 options / fragment to a non-VIP address, an "
           "ICMP fragment to a VIP address")

        # --- the documented hash vectors, through the kernel: backend = T0[slot] = 1 + slot % 61
        n_vec = 0
        for v in header_vectors():
            key = (v["dst"], v["dport"], v["proto"])
            vid, flags = vips.get(key) or vips.get((v["dst"], 0, v["proto"]), (None, None))
            if v["seed"] != cfg.seed or vid is None or flags != v["flags"]:
                continue
            be = 1 + v["slot"] % 61
            tx = s.tx4 if v["src"].version == 4 else s.tx6
            tx(str(v["src"]), str(v["dst"]), v["sport"], v["dport"], proto=v["proto"],
               backend=be, what=f"lb.h {v['line']}")
            n_vec += 1
        expect(n_vec >= 3, "hash vectors sent")
        ok(f"{n_vec} flow-hash vectors of lb.h through the kernel: each lands on table[slot] of "
           "the documented slot")

        # --- the first flow, byte for byte
        rnd = random.Random(1)
        b1 = s.tx4("192.168.1.3", V4, 40000, 80, what="first TCP/IPv4 flow")
        ok(f"TCP/IPv4 to a VIP -> XDP_TX, frame byte-identical to the model (backend {b1}, "
           f"{'IPIP' if backends[b1][0] == FAM_V4 else 'IPv6 outer, next header 4'})")
        # padded Ethernet frame: the outer length comes from the IP header
        pad = tcp4_frame("192.168.1.2", V4, 40001, 80, payload=b"")
        expect(len(pad) == 54, "padding case")
        vid, pb = s.predict(ip4("192.168.1.2"), ip4(V4), 40001, 80, IPPROTO_TCP)
        s.send(pad + bytes(6), XDP_TX, vip=vid, backend=pb, ct="new", what="60-byte padded frame")
        ok("a 60-byte frame with 6 bytes of Ethernet padding: outer length from the IP header, "
           "padding kept after the inner packet")

        # --- many flows: the datapath's backend is the one the documented hash predicts
        fams = {FAM_V4: 0, FAM_V6: 0}
        tos_vals = [0, 0x10, 0xB8, 0x03]
        for n in range(300):
            src = f"172.16.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            b = s.tx4(src, V4, rnd.randrange(1024, 65536), 80, tos=tos_vals[n % 4],
                      frag=0 if n % 3 == 0 else 0x4000, what=f"TCP/IPv4 flow {n}")
            fams[backends[b][0]] += 1
        expect(fams[FAM_V4] and fams[FAM_V6], "both outer families seen")
        ok(f"300 TCP/IPv4 flows (random clients/ports, TOS values, DF set/clear): every backend "
           f"equals the Python jhash2+Maglev prediction and every frame equals the model "
           f"({fams[FAM_V4]} IPIP, {fams[FAM_V6]} IPv4-in-IPv6); outer IPv4 checksums valid")
        for n in range(60):
            src = f"2001:db8:ff::{rnd.randrange(1, 0xffff):x}"
            s.tx6(src, V6, rnd.randrange(1024, 65536), 443, tc=tos_vals[n % 4],
                  what=f"TCP/IPv6 flow {n}")
        ok("60 TCP/IPv6 flows to an IPv6 VIP: IP6IP6 (and IPv6-in-IPv4 for IPv4 backends), "
           "predicted backends, byte-identical frames")

        # --- UDP wildcard VIP hashing without the source port
        by_port = {}
        for client in ("192.168.7.7", "192.168.7.8"):
            for n in range(20):
                dport = 53 if n % 2 else 5353
                b = s.tx4(client, V4, 1024 + 97 * n, dport, proto=IPPROTO_UDP,
                          what=f"UDP no-sport {client} {n}")
                by_port.setdefault((client, dport), set()).add(b)
        expect(all(len(v) == 1 for v in by_port.values()),
               f"no-sport: one backend per client and port: {by_port}")
        for n in range(20):
            s.tx6(f"2001:db8:ee::{n + 1:x}", V6, 5000 + n, 53, proto=IPPROTO_UDP,
                  what=f"UDP/IPv6 wildcard {n}")
        ok("UDP to a port-0 wildcard VIP with LB_VIP_F_HASH_NO_SPORT: 10 source ports of a "
           f"client -> one backend per (client, destination port) ({by_port}), as predicted with "
           "sport 0; UDP/IPv6 "
           "wildcard VIP: 20 flows as predicted")

        # --- drops
        s.send(tcp4_frame("1.2.3.4", "10.0.0.11", 1000, 80), XDP_DROP, drop=D["NO_BACKEND"], vip=3,
               what="VIP without a Maglev table")
        s.send(tcp4_frame("1.2.3.4", "10.0.0.12", 1000, 80), XDP_DROP, drop=D["NO_BACKEND"], vip=4,
               what="VIP with an empty table")
        s.send(tcp4_frame("1.2.3.4", "10.0.0.13", 1000, 80), XDP_DROP,
               drop=D["BACKEND_INVALID"], vip=5, what="table naming a REMOVED backend")
        ok("VIP with no backends -> XDP_DROP NO_BACKEND (no inner map; all-zero inner map); "
           "a slot naming a REMOVED backend -> BACKEND_INVALID")

        full4 = tcp4_frame("1.2.3.4", V4, 1000, 80, payload=b"")
        for n in range(14, len(full4)):
            s.send(full4[:n], XDP_DROP, drop=D["TRUNCATED"], what=f"IPv4 frame cut at {n}")
        full6 = tcp6_frame("2001:db8::1", V6, 1000, 443, payload=b"")
        for n in range(14, len(full6)):
            s.send(full6[:n], XDP_DROP, drop=D["TRUNCATED"], what=f"IPv6 frame cut at {n}")
        udp4 = tcp4_frame("1.2.3.4", V4, 1000, 53, proto=IPPROTO_UDP, payload=b"")
        for n in range(34, len(udp4)):
            s.send(udp4[:n], XDP_DROP, drop=D["TRUNCATED"], what=f"UDP frame cut at {n}")
        opt4 = tcp4_frame("1.2.3.4", V4, 1000, 80, options=b"\x01\x01\x01\x00" * 2)
        for n in range(34, 42):
            s.send(opt4[:n], XDP_DROP, drop=D["TRUNCATED"], what=f"IPv4 options cut at {n}")
        # the IP length says more than the frame holds (VIP traffic, counted per VIP)
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, tot_len=200), XDP_DROP, drop=D["TRUNCATED"],
               vip=0, what="tot_len > frame")
        s.send(tcp6_frame("2001:db8::1", V6, 1000, 443, plen=500), XDP_DROP, drop=D["TRUNCATED"],
               vip=2, what="payload_len > frame")
        ok(f"truncated frames: every length 14..{len(full4) - 1} (IPv4/TCP), 14..{len(full6) - 1} "
           "(IPv6/TCP), 34..41 (UDP), IPv4 options cut, IP length > frame -> XDP_DROP TRUNCATED")

        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, tot_len=39), XDP_DROP, drop=D["MALFORMED"],
               vip=0, what="tot_len < headers")
        s.send(tcp6_frame("2001:db8::1", V6, 1000, 443, plen=0), XDP_DROP, drop=D["MALFORMED"],
               vip=2, what="IPv6 jumbogram (payload_len 0)")
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, vihl=0x65), XDP_DROP, drop=D["MALFORMED"],
               what="IPv4 ethertype, version 6")
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, vihl=0x44), XDP_DROP, drop=D["MALFORMED"],
               what="ihl 4")
        bad6 = bytearray(tcp6_frame("2001:db8::1", V6, 1000, 443))
        bad6[14] = 0x40
        s.send(bytes(bad6), XDP_DROP, drop=D["MALFORMED"], what="IPv6 ethertype, version 4")
        ok("malformed (tot_len < headers, IPv6 payload_len 0, wrong version, ihl 4) -> "
           "XDP_DROP MALFORMED")

        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, options=b"\x01\x01\x01\x00"), XDP_DROP,
               drop=D["IP_OPTIONS"], what="IPv4 options to a VIP")
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, frag=0x2000), XDP_DROP, drop=D["FRAGMENT"],
               what="first fragment (MF) to a VIP")
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 80, frag=0x0010), XDP_DROP, drop=D["FRAGMENT"],
               what="later fragment to a VIP")
        s.send(tcp4_frame("1.2.3.4", V4, 1000, 53, proto=IPPROTO_UDP, frag=0x0010), XDP_DROP,
               drop=D["FRAGMENT"], what="UDP fragment to a VIP address")
        tcp_seg = l4(IPPROTO_TCP, 1000, 443, b"x")
        frag_hdr = struct.pack("!BBHI", IPPROTO_TCP, 0, 0x0001, 0xABCD)
        s.send(eth(0x86DD) + ipv6(ip6("2001:db8::1"), ip6(V6), 44, frag_hdr + tcp_seg), XDP_DROP,
               drop=D["FRAGMENT"], what="IPv6 fragment header to a VIP")
        hbh = struct.pack("!BB6s", IPPROTO_TCP, 0, b"\x01\x04\0\0\0\0")
        s.send(eth(0x86DD) + ipv6(ip6("2001:db8::1"), ip6(V6), 0, hbh + tcp_seg), XDP_DROP,
               drop=D["IP_OPTIONS"], what="IPv6 hop-by-hop to a VIP")
        s.send(eth(0x86DD) + ipv6(ip6("2001:db8::1"), ip6("2001:db8::99"), 44, frag_hdr + tcp_seg),
               XDP_PASS, what="IPv6 fragment to a non-VIP address")
        icmp6_frag = struct.pack("!BBHI", IPPROTO_ICMPV6, 0, 0x0001, 1) + b"\x80\0\0\0\0\0\0\0"
        s.send(eth(0x86DD) + ipv6(ip6("2001:db8::1"), ip6(V6), 44, icmp6_frag), XDP_PASS,
               what="ICMPv6 fragment to a VIP address")
        ok("VIP traffic with IPv4 options -> IP_OPTIONS; IPv4 fragments (MF, offset; TCP, UDP) -> "
           "FRAGMENT; IPv6 fragment header -> FRAGMENT; IPv6 hop-by-hop -> IP_OPTIONS; "
           "the same to non-VIP addresses, and an ICMPv6 fragment, pass")

        ncpu = s.check_counters("after the first phase")
        ok(f"counters after phase 1: global, per-VIP and per-backend (packets, bytes, new flows, "
           f"drops by reason, len_hist[64]) equal the model, summed over {ncpu} CPUs")

        # --- conntrack: stickiness across a table change, drain, remove
        def pick_client(avoid):
            for n in range(1, 1000):
                src = f"192.168.50.{n % 250 + 1}"
                sport = 30000 + n
                b = s.predict(ip4(src), ip4(V4), sport, 80, IPPROTO_TCP)[1]
                if b not in avoid:
                    return src, sport, b
            fail("no client")

        NEW = 7
        c_src, c_sport, c_b = pick_client({NEW})
        s.tx4(c_src, V4, c_sport, 80, ct="new", what="sticky flow, first packet")
        s.tx4(c_src, V4, c_sport, 80, ct="hit", backend=c_b, what="sticky flow, conntrack hit")
        ck = flow_key(ip4(c_src), ip4(V4), c_sport, 80, IPPROTO_TCP)
        e = inst.lookup("lb_conntrack", ck)
        bid, seen_ns = struct.unpack("<IxxxxQ", jbytes(e["value"]))
        expect(bid == c_b and seen_ns > 0, f"conntrack entry {bid} {seen_ns}")
        ok("lb_conntrack holds the flow under the key user space builds (40 bytes, zero tail "
           "padding): backend id and a last-seen time")

        t_new = inst.new_table(lambda i: NEW)
        inst.install_table(0, t_new)
        s.tables[0] = lambda i: NEW
        s.tx4(c_src, V4, c_sport, 80, ct="hit", backend=c_b, what="after the table swap")
        s.tx4("192.168.60.1", V4, 31000, 80, ct="new", what="new flow after the table swap")
        ok(f"table swapped with one lb_maglev update: the tracked flow stays on backend {c_b} "
           f"(conntrack hit), a new flow goes to backend {NEW}")

        # --- ICMP "too big" quoting a VIP flow goes to that flow's backend
        reply = tcp4_frame(V4, c_src, 80, c_sport)[14:]  # what the backend sent (DSR)
        s.send(icmp4_too_big("203.0.113.1", reply), XDP_TX, vip=0, backend=c_b, ct="icmp",
               what="ICMP frag-needed quoting the tracked flow")
        u_reply = tcp4_frame(V4, "192.168.61.1", 80, 32000)[14:]
        s.send(icmp4_too_big("203.0.113.1", u_reply), XDP_TX, vip=0, backend=NEW, ct="icmp",
               what="ICMP frag-needed quoting an untracked flow")
        expect(inst.lookup_missing("lb_conntrack", flow_key(ip4("192.168.61.1"), ip4(V4), 32000,
                                                           80, IPPROTO_TCP)),
               "an ICMP error created a conntrack entry")
        v6c = "2001:db8:dd::5"
        _, v6b = s.predict(ip6(v6c), ip6(V6), 33000, 443, IPPROTO_TCP)
        s.send(icmp6_too_big("2001:db8:fe::1", tcp6_frame(V6, v6c, 443, 33000)[14:]), XDP_TX,
               vip=2, backend=v6b, ct="icmp", what="ICMPv6 packet-too-big quoting a VIP flow")
        s.send(icmp4_too_big("203.0.113.1", tcp4_frame("10.0.0.99", c_src, 80, c_sport)[14:]),
               XDP_PASS, what="ICMP frag-needed quoting a non-VIP flow")
        unreach = bytearray(icmp4_too_big("203.0.113.1", reply))
        unreach[14 + 20 + 1] = 3  # port unreachable
        s.send(bytes(unreach), XDP_PASS, what="ICMP port unreachable quoting a VIP flow")
        s.send(icmp4_too_big("203.0.113.1", reply[:24]), XDP_PASS,
               what="ICMP frag-needed with a short quote")
        ok(f"stretch: ICMP frag-needed quoting a tracked VIP flow -> XDP_TX to its conntrack "
           f"backend {c_b} (not the new table's); quoting an untracked flow -> the Maglev "
           "backend, no conntrack entry created; ICMPv6 packet-too-big -> the predicted backend; "
           "frames byte-identical (whole ICMP packet encapsulated); non-VIP quote, other ICMP "
           "codes and short quotes pass")

        backend_state(s, c_b, ST_DRAINING)
        s.tx4(c_src, V4, c_sport, 80, ct="hit", backend=c_b, what="draining backend, old flow")
        s.tx4("192.168.60.2", V4, 31001, 80, ct="new", what="draining backend, new flow")
        ok(f"backend {c_b} DRAINING: its tracked flow stays; new flows follow the table")

        time.sleep(1.2)  # longer than the UDP timeout: TCP entries do not expire
        s.tx4(c_src, V4, c_sport, 80, ct="hit", backend=c_b, what="TCP flow idle > udp timeout")
        backend_state(s, c_b, ST_REMOVED)
        s.tx4(c_src, V4, c_sport, 80, ct="stale", backend=NEW, what="removed backend, re-hash")
        s.tx4(c_src, V4, c_sport, 80, ct="hit", backend=NEW, what="after the re-hash")
        ok(f"backend {c_b} REMOVED: its flow is re-hashed onto backend {NEW} (ct_stale counted), "
           "then sticks; a TCP entry idle longer than the UDP timeout is still a hit")
        backend_state(s, c_b, ST_ACTIVE)

        # --- UDP timeout (CONFIG.udp_timeout_ns = 1 s in instance A)
        u_sport = 4000
        u_src = next(f"192.168.70.{n}" for n in range(1, 250)
                     if s.predict(ip4(f"192.168.70.{n}"), ip4(V4), u_sport, 53, IPPROTO_UDP)[1] != NEW)
        u_b = s.tx4(u_src, V4, u_sport, 53, proto=IPPROTO_UDP, ct="new", what="UDP flow")
        inst.install_table(1, t_new)
        s.tables[1] = lambda i: NEW
        s.tx4(u_src, V4, u_sport, 53, proto=IPPROTO_UDP, ct="hit", backend=u_b,
              what="UDP flow within the timeout")
        time.sleep(1.2)
        s.tx4(u_src, V4, u_sport, 53, proto=IPPROTO_UDP, ct="expired", backend=NEW,
              what="UDP flow after the timeout")
        ok(f"UDP entry idle > CONFIG.udp_timeout_ns (1 s) -> re-hashed onto the new table "
           f"(backend {u_b} -> {NEW}), ct_expired counted; within the timeout it was a hit")

        s.check_counters("after the conntrack phase")
        ok("counters after the conntrack phase equal the model (ct_hits, ct_stale, ct_expired, "
           "new_flows per VIP / backend / global)")

        # --- fuzz: never aborted, PASS never changes the frame
        g0, _ = inst.percpu_sum("lb_global_stats", u32(0), len(GLOBAL_FIELDS) + len(DROPS))
        seeds = [full4, full6, udp4, opt4, tcp4_frame("1.2.3.4", V4, 9, 80, frag=0x2000),
                 tcp6_frame("2001:db8::1", V6, 9, 53, proto=IPPROTO_UDP), arp,
                 icmp4_too_big("203.0.113.1", reply),
                 icmp6_too_big("2001:db8:fe::1", tcp6_frame(V6, v6c, 443, 33000)[14:])]
        verdicts = {}
        frng = random.Random(99)
        for n in range(400):
            base = bytearray(frng.choice(seeds))
            if n % 4 == 0:
                base = bytearray(frng.getrandbits(8) for _ in range(frng.randrange(14, 120)))
                base[12:14] = frng.choice([b"\x08\x00", b"\x86\xdd"])
            else:
                for _ in range(frng.randrange(1, 4)):
                    base[frng.randrange(12, len(base))] = frng.getrandbits(8)
                if n % 3 == 0:
                    base = base[:frng.randrange(14, len(base) + 1)]
            frame = bytes(base)
            ret, out = inst.run(frame)
            expect(ret in (XDP_DROP, XDP_PASS, XDP_TX), f"fuzz {n}: verdict {ret} for {frame.hex()}")
            if ret == XDP_PASS:
                expect(out == frame, f"fuzz {n}: PASS changed the frame {frame.hex()}")
            verdicts[VERDICT[ret]] = verdicts.get(VERDICT[ret], 0) + 1
        g1, _ = inst.percpu_sum("lb_global_stats", u32(0), len(GLOBAL_FIELDS) + len(DROPS))
        g = dict(zip(GLOBAL_FIELDS, g1))
        drops = sum(g1[len(GLOBAL_FIELDS):])
        expect(g["rx_packets"] == g["pass_non_ip"] + g["pass_non_vip"] + g["tx_packets"] + drops,
               f"rx != pass + tx + drops: {g} drops {drops}")
        expect(g["rx_packets"] - g0[0] == 400, "fuzz rx count")
        expect(g["ct_update_failed"] == 0, "ct_update_failed")
        ok(f"400 fuzzed frames (mutated and random, IPv4/IPv6 ethertypes): never XDP_ABORTED "
           f"({verdicts}); XDP_PASS never changed a frame; rx_packets == pass_non_ip + "
           f"pass_non_vip + tx_packets + sum(drops) over the whole run")
    finally:
        inst.close()


def test_b(obj):
    """The committed object with its default CONFIG."""
    cfg = Cfg("0.0.0.0", "::", 0, bytes(6), 64, 30 * 10**9)
    inst = Instance("b", obj, cfg)
    try:
        ro = bpftool("map", "dump", "pinned", inst.map("lb_rodata"), json_out=True)
        expect(jbytes(ro[0]["value"])[:40] == cfg.pack(), "default CONFIG")
        V4 = ip4("10.0.0.10")
        inst.batch([
            inst.update("lb_vips", vip_key(V4, 80, IPPROTO_TCP), struct.pack("<II", 0, 0)),
            inst.update("lb_vip_addrs", addr16(V4) + bytes([4, 0, 0, 0]), u32(1)),
            inst.update("lb_backend_addrs", u32(1), addr16(ip4("10.1.0.1"))),
            inst.update("lb_backends", u32(1), struct.pack("<BBxxI", FAM_V4, ST_ACTIVE, 1)),
        ])
        inst.install_table(0, inst.new_table(lambda i: 1))
        s = Smoke(inst, {(V4, 80, IPPROTO_TCP): (0, 0)}, {1: (FAM_V4, ip4("10.1.0.1"), ST_ACTIVE)})
        s.tables[0] = lambda i: 1
        out = s.send(tcp4_frame("192.168.1.1", "10.0.0.10", 40000, 80, tos=0x28), XDP_TX, vip=0,
                     backend=1, ct="new", what="defaults")
        expect(out[0:6] == ROUTER_MAC and out[6:12] == LB_MAC and out[22] == 64, "defaults")
        s.check_counters("instance B")
        ok("committed object, default CONFIG (.rodata: TTL 64, UDP timeout 30 s, gw_mac zero, "
           "sources 0): TX to the sender's MAC from ours, TTL 64, byte-identical to the model")
    finally:
        inst.close()


def main():
    if not os.path.exists(OBJ):
        fail(f"{OBJ} not found (run build.sh)")
    check_hash_reference()
    check_btf(OBJ)
    cfg = Cfg("192.0.2.1", "2001:db8:ffff::1", 0x5EED1234, GW_MAC, 17, 10**9)
    with tempfile.TemporaryDirectory() as d:
        patched = os.path.join(d, "lb.bpf.o")  # same name: same internal map names
        shutil.copyfile(OBJ, patched)
        off, size = elf_symbol_in_section(patched, "CONFIG", ".rodata")
        expect(size == 40, f"CONFIG symbol size {size}")
        with open(patched, "r+b") as f:
            f.seek(off)
            f.write(cfg.pack())
        ok("CONFIG set before load by patching the .rodata bytes of a copy of the object "
           "(symbol CONFIG, 40 bytes): sources 192.0.2.1 / 2001:db8:ffff::1, seed 0x5eed1234, "
           "gw_mac 02:00:00:00:cc:03, TTL 17, UDP timeout 1 s")
        test_a(patched, cfg)
    test_b(OBJ)
    print()
    for c in CHECKS:
        print(f"  ok  {c}")
    print(f"\nsmoke: PASS ({len(CHECKS)} checks)")


if __name__ == "__main__":
    main()
