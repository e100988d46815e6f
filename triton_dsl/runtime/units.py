"""Libraries compiled one part at a time, when a part is first needed: the runtime and the kernels.

In: a list of `Unit`s — a name, a function building the unit's LLVM IR, an opt level, the names it
defines when they are known without building it — the `Target` and where to cache. Out: a
`LazyLibrary` that compiles a unit (or loads it from the disk cache) the first time one of its symbols
is asked for: through `address(name)`, or through `jit`'s symbol provider hook, which every JIT module
(a program, another unit) consults for the undefined symbols of its object before it is loaded. So a
program compiles the units its machine code references, and those the units reference, nothing else.

Call-time binding: a unit marked `lazy_call` is not compiled when another object merely references
its functions. Each such function gets a *stub* instead (like a PLT entry): a small native function
with the same signature that, on its first call, asks Python for the real address (compiling the unit
then), stores it in its slot and tail-calls it; later calls cost one load and an indirect jump. So a
program's reference to a kernel behind a branch it never takes, or a reduction driver's table of
cores for nine dtypes, compiles nothing until the code actually runs. Stubs are made from the
functions' signatures, known without compiling (the index, the runtime's manifest, or the IR).

Disk cache, two levels: the objects are keyed by their IR (`jit.cache_key`), as every JIT object; an
*index* entry per unit, keyed by what the IR is a function of — the compiler's files
(`resources.compiler_fingerprint`), versions, the target and its kernel variants, the unit and its
options — names the object and lists the unit's symbols and their signatures. A warm process reads the
index and loads the object without building or hashing any IR; after an edit of the compiler the IR is
built again (cheap) and an unchanged IR still finds its object.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llvmlite import ir

from .. import jit
from ..target import Target

_INDEX_VERSION = "units-1"


@dataclass(frozen=True)
class Unit:
    """One JIT module of a library. `symbols`: the names it defines, when known without building it
    (None: the library builds the unit's IR up front to learn them). `indexed`: whether the index may
    describe it (False when its IR depends on code outside the compiler's fingerprint)."""

    name: str
    build: Callable[[], ir.Module] = field(compare=False)
    opt_level: int = 2
    unroll: bool | None = None
    symbols: tuple[str, ...] | None = None
    indexed: bool = True
    lazy_call: bool = False  # referenced from another object: a stub, compiled at the first call
    signatures: dict[str, tuple[str, list[str]]] | None = field(default=None, compare=False)


@dataclass
class LoadedUnit:
    unit: Unit
    module: jit.JitModule
    signatures: dict[str, tuple[str, list[str]]]  # exported name -> (return type, argument types) as text
    from_index: bool = False  # loaded through the index: no IR was built
    build_seconds: float = 0.0  # CPU seconds building the IR and its text (Python)

    def address(self, name: str) -> int:
        return self.module.address(name)


def exported_signatures(module: ir.Module) -> dict[str, tuple[str, list[str]]]:
    """Defined functions visible outside the module (not internal/private): name -> type texts."""
    return {f.name: (str(f.function_type.return_type), [str(a) for a in f.function_type.args])
            for f in module.functions
            if not f.is_declaration and f.linkage not in ("internal", "private")}


class LazyLibrary:
    """Units compiled on first use (see the module docstring); `publish` makes each loaded unit's
    symbols visible to every JIT module (`jit.add_symbol`) and registers the symbol provider."""

    def __init__(self, name: str, target: Target, units: Iterable[Unit], *, publish: bool, cache: bool,
                 on_load: Callable[[LoadedUnit], None] | None = None, prefix: str | None = None):
        self.name = name
        self.prefix = prefix  # names with it that no unit claims: look in the units' IR (a stale table)
        self._learned = False
        self.target = target
        self.units = {u.name: u for u in units}
        self.publish = publish
        self.on_load = on_load
        self._cache = jit.ObjectCache(os.path.join(jit.cache_dir(), name)) if cache else None
        self._lock = threading.RLock()
        self._depth = 0
        self.seconds = 0.0  # wall time spent compiling or loading units (nested loads counted once)
        self._loaded: dict[str, LoadedUnit] = {}
        self._prebuilt: dict[str, ir.Module] = {}
        self.owner: dict[str, str] = {}  # symbol -> unit name
        self._sigs: dict[str, tuple[str, list[str]]] = {}  # known without compiling (stubs need them)
        self._stubbed: dict[str, int] = {}  # symbol -> stub id
        self._stub_slots: list[tuple[str, int]] = []  # id -> (symbol, slot address)
        self._stub_modules: list[jit.JitModule] = []
        self._resolver = None
        for unit in self.units.values():
            symbols = unit.symbols
            if symbols is None:
                module = self._prebuilt[unit.name] = unit.build()
                symbols = tuple(exported_signatures(module))
            for sym in symbols:
                self.owner.setdefault(sym, unit.name)
            self._sigs.update(unit.signatures or {})
        if publish:
            jit.add_symbol_provider(self.provide)

    # -- lookups ----------------------------------------------------------------------------------------
    def __contains__(self, symbol: str) -> bool:
        return symbol in self.owner

    def loaded(self) -> list[str]:
        """Names of the units compiled or loaded so far, in order."""
        with self._lock:
            return list(self._loaded)

    def loaded_units(self) -> list[LoadedUnit]:
        with self._lock:
            return list(self._loaded.values())

    def address(self, symbol: str) -> int:
        return self.ensure(self._owner_of(symbol)).address(symbol)

    def signature(self, symbol: str) -> tuple[str, list[str]]:
        return self.ensure(self._owner_of(symbol)).signatures[symbol]

    def _owner_of(self, symbol: str) -> str:
        unit = self.owner.get(symbol) or self._learn(symbol)
        if unit is None:
            raise KeyError(f"no function {symbol!r} in the {self.name} library")
        return unit

    def _learn(self, symbol: str) -> str | None:
        """The unit defining `symbol` by its IR, when the names given for the units missed it (once per
        library: builds the IR of every unit not yet loaded, and keeps it for their compilation)."""
        with self._lock:
            if not self._learned and (self.prefix is None or symbol.startswith(self.prefix)):
                self._learned = True
                for unit in self.units.values():
                    if unit.name not in self._loaded:
                        module = self._prebuilt.get(unit.name) or unit.build()
                        self._prebuilt[unit.name] = module
                        sigs = exported_signatures(module)
                        self._sigs.update(sigs)
                        for sym in sigs:
                            self.owner.setdefault(sym, unit.name)
            return self.owner.get(symbol)

    def provide(self, names: list[str]) -> None:
        """The `jit` symbol provider: load the units defining any of `names` — or, for `lazy_call`
        units, publish stubs that load them at the first call."""
        eager: dict[str, None] = {}
        lazy: list[str] = []
        with self._lock:
            for name in names:
                unit = self.owner.get(name)
                if unit is None and self.prefix is not None and name.startswith(self.prefix):
                    unit = self._learn(name)
                if unit is None or unit in self._loaded or name in self._stubbed:
                    continue
                if self.units[unit].lazy_call and self.publish and self._stub_signature(name) is not None:
                    lazy.append(name)
                else:
                    eager[unit] = None
            if lazy:
                self._make_stubs(lazy)
        for unit in eager:
            self.ensure(unit)

    # -- compiling --------------------------------------------------------------------------------------
    def ensure(self, unit_name: str) -> LoadedUnit:
        """The unit, compiled (or loaded from the cache) on first request; once per library."""
        with self._lock:
            done = self._loaded.get(unit_name)
            if done is not None:
                return done
            unit = self.units[unit_name]
            start = time.perf_counter()
            self._depth += 1
            try:
                loaded = self._from_index(unit) or self._compile(unit)
            finally:
                self._depth -= 1
            if self._depth == 0:
                self.seconds += time.perf_counter() - start
            if self.publish:
                for sym in loaded.signatures:
                    jit.add_symbol(sym, loaded.address(sym))
            self._loaded[unit_name] = loaded
            for sym in loaded.signatures:  # the IR is the truth when a table of names was stale
                self.owner.setdefault(sym, unit_name)
            if self.on_load is not None:  # under the lock: no other thread sees the unit before it ran
                self.on_load(loaded)
            return loaded

    def ir_module(self, unit_name: str) -> ir.Module:
        """The unit's IR (built again each call, except for units built up front)."""
        prebuilt = self._prebuilt.get(unit_name)
        return prebuilt if prebuilt is not None else self.units[unit_name].build()

    def _compile(self, unit: Unit) -> LoadedUnit:
        start = time.thread_time()
        module = self._prebuilt.pop(unit.name, None) or unit.build()
        signatures = exported_signatures(module)
        text = str(module)
        build_seconds = time.thread_time() - start
        key = jit.cache_key(text, unit.opt_level, self.target, unit.unroll) if self._cache else None
        jm = jit.JitModule(text, unit.opt_level, self._cache, target=self.target, unroll=unit.unroll, key=key)
        if self._cache is not None and unit.indexed:
            self._write_index(unit, {"object": key, "signatures": signatures})
        return LoadedUnit(unit, jm, signatures, build_seconds=build_seconds)

    # -- stubs (call-time binding) -----------------------------------------------------------------------
    def _stub_signature(self, name: str) -> tuple[str, list[str]] | None:
        """The signature of `name` if it can be had without compiling: known, in the unit's index
        entry, or from the unit's IR (built once, kept for the compilation, recorded in the index)."""
        sig = self._sigs.get(name)
        if sig is None:
            unit = self.units[self.owner[name]]
            entry = self._read_index(unit)
            sigs = entry["signatures"] if entry is not None else None
            if sigs is None:
                module = self._prebuilt.get(unit.name) or unit.build()
                self._prebuilt[unit.name] = module
                sigs = exported_signatures(module)
                if self._cache is not None and unit.indexed:
                    self._write_index(unit, {"object": None, "signatures": sigs})
            self._sigs.update(sigs)
            sig = self._sigs.get(name)
        if sig is None or not all(t in _STUB_TYPES or t.endswith("*") for t in [sig[0], *sig[1]]):
            return None
        return sig

    def _make_stubs(self, names: list[str]) -> None:
        """One JIT module of stubs for `names` (see the module docstring), published in their place."""
        if self._resolver is None:
            self._resolver = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_int64)(self._resolve)
        first = len(self._stub_slots)
        text = _stub_ir(f"{self.name}.stubs.{first}", [(n, self._stub_signature(n)) for n in names], first)
        jm = jit.JitModule(text, 1, self._cache, target=self.target)
        ctypes.c_void_p.from_address(jm.global_address("tdsl.stubs.resolver")).value = \
            ctypes.cast(self._resolver, ctypes.c_void_p).value
        for i, name in enumerate(names):
            self._stub_slots.append((name, jm.global_address(f"{name}.stub_slot")))
            self._stubbed[name] = first + i
            jit.add_symbol(name, jm.address(f"{name}.stub"))
        self._stub_modules.append(jm)  # stubs are called as long as the process lives

    def _resolve(self, stub_id: int) -> int:
        """The stubs' first call (from native code, any thread): compile, fill the slot, give the address.
        An exception cannot cross native frames: it is printed and the stub aborts the process."""
        try:
            name, slot = self._stub_slots[stub_id]
            addr = self.address(name)
            ctypes.c_void_p.from_address(slot).value = addr
            return addr
        except BaseException:  # noqa: BLE001 - reported, then the stub aborts (it cannot return)
            print(f"triton_dsl: internal compiler error: compiling {self._stub_slots[stub_id][0]!r} at its "
                  f"first call failed:", file=sys.stderr)
            traceback.print_exc()
            sys.stderr.flush()
            return 0

    # -- the index ----------------------------------------------------------------------------------------
    def _index_path(self, unit: Unit) -> str:
        from ..resources import compiler_fingerprint

        t = self.target
        parts = [_INDEX_VERSION, compiler_fingerprint(), jit.llvm_version(), jit.llvmlite_version(), t.key(),
                 f"{type(t).__module__}.{type(t).__qualname__}", json.dumps(t.variants(), sort_keys=True),
                 self.name, unit.name, str(unit.opt_level), str(unit.unroll)]
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return os.path.join(self._cache.directory, f"{digest}.json")

    def _read_index(self, unit: Unit) -> dict | None:
        """The unit's index entry: {"object": key or None (not compiled yet), "signatures": ...}."""
        if self._cache is None or not unit.indexed:
            return None
        try:
            with open(self._index_path(unit), encoding="utf-8") as f:
                entry = json.load(f)
            key = entry["object"]
            signatures = {str(name): (str(ret), [str(a) for a in args])
                          for name, (ret, args) in entry["signatures"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return {"object": key if isinstance(key, str) else None, "signatures": signatures}

    def _from_index(self, unit: Unit) -> LoadedUnit | None:
        if unit.name in self._prebuilt:
            return None
        entry = self._read_index(unit)
        if entry is None or entry["object"] is None:
            return None
        key, signatures = entry["object"], entry["signatures"]
        obj = self._cache.load(key)
        if obj is None:
            return None
        jm = jit.JitModule.from_object(obj, f"{self.name}.{unit.name}", target=self.target,
                                       opt_level=unit.opt_level)
        return LoadedUnit(unit, jm, signatures, from_index=True)

    def _write_index(self, unit: Unit, entry: dict) -> None:
        path = self._index_path(unit)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the next process the IR build


_STUB_TYPES = {"void", "i1", "i8", "i16", "i32", "i64", "half", "float", "double", "ptr"}


def _stub_ir(module_name: str, functions: list[tuple[str, tuple[str, list[str]]]], first_id: int) -> str:
    """LLVM IR of the stubs: `<name>.stub` loads `<name>.stub_slot`; when null it calls the resolver
    (`ptr (i64 id)`) for the address, aborting on null; then it tail-calls the target with its arguments."""

    def ty(t: str) -> str:
        return "ptr" if t.endswith("*") else t

    lines = [f"; ModuleID = '{module_name}'", "@tdsl.stubs.resolver = global ptr null",
             "declare void @abort() noreturn nounwind"]
    for i, (name, (ret, args)) in enumerate(functions):
        ret = ty(ret)
        params = ", ".join(f"{ty(a)} %a{k}" for k, a in enumerate(args))
        lines += [f'@"{name}.stub_slot" = global ptr null',
                  f'define {ret} @"{name}.stub"({params}) {{',
                  "entry:",
                  f'  %p = load atomic ptr, ptr @"{name}.stub_slot" acquire, align 8',
                  "  %unbound = icmp eq ptr %p, null",
                  "  br i1 %unbound, label %resolve, label %go",
                  "resolve:",
                  "  %r = load ptr, ptr @tdsl.stubs.resolver, align 8",
                  f"  %q = call ptr %r(i64 {first_id + i})",
                  "  %failed = icmp eq ptr %q, null",
                  "  br i1 %failed, label %die, label %go",
                  "die:",
                  "  call void @abort()",
                  "  unreachable",
                  "go:",
                  "  %f = phi ptr [ %p, %entry ], [ %q, %resolve ]",
                  (f"  musttail call void %f({params})" if ret == "void" else
                   f"  %v = musttail call {ret} %f({params})"),
                  "  ret void" if ret == "void" else f"  ret {ret} %v",
                  "}"]
    return "\n".join(lines) + "\n"
