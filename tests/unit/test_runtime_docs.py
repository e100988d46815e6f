"""docs/runtime.md stays in sync with the library: every public function is documented, every documented
function exists, and the documented layouts match the ctypes mirrors."""

import ctypes
import re
from pathlib import Path

from triton_dsl.abi import layout
from triton_dsl.runtime import (
    library,
    rt_capi,
    rt_cast,
    rt_create,
    rt_elem,
    rt_errors,
    rt_format,
    rt_matmul,
    rt_memory,
    rt_objects,
    rt_print,
    rt_random,
    rt_reduce,
    rt_shape,
    rt_text,
)
from triton_dsl.runtime.errors import Context
from triton_dsl.runtime.interop import TensorHeader
from triton_dsl.runtime.irgen import Emitter

DOC = (Path(__file__).resolve().parents[2] / "docs" / "runtime.md").read_text()
NOT_FUNCTIONS = {"trt_tensor", "trt_ctx", "trt_str", "trt_buf", "trt_parallel", "trt_type"}


def documented_patterns():
    names = set(re.findall(r"`(trt_[A-Za-z0-9_<>]+)`", DOC))
    names |= set(re.findall(r"(trt_[a-z0-9_]+(?:_<[a-z]+>|_<dt>)?)", DOC))
    patterns = []
    for name in names:
        regex = re.escape(name).replace(re.escape("<dt>"), "[a-z0-9]+").replace(re.escape("<op>"), "[a-z]+")
        regex = regex.replace(re.escape("<kind>"), "[a-z]+")
        patterns.append((name, re.compile(regex + "$")))
    return patterns


def runtime_core_signatures():
    """The public functions of the modules this page documents (other owners document theirs)."""
    em = Emitter(kernels=Emitter())
    documented = (rt_errors, rt_memory, rt_text, rt_objects, rt_print, rt_format, rt_random, rt_elem,
                  rt_reduce, rt_matmul, rt_shape, rt_create, rt_cast, rt_capi)
    for module in documented:
        module.emit(em)
    return em.signatures


def test_every_public_function_is_documented():
    patterns = documented_patterns()
    sigs = runtime_core_signatures()
    assert set(sigs) <= set(library.signatures())
    undocumented = [n for n in sigs if not any(p.match(n) for _, p in patterns)]
    assert not undocumented


def test_every_documented_function_exists():
    sigs = library.signatures()
    for name in set(re.findall(r"`(trt_[a-z0-9_]+)`", DOC)) - NOT_FUNCTIONS:
        assert name in sigs, name


def test_layout_matches_the_documented_offsets():
    for field, (offset, _) in layout.TENSOR_FIELDS.items():
        assert getattr(TensorHeader, field).offset == offset
        assert re.search(rf"\| {offset}\s+\| [^|]+\| {field}\s+\|", DOC), field
    for field in ("code", "line", "col", "file", "output", "user", "message"):
        assert re.search(rf"\| {getattr(Context, field).offset}\s+\| [^|]+\| {field}\s+\|", DOC), field
    assert ctypes.sizeof(Context) == layout.CTX_SIZE and f"`trt_ctx`, {layout.CTX_SIZE} bytes" in DOC
    assert f"`trt_tensor`, {layout.HEADER_SIZE} bytes" in DOC
