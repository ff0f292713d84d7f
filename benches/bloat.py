#!/usr/bin/env python3
"""Where the bytes of an (unstripped) binary go, by crate.

    benches/bloat.py BINARY [--top N]

Reads `nm -S -C` (GNU binutils; multiarch for foreign targets) and sums
symbol sizes by crate: the first path segment of a demangled Rust name (for
`<T as Trait>::f`, the crate of T), `ring` for ring's C/asm symbols, and
`C (musl, compiler-rt)` for the remaining C symbols. Also prints the
section sizes (`size -A`) and the N largest symbols.
"""
import collections
import re
import subprocess
import sys


def crate_of(name):
    if name.startswith("ring_core_") or name.startswith("ecp_nistz256") or "ring_core_" in name:
        return "ring"
    n = name
    while n.startswith("<"):
        n = n[1:]
    n = n.lstrip("&*").replace("mut ", "").replace("dyn ", "").replace("const ", "")
    if "::" not in n:
        return "C (musl libc, ring C, compiler-rt)"
    first = n.split("::", 1)[0].strip()
    first = re.sub(r"[^A-Za-z0-9_].*", "", first)
    if not first:
        return "std (core)"
    if first in ("str", "char", "bool", "u8", "u16", "u32", "u64", "u128", "usize",
                 "i8", "i16", "i32", "i64", "i128", "isize", "f32", "f64", "", "["):
        return "std (core)"
    if first in ("core", "alloc", "std", "std_detect", "compiler_builtins", "panic_abort", "rustc_demangle", "addr2line", "gimli", "object", "miniz_oxide", "adler2", "hashbrown"):
        return "std (" + first + ")" if first != "std" else "std"
    return first


def main():
    path = sys.argv[1]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 15
    out = subprocess.run(["nm", "-S", "--size-sort", "-C", path], check=True,
                         capture_output=True, text=True).stdout
    by_crate = collections.Counter()
    by_kind = collections.Counter()
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        size = int(parts[1], 16)
        kind = parts[2].lower()
        name = parts[3]
        area = "code" if kind in ("t", "w") else "data"
        by_crate[(crate_of(name), area)] += size
        by_kind[area] += size
        syms.append((size, name))
    crates = collections.defaultdict(lambda: [0, 0])
    for (c, area), s in by_crate.items():
        crates[c][0 if area == "code" else 1] += s
    print("| crate | code (B) | data (B) |")
    print("|---|---:|---:|")
    for c, (code, data) in sorted(crates.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        print(f"| {c} | {code:,} | {data:,} |")
    print(f"| **symbols total** | {by_kind['code']:,} | {by_kind['data']:,} |")
    print()
    print(subprocess.run(["size", "-A", path], capture_output=True, text=True).stdout)
    print(f"largest {top} symbols:")
    for size, name in sorted(syms, reverse=True)[:top]:
        print(f"{size:>9,}  {name[:150]}")


if __name__ == "__main__":
    main()
