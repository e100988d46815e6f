"""The Python API: compile Triton DSL source to native code and call its functions on numpy arrays.

In: source text or a file path. Out: a `Module` whose public functions are callable:
`module.fn(*args, **kwargs)` takes numpy arrays, Python scalars and lists; applies the language's
defaults and keyword arguments; checks dtypes and shapes against the signature (TypeError/ValueError
naming the parameter); runs native code with a fresh context per call (so several threads may call at
once); returns numpy arrays, Python scalars or tuples. Run-time errors raise `TritonRuntimeError`.
"""

from __future__ import annotations

import ctypes
import re
import threading
from pathlib import Path

from .diagnostics import CompileError
from .source import Source

_SLOT = ctypes.c_uint64
_runtime_lock = threading.Lock()


def _load_runtime() -> None:
    from .runtime import library

    with _runtime_lock:
        library.load_runtime()  # also routes program output to sys.stdout


def compile(source_text: str, *, opt_level: int = 2, cache: bool = True, name: str = "<string>",
            cpu: str | None = None) -> Module:
    """Compile a program; raises `CompileError` (with `.diagnostics`) when it has errors.

    `cpu` (default `$TRITON_DSL_CPU`, else `native`) names the CPU the code is compiled for (see
    `triton_dsl.target`). The runtime and kernels of a process are compiled for one CPU, fixed by the
    first compilation: a later `cpu` naming another raises `TargetUnavailableError` (a ValueError), as
    does an unknown name or a CPU whose instructions this machine lacks.
    """
    from . import jit
    from .pipeline import compile_source

    target = jit.use_cpu(cpu)
    result = compile_source(Source(name, source_text), target)
    if not result.ok:
        raise CompileError([d for d in result.diagnostics if d.severity == "error"] or result.diagnostics)
    return Module(result, opt_level, cache, source_text)


def compile_file(path: str | Path, *, opt_level: int = 2, cache: bool = True,
                 cpu: str | None = None) -> Module:
    return compile(Path(path).read_text(encoding="utf-8"), opt_level=opt_level, cache=cache, name=str(path),
                   cpu=cpu)


class Module:
    """A compiled program loaded into this process."""

    def __init__(self, result, opt_level: int, cache: bool, source_text: str | None = None):
        from . import jit

        self._source_text = source_text
        self._options = (opt_level, cache)
        self._name = result.check.source.name
        # what the code was compiled for (pickling records its name); private: public attributes would
        # hide a DSL function of the same name
        self._target = jit.process_target()
        self._wrappers: dict[tuple, Module] = {}
        _load_runtime()
        if result.needs_kernels:
            from .runtime.kernel_library import kernel_library
            kernel_library()  # publishes trk_* (thread pool, dequantize) for the generated code
        self._result = result
        self._ir = result.ir_module
        self._jit = jit.JitModule(result.llvm_ir, opt_level, jit.ObjectCache() if cache else None)
        from .api_objects import ModuleObjects
        # struct classes (`module.S(...)`) and the conversions of lists and structs (api_objects.py)
        self._objects = ModuleObjects(self._ir, result.check.checked, self._jit)
        self.from_cache = self._jit.from_cache
        self._functions: dict[str, BoundFunction] = {}
        by_name: dict[str, list] = {}
        for fn in self._ir.functions.values():
            if fn.public:
                by_name.setdefault(fn.source_name, []).append(fn)
        self._by_name = by_name

    def __getattr__(self, name: str) -> BoundFunction:
        if name.startswith("_"):
            raise AttributeError(name)
        struct = self.__dict__.get("_objects")
        if struct is not None and name in struct.classes and name not in self._functions:
            return struct.classes[name]  # `module.PercentileQuantizer(percentile=...)`
        if name not in self._functions:
            fns = self.__dict__.get("_by_name", {}).get(name)
            if not fns and not self._is_generic(name):
                raise AttributeError(f"the program has no public function '{name}'")
            self._functions[name] = BoundFunction(self, name, fns or [])
        return self._functions[name]

    def _is_generic(self, name: str) -> bool:
        """A user function the program defines generically (instances are made per call signature)."""
        checked = self._result.check.checked
        info = checked.env.functions.get(name) if checked is not None else None
        return info is not None and info.origin == "user" and info.owner is None and bool(info.generic) \
            and self.__dict__.get("_source_text") is not None

    def _call_new_instance(self, name: str, args: tuple, kwargs: dict):
        from .api_wrappers import wrapped_call

        opt_level, cache = self._options
        return wrapped_call(name, args, kwargs, prefix=self._source_text,
                            source_name=self._result.check.source.name, compiled=self._wrappers,
                            opt_level=opt_level, cache=cache)

    def functions(self) -> list[str]:
        return sorted(self._by_name)

    # -- pickling: the source, options and target travel; the other side compiles (see _unpickle) --------
    def __reduce__(self):
        if self.__dict__.get("_source_text") is None:
            raise TypeError("this Module cannot be pickled: it was not compiled from source text "
                            "(triton_dsl.compile / compile_file)")
        opt_level, cache = self._options
        return (_unpickle_module, (self._source_text, self._name, opt_level, cache, self._target.name))

    def run_main(self) -> None:
        """Run the top-level statements, then `main` (what `tritonc run` does)."""
        from .ir.nodes import ENTRY_NAME

        if self._ir.entry is None:
            return
        _call_entry(self._jit, ENTRY_NAME, [], [])

    # -- inspection -----------------------------------------------------------------------------------
    def ir(self, name: str) -> str:
        from .ir.printer import print_function
        return "\n\n".join(print_function(fn) for fn in self._instances(name))

    def llvm_ir(self, name: str) -> str:
        text = self._jit.optimized()
        return "\n\n".join(_extract(text, rf'define[^\n]*@"?tdsl\.{re.escape(fn.name)}"?\(', "\n}\n")
                           for fn in self._instances(name))

    def asm(self, name: str) -> str:
        text = self._jit.asm()
        return "\n\n".join(_extract(text, rf'^"?tdsl\.{re.escape(fn.name)}"?:', "\n.Lfunc_end")
                           for fn in self._instances(name))

    def _instances(self, name: str) -> list:
        fns = [fn for fn in self._ir.functions.values() if fn.source_name == name or fn.name == name]
        if not fns:
            raise KeyError(f"the program has no function '{name}'")
        return fns


