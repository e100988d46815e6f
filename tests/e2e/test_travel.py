"""Compiled modules that travel: `Module`, its functions and `TernaryTensor` pickle; a spawn pool and a
Dask LocalCluster (2 worker processes) run them. Workers share the suite's compile cache (the environment
variable set by conftest.py is inherited), so their machine code comes from the cache, as it would on a
cluster with a shared cache directory."""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest

import triton_dsl
from triton_dsl import TernaryTensor

SCALE = """\
fn affine(x: Tensor<float32, [?]>, k: float32 = 2.0) -> Tensor<float32, [?]> {
    return x * k + 1.0
}
"""

LAYER = """\
fn layer(x: Tensor<float32, [batch, 64]>, w: TernaryTensor<trit, [64, 32]>,
         b: Tensor<float32, [32]>) -> Tensor<float32, [batch, 32]> {
    return quantized_linear(x, w, bias=b)
}
"""


def test_module_and_function_pickle_in_process() -> None:
    module = triton_dsl.compile(SCALE, name="scale.triton")
    x = np.linspace(-1, 1, 9, dtype=np.float32)
    again = pickle.loads(pickle.dumps(module))
    assert again.from_cache  # same IR, same target: the machine code is the cached object
    np.testing.assert_array_equal(again.affine(x, k=3.0), x * np.float32(3.0) + np.float32(1.0))
    fn = pickle.loads(pickle.dumps(module.affine))
    np.testing.assert_array_equal(fn(x), x * np.float32(2.0) + np.float32(1.0))
    assert fn.__name__ == "affine"


def test_session_functions_pickle_as_their_declarations() -> None:
    from triton_dsl.repl_session import ReplSession

    session = ReplSession()
    session.run("fn g(a: int32) -> int32 { return a + 1 }")
    session.run("fn h(a: int32) -> int32 { return g(a) * 10 }")
    h = pickle.loads(pickle.dumps(session.function("h")))
    assert h(4) == 50 and h._module is not session.function("h")._module


def test_module_without_source_does_not_pickle() -> None:
    from triton_dsl.api import Module
    from triton_dsl.pipeline import compile_source
    from triton_dsl.source import Source

    module = Module(compile_source(Source("run.triton", SCALE)), 2, True)  # as `tritonc run` makes it
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(module.affine)


def test_ternary_tensor_pickles_packed() -> None:
    rng = np.random.default_rng(3)
    trits = rng.integers(-1, 2, size=(256, 256)).astype(np.int8)
    for scale in (0.25, rng.random(256).astype(np.float32) + 0.5, (0.5, 0.75)):
        t = TernaryTensor.from_numpy(trits, scale=scale)
        blob = pickle.dumps(t, protocol=5)
        # 4 trits per byte: 16 KiB of packed data, against 64 KiB as int8 and 256 KiB as float32
        assert len(blob) < t.packed.nbytes + t.scales.nbytes + 400
        back = pickle.loads(blob)
        assert back == t and back.scale_kind == t.scale_kind
        np.testing.assert_array_equal(back.to_numpy(), trits)
        assert not back.packed.flags.writeable


def test_ternary_tensor_repr_and_html() -> None:
    t = TernaryTensor.from_numpy(np.array([[1, 0, -1, 0], [0, 0, 1, -1]], np.int8), scale=0.5)
    assert repr(t).endswith("packed_bytes=2, zeros=50.0%)")
    page = t._repr_html_()
    assert "[2, 4]" in page and "2 bytes (float32: 32 bytes)" in page
    assert "0: 4 (50.0%)" in page and "+1: 2 (25.0%)" in page


def test_spawn_pool_maps_a_compiled_function() -> None:
    module = triton_dsl.compile(SCALE, name="scale.triton")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n).astype(np.float32) for n in (1, 7, 1000, 33)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(module.affine, arrays)
        # the worker compiled the module again for the same CPU: its machine code came from the cache
        assert pool.apply(getattr, (module, "from_cache")) is True
    for x, y in zip(arrays, results, strict=True):
        np.testing.assert_array_equal(y, x * np.float32(2.0) + np.float32(1.0))


def test_spawn_worker_with_another_target_recompiles() -> None:
    module = triton_dsl.compile(SCALE, name="scale.triton")
    other = "x86-64-v2" if module._target.name == "x86-64" else "x86-64"  # any x86-64 host runs both
    x = np.arange(-4, 5, dtype=np.float32)
    ctx = multiprocessing.get_context("spawn")
    # the worker's JIT target is fixed to another CPU before the module arrives
    with ctx.Pool(1, initializer=triton_dsl.jit.use_cpu, initargs=(other,)) as pool:
        target = pool.apply(getattr, (module, "_target"))
        y = pool.apply(module.affine, (x,))
    assert target.name == other != module._target.name
    np.testing.assert_array_equal(y, module.affine(x))


def test_dask_local_cluster_maps_a_ternary_layer_over_partitions() -> None:
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    module = triton_dsl.compile(LAYER, name="layer.triton")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((96, 64)).astype(np.float32)
    w = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(64, 32)).astype(np.int8), scale=0.125)
    b = rng.standard_normal(32).astype(np.float32)
    single = module.layer(x, w, b)
    reference = x.astype(np.float64) @ w.dequantize().astype(np.float64) + b
    np.testing.assert_allclose(single, reference, rtol=1e-5, atol=1e-5)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        parts = da.from_array(x, chunks=(24, 64))  # 4 partitions of 24 rows
        out = parts.map_blocks(module.layer, w, b, dtype=np.float32, chunks=(24, 32))
        distributed_result = out.compute()
        # the module travelled: the workers hold unpickled copies (api._unpickled), compiled there
        copies = client.run(lambda: len(__import__("triton_dsl.api").api._unpickled))
    assert len(copies) == 2 and sum(copies.values()) >= 1
    np.testing.assert_array_equal(distributed_result, single)
