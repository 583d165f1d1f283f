#!/usr/bin/env python3
"""What idle shims wrote of their executable's .data and .bss, as a symbol
ordering file for lld (Scripts/gen-data-order runs it; Scripts/build-static
links with its output).

    data-order.py BINARY LINKER_MAP PID... > LIST

prints "SIZE NAME" lines; Scripts/gen-data-order merges the lists of
several binaries, sorts them and writes the ordering file.

For every PID (a shim running BINARY, idle):
  - every symbol whose bytes differ from the file's (.data) or from zero
    (.bss): /proc/PID/mem;
  - on a page that is private and dirty (/proc/PID/pagemap,
    /proc/kpagecount) but holds none of those, every symbol that may have
    been written with zeros (a Bool set to false, a lock taken and
    released), which shows no difference: C and C++ variables and Swift
    global variables. The Swift runtime's caches, once-tokens and metadata
    are only ever written with pointers and flags, never with zeros, so
    they are left where they are.

SIZE is that of the input section each symbol is in (LINKER_MAP, lld's
-Map with --no-demangle), the ordering file's sort key: the variables of the shim's own modules, one per
section under LTO, come first and end up side by side; the whole .bss or
.data of an archive member (the Swift runtime's, glibc's), which a written
symbol drags along, comes after them in one block.
"""
import bisect
import re
import struct
import subprocess
import sys

PAGE = 4096


def sections(binary):
    """{name: (address, file offset, size)} of .data and .bss."""
    found = {}
    out = subprocess.run(['readelf', '-S', '-W', binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        m = re.match(r'\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)', line)
        if m and m.group(1) in ('.data', '.bss'):
            found[m.group(1)] = tuple(int(m.group(i), 16) for i in (2, 3, 4))
    return found


def symbols(binary):
    """Sorted (address, size, name) of the data symbols."""
    found = []
    out = subprocess.run(['nm', '-n', '-S', binary], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in 'dDbBsS':
            found.append((int(fields[0], 16), int(fields[1], 16), fields[3]))
    found.sort()
    return found


def input_section_sizes(linker_map):
    """{symbol: size of the input section holding it}, from lld's map:
    input sections at 8 spaces of indentation after the four numbers,
    their symbols at 16."""
    sizes, current = {}, 0
    for line in open(linker_map, errors='replace'):
        m = re.match(r'\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+( +)(\S.*)$', line)
        if not m:
            continue
        indent = len(m.group(2))
        if indent <= 2:      # an output section
            current = 0
        elif indent <= 10:   # an input section
            current = int(m.group(1), 16)
        else:                # a symbol
            sizes.setdefault(m.group(3).strip(), current)
    return sizes


def dirty_pages(pid, lo, hi):
    """Pages in [lo, hi) that are present, anonymous and mapped once."""
    pages = []
    with open(f'/proc/{pid}/pagemap', 'rb') as pagemap, open('/proc/kpagecount', 'rb') as counts:
        for page in range(lo & ~(PAGE - 1), hi, PAGE):
            pagemap.seek(page // PAGE * 8)
            entry = struct.unpack('Q', pagemap.read(8))[0]
            if not entry >> 63 & 1 or entry >> 61 & 1:
                continue
            counts.seek((entry & ((1 << 55) - 1)) * 8)
            if struct.unpack('Q', counts.read(8))[0] == 1:
                pages.append(page)
    return pages


SWIFT_GLOBAL_VARIABLE = re.compile(r'vpZ?(\.\d+)?$')


def may_be_written_with_zeros(name):
    return not name.startswith('$s') or SWIFT_GLOBAL_VARIABLE.search(name) is not None


def end(symbol):
    """The address after `symbol` (a zero-size symbol covers one byte)."""
    return symbol[0] + max(symbol[1], 1)


def written(pid, binary, secs, syms):
    starts = [s[0] for s in syms]

    def on(address):
        i = bisect.bisect_right(starts, address) - 1
        if i >= 0 and end(syms[i]) > address:
            return syms[i]
        return None

    names = set()
    with open(f'/proc/{pid}/mem', 'rb') as mem, open(binary, 'rb') as image:
        for name, (address, offset, size) in secs.items():
            mem.seek(address)
            live = mem.read(size)
            if name == '.data':
                image.seek(offset)
                original = image.read(size)
            else:
                original = bytes(size)
            pages_with_writes = set()
            i = 0
            while i < size:
                if live[i] == original[i]:
                    i += 1
                    continue
                symbol = on(address + i)
                pages_with_writes.add((address + i) & ~(PAGE - 1))
                if symbol is None:
                    i += 1
                    continue
                names.add(symbol[2])
                i = end(symbol) - address
            for page in dirty_pages(pid, address, address + size):
                if page in pages_with_writes:
                    continue
                j = max(bisect.bisect_right(starts, page) - 1, 0)
                while j < len(syms) and syms[j][0] < page + PAGE:
                    if end(syms[j]) > page and may_be_written_with_zeros(syms[j][2]):
                        names.add(syms[j][2])
                    j += 1
    return names


def main():
    binary, linker_map, pids = sys.argv[1], sys.argv[2], sys.argv[3:]
    secs, syms = sections(binary), symbols(binary)
    names = set()
    for pid in pids:
        names |= written(pid, binary, secs, syms)
    sizes = input_section_sizes(linker_map)
    for name in sorted(names):
        print(sizes.get(name, 0), name)


if __name__ == '__main__':
    main()
