"""Libraries compiled one part at a time, when a part is first needed: the runtime and the kernels.

In: a list of `Unit`s — a name, a function building the unit's LLVM IR, an opt level, the names it
defines when they are known without building it — the `Target` and where to cache. Out: a
`LazyLibrary` that compiles a unit (or loads it from the disk cache) the first time one of its symbols
is asked for: through `address(name)`, or through `jit`'s symbol provider hook, which every JIT module
(a program, another unit) consults for the undefined symbols of its object before it is loaded. So a
program compiles the units its machine code references, and those the units reference, nothing else.

Disk cache, two levels: the objects are keyed by their IR (`jit.cache_key`), as every JIT object; an
*index* entry per unit, keyed by what the IR is a function of — the compiler's files
(`resources.compiler_fingerprint`), versions, the target and its kernel variants, the unit and its
options — names the object and lists the unit's symbols and their signatures. A warm process reads the
index and loads the object without building or hashing any IR; after an edit of the compiler the IR is
built again (cheap) and an unchanged IR still finds its object.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
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


@dataclass
class LoadedUnit:
    unit: Unit
    module: jit.JitModule
    signatures: dict[str, tuple[str, list[str]]]  # exported name -> (return type, argument types) as text

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
                 on_load: Callable[[LoadedUnit], None] | None = None):
        self.name = name
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
        for unit in self.units.values():
            symbols = unit.symbols
            if symbols is None:
                module = self._prebuilt[unit.name] = unit.build()
                symbols = tuple(exported_signatures(module))
            for sym in symbols:
                self.owner.setdefault(sym, unit.name)
        if publish:
            jit.add_symbol_provider(self.provide)

    # -- lookups ----------------------------------------------------------------------------------------
    def __contains__(self, symbol: str) -> bool:
        return symbol in self.owner

    def loaded(self) -> list[str]:
        """Names of the units compiled or loaded so far, in order."""
        with self._lock:
            return list(self._loaded)

    def address(self, symbol: str) -> int:
        unit = self.owner.get(symbol)
        if unit is None:
            raise KeyError(f"no function {symbol!r} in the {self.name} library")
        return self.ensure(unit).address(symbol)

    def signature(self, symbol: str) -> tuple[str, list[str]]:
        unit = self.owner.get(symbol)
        if unit is None:
            raise KeyError(f"no function {symbol!r} in the {self.name} library")
        return self.ensure(unit).signatures[symbol]

    def provide(self, names: list[str]) -> None:
        """The `jit` symbol provider: load the units defining any of `names`."""
        for unit in dict.fromkeys(self.owner[n] for n in names if n in self.owner):
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
        module = self._prebuilt.pop(unit.name, None) or unit.build()
        signatures = exported_signatures(module)
        text = str(module)
        key = jit.cache_key(text, unit.opt_level, self.target, unit.unroll) if self._cache else None
        jm = jit.JitModule(text, unit.opt_level, self._cache, target=self.target, unroll=unit.unroll, key=key)
        if self._cache is not None and unit.indexed:
            self._write_index(unit, {"object": key, "signatures": signatures})
        return LoadedUnit(unit, jm, signatures)

    # -- the index ----------------------------------------------------------------------------------------
    def _index_path(self, unit: Unit) -> str:
        from ..resources import compiler_fingerprint

        t = self.target
        parts = [_INDEX_VERSION, compiler_fingerprint(), jit.llvm_version(), jit.llvmlite_version(), t.key(),
                 f"{type(t).__module__}.{type(t).__qualname__}", json.dumps(t.variants(), sort_keys=True),
                 self.name, unit.name, str(unit.opt_level), str(unit.unroll)]
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return os.path.join(self._cache.directory, f"{digest}.json")

    def _from_index(self, unit: Unit) -> LoadedUnit | None:
        if self._cache is None or not unit.indexed or unit.name in self._prebuilt:
            return None
        try:
            with open(self._index_path(unit), encoding="utf-8") as f:
                entry = json.load(f)
            key = entry["object"]
            signatures = {name: (ret, list(args)) for name, (ret, args) in entry["signatures"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return None
        obj = self._cache.load(key)
        if obj is None:
            return None
        jm = jit.JitModule.from_object(obj, f"{self.name}.{unit.name}", target=self.target,
                                       opt_level=unit.opt_level)
        return LoadedUnit(unit, jm, signatures)

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