def _extract(text: str, start_pattern: str, end_marker: str) -> str:
    m = re.search(start_pattern, text, re.M)
    if m is None:
        return ""
    end = text.find(end_marker, m.start())
    return text[m.start(): end + len(end_marker) if end >= 0 else len(text)].strip()


class BoundFunction:
    """A public DSL function callable from Python (one call plan per compiled instance)."""

    def __init__(self, module: Module, name: str, instances: list):
        from .api_args import CallPlan

        self.name = name
        self._module = module
        self._generic = module._is_generic(name)
        self.__name__ = self.__qualname__ = name  # for tools that name callables (Dask task keys)
        self._plans = [CallPlan(fn, module._result, module._jit, module._objects) for fn in instances]

    def __call__(self, *args, **kwargs):
        from .api_args import NeedsLanguageDefault

        errors = []
        for plan in self._plans:
            try:
                bound = plan.bind(args, kwargs)
            except (TypeError, ValueError) as exc:
                errors.append(exc)
                continue
            return plan.run(*bound)
        computed_default = any(isinstance(e, NeedsLanguageDefault) for e in errors)
        if (self._generic or computed_default) and self._module.__dict__.get("_source_text") is not None:
            # a new instance for these argument types, or defaults the language computes: a wrapper
            return self._module._call_new_instance(self.name, args, kwargs)
        raise errors[0]

    def __reduce__(self):
        return (getattr, (self._module, self.name))

    def __repr__(self) -> str:
        return f"<triton_dsl function {self.name} of {self._module._name}>"


_unpickled: dict[tuple, Module] = {}
_unpickle_lock = threading.Lock()


def _unpickle_module(source_text: str, name: str, opt_level: int, cache: bool, cpu: str) -> Module:
    """A pickled Module in this process: compiled from its source for the CPU it was compiled for when
    this process can run that (its machine code then comes from the on-disk object cache when an earlier
    compilation stored it), else for this process's target (recompiled). One Module per distinct pickle
    per process, so a worker receiving the same function for every task compiles it once."""
    from . import jit
    from .target import TargetError

    try:
        target = jit.use_cpu(cpu)
    except TargetError:  # this process already runs another target, or the host lacks the CPU's features
        target = jit.process_target()
    key = (source_text, name, opt_level, cache, target.name)
    with _unpickle_lock:
        module = _unpickled.get(key)
        if module is None:
            module = compile(source_text, opt_level=opt_level, cache=cache, name=name, cpu=target.name)
            _unpickled[key] = module
    return module


def load_cached_entry(cached, opt_level: int):
    """Load a program from the program cache (no compiler stage runs); return a function running its
    top-level code. Raises if the cached IR does not load: the caller treats that as a cache miss."""
    from . import jit
    from .ir.nodes import ENTRY_NAME

    _load_runtime()
    if cached.needs_kernels:
        from .runtime.kernel_library import kernel_library
        kernel_library()
    jm = jit.JitModule(cached.llvm_ir, opt_level, jit.ObjectCache())
    if cached.has_entry:
        jm.cfunc(f"tdsl_call.{ENTRY_NAME}", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    return lambda: _call_entry(jm, ENTRY_NAME, [], []) if cached.has_entry else None


def run_cached_entry(cached, opt_level: int) -> None:
    """Run the top-level code of a program from the program cache (no compiler stage runs)."""
    load_cached_entry(cached, opt_level)()


def _call_entry(jm, name: str, slots: list[int], owned: list[int]) -> None:
    """Run an entry point without results (the program's `__main__`)."""
    from .runtime.errors import Context, raise_if_error

    entry = jm.cfunc(f"tdsl_call.{name}", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    argv = (_SLOT * max(1, len(slots)))(*slots)
    results = (_SLOT * 1)()
    ctx = Context()
    entry(ctypes.addressof(ctx), ctypes.addressof(argv), ctypes.addressof(results))
    raise_if_error(ctx)


__all__ = ["compile", "compile_file", "Module"]


def __getattr__(name: str):
    if name == "np":  # numpy is imported where arrays are handled (api_args), not to run a program
        import numpy

        return numpy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
