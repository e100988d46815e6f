"""Helpers for the object-model tests (structs, lists, strings, closures, traits): run a program with
`tritonc run` in-process and count the heap objects still alive (`trt_obj_live`), so every test also
shows that what it built was freed."""

from __future__ import annotations

from pathlib import Path


def live_objects() -> int:
    from triton_dsl.runtime import interop, library

    library.load_runtime()
    return interop.func("trt_obj_live")()


def run_program(tritonc, tmp_path: Path, source: str, name: str = "prog.triton") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `tritonc run` on `source`; asserts that no object outlived it."""
    path = tmp_path / name
    path.write_text(source)
    before = live_objects()
    result = tritonc("run", str(path))
    assert live_objects() == before, "objects were leaked"
    return result
