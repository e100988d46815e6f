"""The machine code is generated for: plain data that every back-end stage reads.

In: a CPU name (`native`, `x86-64`, `x86-64-v2`, `x86-64-v3`, `x86-64-v4`, or an LLVM CPU name from
`KNOWN_CPUS`), from `TRITON_DSL_CPU`, `tritonc --cpu` or `triton_dsl.compile(cpu=...)`; for `native`, the
host's triple, CPU name and features (read by `jit.py`, the one module that asks LLVM). Out: a `Target`
— triple, LLVM CPU name, the features code generation may use, the LLVM feature string — and
`Target.variant(family)`, the one place that decides which kernel variant each kernel family compiles
to. Kernels, code generation and the runtime read this; nothing in it depends on another stage.

A named CPU's feature list here is what *our* code generation may rely on (a subset of what LLVM
knows of the CPU); LLVM itself derives the full feature set from the CPU name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_VAR = "TRITON_DSL_CPU"

# x86-64 micro-architecture levels (the psABI's), each a superset of the one before.
_V1 = ("sse", "sse2", "cx8", "cmov", "fxsr", "mmx")
_V2 = _V1 + ("sse3", "ssse3", "sse4.1", "sse4.2", "popcnt", "cx16", "sahf")
_V3 = _V2 + ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave")
_V4 = _V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
_VNNI = ("avx512vnni",)
_AVXVNNI = ("avxvnni",)
_FP16 = ("avx512fp16", "avx512bf16")

# LLVM CPU name -> features our code generation may use. Levels first, then common CPUs by family.
KNOWN_CPUS: dict[str, tuple[str, ...]] = {
    "x86-64": _V1, "x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4,
    "nehalem": _V2, "westmere": _V2, "sandybridge": _V2 + ("avx",), "ivybridge": _V2 + ("avx", "f16c"),
    "haswell": _V3, "broadwell": _V3, "skylake": _V3, "alderlake": _V3 + _AVXVNNI,
    "skylake-avx512": _V4, "cascadelake": _V4 + _VNNI, "icelake-client": _V4 + _VNNI,
    "icelake-server": _V4 + _VNNI, "tigerlake": _V4 + _VNNI, "sapphirerapids": _V4 + _VNNI + _FP16,
    "znver1": _V3, "znver2": _V3, "znver3": _V3, "znver4": _V4 + _VNNI + ("avx512bf16",),
    "znver5": _V4 + _VNNI + ("avx512bf16",),
    # aarch64: Advanced SIMD is part of the base architecture
    "generic": ("neon",), "cortex-a72": ("neon",), "neoverse-n1": ("neon", "dotprod"),
    "neoverse-v1": ("neon", "dotprod"), "apple-m1": ("neon", "dotprod"),
}
LEVELS = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4")

# Kernel families and the variants each may compile to, best first (docs/kernels.md).
KERNEL_FAMILIES = ("simd", "gemv", "gemm", "bitlinear")


class TargetError(ValueError):
    """A target that cannot be used as asked (a usage error: exit 2 in the CLI)."""


class UnknownCPUError(TargetError):
    """A CPU name no table here describes, or a CPU of another architecture."""


class TargetUnavailableError(TargetError):
    """A target whose code cannot run in this process (the host lacks its features, or the process
    already runs code for another target)."""


@dataclass(frozen=True)
class Target:
    """What machine code is generated for. `features` are LLVM feature names without the sign."""

    name: str                    # as asked: "native", "x86-64-v3", "znver3", ...
    triple: str
    cpu: str                     # the LLVM CPU name
    features: frozenset[str]
    llvm_features: str = ""      # "+a,-b,..." for LLVM; empty: derived from `cpu`

    def has(self, feature: str) -> bool:
        return feature in self.features

    @property
    def is_x86(self) -> bool:
        return self.triple.startswith(("x86_64", "amd64"))

    @property
    def is_aarch64(self) -> bool:
        return self.triple.startswith(("aarch64", "arm64"))

    @property
    def vector_bits(self) -> int:
        """Widest SIMD register width worth using for float32 lanes."""
        if self.has("avx512f"):
            return 512
        if self.has("avx2") or self.has("avx"):
            return 256
        return 128

    def variant(self, family: str) -> str:
        """The kernel variant family `family` compiles to for this target."""
        avx512 = self.is_x86 and self.has("avx512f") and self.has("avx512bw")
        if family == "simd":       # pack / unpack / count / quantize / dequantize vector width
            if avx512:
                return "avx512"
            if self.is_x86:
                return "avx2" if self.has("avx2") else "sse2"
            return "neon" if self.is_aarch64 else "scalar"
        if family in ("gemv", "gemm"):  # float32 x ternary: table lookup (vpermi2ps / vpermps / memory)
            if avx512:
                return "avx512-lut"
            return "avx2-perm" if self.is_x86 and self.has("avx2") else "lut5"
        if family == "bitlinear":  # int8 x ternary: vpdpbusd, else vpmaddubsw + vpmaddwd at the widest width
            if avx512:
                return "avx512-vnni" if self.has("avx512vnni") else "avx512bw"
            if self.is_x86:
                return "avx2" if self.has("avx2") else "ssse3" if self.has("ssse3") else "generic"
            return "generic"
        raise KeyError(f"unknown kernel family {family!r}")

    def variants(self) -> dict[str, str]:
        return {family: self.variant(family) for family in KERNEL_FAMILIES}

    def key(self) -> str:
        """Everything about the target that machine code depends on, for cache keys."""
        return "\0".join((self.triple, self.cpu, self.llvm_features, ",".join(sorted(self.features))))

    def missing_on(self, host: Target) -> list[str]:
        """Features this target's code may use that `host` lacks (running it there could be SIGILL)."""
        if host.triple.split("-")[0] != self.triple.split("-")[0]:
            return [f"architecture {self.triple.split('-')[0]}"]
        return sorted(self.features - host.features)


def requested_cpu(explicit: str | None = None) -> str:
    """The CPU name asked for: `explicit` (CLI / API), else `$TRITON_DSL_CPU`, else `native`."""
    return (explicit or os.environ.get(ENV_VAR) or "native").strip()


def resolve(name: str, host: Target, triple: str | None = None) -> Target:
    """The target for CPU `name` (see the module docstring) on `triple` (default: the host's)."""
    triple = triple or host.triple
    if name == "native":
        if triple != host.triple:
            raise UnknownCPUError(f"'native' means this machine ({host.triple}); name a CPU for {triple}")
        return host
    if name not in KNOWN_CPUS:
        raise UnknownCPUError(f"unknown CPU {name!r}: use native, {', '.join(LEVELS)}, or one of "
                              f"{', '.join(n for n in KNOWN_CPUS if n not in LEVELS)}")
    features = frozenset(KNOWN_CPUS[name])
    is_arm_cpu = "neon" in features
    if is_arm_cpu != triple.startswith(("aarch64", "arm64")):
        raise UnknownCPUError(f"CPU {name!r} is not a CPU of {triple}")
    return Target(name, triple, name, features)


def cross(triple: str, cpu: str | None) -> Target:
    """A target for another architecture (no host to ask): its named CPU, or its baseline."""
    if cpu in (None, "", "native"):
        cpu = "x86-64" if triple.startswith(("x86_64", "amd64")) else "generic"
    return resolve(cpu, Target("host", triple, "", frozenset()), triple)
