"""Ahead-of-time libraries: the objects a C program links to call a compiled program, for any target.

In: a `Target`, an LLVM opt level and the `trk_*` kernels the program's object calls (the program's own
object comes from `jit.emit_object`). Out:

- `library_objects(target, opt_level, kernels)` -> `[(member name, ELF object bytes)]`: the runtime in its
  ahead-of-time flavour (`runtime.library.runtime_modules(aot=True)`: no Python callbacks, kernels named
  directly), the kernels built for `target` (`build_library_module(target, [family])`, never the build
  machine's CPU; only the families called, see `_kernel_families`) and the compiler-support functions
  LLVM may call (`codegen/builtins.py`). Cached on disk (`<cache dir>/aot/`, keyed by IR, versions,
  target and opt level): building them costs 10-25 s of LLVM, and they are the same for most programs.
- `unresolved(members)`: our symbols the set of objects still lacks (must be empty: nothing resolves by
  luck, a missing one is an internal error at build time rather than a link error for the user).
- `write_archive(path, members)`: a static library in the System V / GNU `ar` format with the symbol
  index linkers need (written here, so no `ar` for the target is required).
- `find_c_compiler(target, host_triple)`: the C compiler that links a shared library for `target`
  (`$CC`, else `cc` for this machine's architecture, else `<triple prefix>-gcc`, e.g.
  `aarch64-linux-gnu-gcc`), or None.
- `link_shared(cc, out, objects)`: `cc -shared` over the objects (+ `-lm -lpthread`); None on success,
  else the linker's message.
"""

from __future__ import annotations

import os
import shlex
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from . import jit
from .elf_symbols import defined_symbols, undefined_symbols
from .target import Target

# Libraries the objects need at link time: libm (expf, logf, ...) and libpthread (the kernels' thread pool).
LINK_LIBRARIES = ("-lm", "-lpthread")


def _cached_object(ir_text: str, target: Target, opt_level: int, cache: jit.ObjectCache,
                   unroll: bool | None = None) -> bytes:
    # "aot" in the key: these objects are position-independent, unlike the JIT's objects of the same IR.
    key = jit.cache_key(ir_text + "\0aot-pic", opt_level, target, unroll)
    data = cache.load(key)
    if data is None:
        data = jit.emit_object(ir_text, target=target, opt_level=opt_level, unroll=unroll)
        cache.store(key, data)
    return data


def _builtins_ir(target: Target) -> str:
    from .codegen.builtins import builtins_module

    # Hidden: a shared library must not export (and so interpose) libgcc's names to other libraries.
    return str(builtins_module(target.triple)).replace("\ndefine ", "\ndefine hidden ")


def _kernel_families(target: Target, needed: set[str]) -> list[tuple[str, str]]:
    """(family, IR text) of the kernel families (kernel files) `needed` and what they call need.

    Why not the whole library: it holds every kernel variant, and the table-lookup ones compile slowly
    for targets without AVX-512 (they emulate `vpermi2ps` lane by lane: ~2 min of LLVM for aarch64 at
    -O2) though only AVX-512 targets select them. A family is kept when it defines a needed symbol; the
    `trk_*` functions its IR declares are needed in turn (conv2d calls the matmul).
    """
    from .runtime.kernel_library import KERNEL_BUILDERS, build_library_module, family_name

    modules = {family_name(b): build_library_module(target, [b]) for b in KERNEL_BUILDERS}
    defines = {f.name: family for family, m in modules.items() for f in m.functions
               if f.name.startswith("trk_") and not f.is_declaration
               and f.linkage not in ("internal", "private")}
    kept: list[str] = []
    todo = sorted(needed)
    while todo:
        family = defines.get(todo.pop())
        if family is None or family in kept:
            continue  # an unknown name is reported by `unresolved` with the rest of the set
        kept.append(family)
        todo += [f.name for f in modules[family].functions if f.is_declaration and f.name.startswith("trk_")]
    return [(family, str(modules[family])) for family in modules if family in kept]


def library_objects(target: Target, opt_level: int = 2,
                    kernels: Iterable[str] = ()) -> list[tuple[str, bytes]]:
    """The runtime, kernel and support objects for `target` (see the module docstring), one member per
    runtime unit and kernel family.

    `kernels`: the `trk_*` kernels the program calls (its object's undefined `trk_` symbols); the ones
    the runtime's objects call and the thread pool are always kept.
    """
    from .runtime.kernel_library import FAMILY_OPTIONS
    from .runtime.library import runtime_modules

    cache = jit.ObjectCache(os.path.join(jit.cache_dir(), "aot"))
    members = [(f"{unit}.o", _cached_object(text, target, opt_level, cache))
               for unit, text in runtime_modules(aot=True)]
    needed = {*kernels, "trk_parallel_for"}
    needed |= {sym for _, data in members for sym in undefined_symbols(data) if sym.startswith("trk_")}
    for family, text in _kernel_families(target, needed):
        unroll = FAMILY_OPTIONS.get(family, {}).get("unroll")
        members.append((f"trk_{family}.o", _cached_object(text, target, opt_level, cache, unroll)))
    members.append(("trt_builtins.o", _cached_object(_builtins_ir(target), target, opt_level, cache)))
    return members


