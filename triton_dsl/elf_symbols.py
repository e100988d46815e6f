"""The undefined and defined symbols of an ELF object file.

In: the bytes of a relocatable ELF object (32/64-bit, little or big endian). Out: `undefined_symbols(data)`
-> the sorted names of global and weak symbols the object references but does not define (what a loader
must resolve before the code may run); `defined_symbols(data)` -> those it defines (the index of a static
archive, `aot.write_archive`).
Any other format (Mach-O, COFF) raises ValueError: the JIT checks every object it loads (see `jit.py`),
and an object it cannot read is an object it cannot vouch for.
"""

from __future__ import annotations

import struct

_SHT_SYMTAB = 2
_SHN_UNDEF = 0
_STB_LOCAL = 0


def undefined_symbols(data: bytes) -> list[str]:
    """Names of the non-local symbols of `data` whose section index is SHN_UNDEF."""
    return sorted(name for name, defined in _global_symbols(data) if not defined)


def defined_symbols(data: bytes) -> list[str]:
    """Names of the non-local symbols `data` defines (any section other than SHN_UNDEF)."""
    return sorted(name for name, defined in _global_symbols(data) if defined)


def _global_symbols(data: bytes) -> set[tuple[str, bool]]:
    """(name, defined) of every named non-local symbol."""
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF object")
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)

    def section(i: int) -> tuple[int, int, int, int, int]:
        """(type, offset, size, link, entsize) of section i."""
        base = shoff + i * shentsize
        if is64:
            _name, sh_type, _flags, _addr, off, size, link, _info, _align, entsize = struct.unpack_from(
                end + "IIQQQQIIQQ", data, base)
        else:
            _name, sh_type, _flags, _addr, off, size, link, _info, _align, entsize = struct.unpack_from(
                end + "IIIIIIIIII", data, base)
        return sh_type, off, size, link, entsize

    names: set[tuple[str, bool]] = set()
    for i in range(shnum):
        sh_type, off, size, link, entsize = section(i)
        if sh_type != _SHT_SYMTAB or not entsize:
            continue
        _t, str_off, str_size, _l, _e = section(link)
        strtab = data[str_off:str_off + str_size]
        for k in range(1, size // entsize):  # entry 0 is the null symbol
            base = off + k * entsize
            if is64:
                st_name, st_info, _other, st_shndx = struct.unpack_from(end + "IBBH", data, base)
            else:
                st_name, _value, _size, st_info, _other, st_shndx = struct.unpack_from(end + "IIIBBH", data,
                                                                                      base)
            if (st_info >> 4) == _STB_LOCAL or not st_name:
                continue
            names.add((strtab[st_name:strtab.index(b"\0", st_name)].decode(), st_shndx != _SHN_UNDEF))
    return names