# Symbols only our objects can define: one of them undefined in the final set is a bug of ours (the C
# library, libm and libpthread provide everything else).
_OWN_PREFIXES = ("trt_", "trk_", "tdsl", "__truncdfhf2", "__truncsfhf2", "__extendhfsf2", "__extendhfdf2")


def unresolved(members: list[tuple[str, bytes]]) -> list[str]:
    """Our own symbols that some member needs and no member defines (an empty list when complete)."""
    defined = {sym for _, data in members for sym in defined_symbols(data)}
    needed = {sym for _, data in members for sym in undefined_symbols(data)}
    return sorted(sym for sym in needed - defined if sym.startswith(_OWN_PREFIXES))


# ------------------------------------------------------------------------------------------- archives

def write_archive(path: Path, members: list[tuple[str, bytes]]) -> None:
    """Write a GNU-format `ar` archive of ELF objects with a symbol index (`/` member), atomically.

    The index lists every defined non-local symbol with the offset of the member that defines it, as
    `ar rcs` would; names longer than 15 characters go to the `//` table (GNU extended names).
    """
    long_names = b""
    headers = []
    for name, _ in members:
        if "/" in name:
            raise ValueError(f"archive member name {name!r} must not contain '/'")
        if len(name) <= 15:
            headers.append(name + "/")
        else:
            headers.append(f"/{len(long_names)}")
            long_names += name.encode() + b"/\n"
    symbols = [(sym, i) for i, (_, data) in enumerate(members) for sym in defined_symbols(data)]
    names = b"".join(sym.encode() + b"\0" for sym, _ in symbols)
    index_size = 4 + 4 * len(symbols) + len(names)
    # Offsets of the members: after the magic, the index and the long-name table (each even-padded).
    offset = 8 + 60 + index_size + (index_size & 1)
    if long_names:
        offset += 60 + len(long_names) + (len(long_names) & 1)
    offsets = []
    for _, data in members:
        offsets.append(offset)
        offset += 60 + len(data) + (len(data) & 1)
    index = struct.pack(">I", len(symbols)) + b"".join(struct.pack(">I", offsets[i]) for _, i in symbols)
    parts = [b"!<arch>\n", _member_header("/", index_size), index + names, b"\n" * (index_size & 1)]
    if long_names:
        parts += [_member_header("//", len(long_names)), long_names, b"\n" * (len(long_names) & 1)]
    for header, (_, data) in zip(headers, members, strict=True):
        parts += [_member_header(header, len(data)), data, b"\n" * (len(data) & 1)]
    fd, tmp = tempfile.mkstemp(dir=str(Path(path).parent), prefix=".tmp-", suffix=".a")
    with os.fdopen(fd, "wb") as f:
        f.write(b"".join(parts))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; an archive is an ordinary output
    os.replace(tmp, path)


def _member_header(name: str, size: int) -> bytes:
    # name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n": zero times and ids (deterministic output)
    header = f"{name:<16}{0:<12}{0:<6}{0:<6}{644:<8}{size:<10}`\n".encode()
    assert len(header) == 60
    return header


# ------------------------------------------------------------------------------------------ linking

def gnu_prefix(triple: str) -> str:
    """The GNU tool prefix of a triple: `aarch64-unknown-linux-gnu` -> `aarch64-linux-gnu`."""
    parts = triple.split("-")
    if len(parts) == 4 and parts[1] in ("unknown", "pc", "none"):
        parts = [parts[0], *parts[2:]]
    return "-".join(parts)


def same_architecture(a: str, b: str) -> bool:
    """Whether two triples name the same architecture and OS (the host's `cc` can link for both)."""
    def norm(triple: str) -> str:
        arch, *rest = gnu_prefix(triple).split("-")
        return "-".join([{"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch), *rest])
    return norm(a) == norm(b)


def compiler_candidates(target: Target, host_triple: str) -> list[str]:
    """C compilers that may link for `target`, in the order they are tried (without `$CC`)."""
    native = ["cc", "gcc"] if same_architecture(target.triple, host_triple) else []
    return [*native, f"{gnu_prefix(target.triple)}-gcc"]


def find_c_compiler(target: Target, host_triple: str) -> list[str] | None:
    """The command (argv prefix) of a C compiler linking for `target`: `$CC` when set (it may carry
    options, e.g. `clang --target=aarch64-linux-gnu`), else the first of `compiler_candidates` found;
    None when there is none."""
    explicit = os.environ.get("CC", "").strip()
    if explicit:
        argv = shlex.split(explicit)
        return argv if shutil.which(argv[0]) else None
    for name in compiler_candidates(target, host_triple):
        if shutil.which(name):
            return [name]
    return None


def link_shared(cc: list[str], out: Path, objects: list[Path]) -> str | None:
    """Link a shared library; None on success, else the linker's output."""
    command = [*cc, "-shared", "-o", str(out), *map(str, objects), *LINK_LIBRARIES]
    try:
        link = subprocess.run(command, capture_output=True, text=True)
    except OSError as exc:
        return f"{shlex.join(command)}: {exc}"
    return None if link.returncode == 0 else f"{shlex.join(command)}\n{link.stderr}"
