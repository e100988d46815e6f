"""aot.py without a C compiler: the `ar` archive writer (members, symbol index), the check that the objects
of a library are complete, the GNU tool prefix and C compiler choice for a target."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from triton_dsl import aot, jit
from triton_dsl.target import cross

IR = """
declare i32 @trt_helper(i32)
define i32 @trt_{name}(i32 %x) {{
  %y = call i32 @trt_helper(i32 %x)
  ret i32 %y
}}
"""


def _object(name: str, target=None) -> bytes:
    return jit.emit_object(IR.format(name=name), target=target or cross("aarch64-linux-gnu", None))


def test_archive_members_and_symbol_index(tmp_path):
    members = [("one.o", _object("one")), ("a_long_member_name.o", _object("two"))]
    path = tmp_path / "lib.a"
    aot.write_archive(path, members)
    data = path.read_bytes()
    assert data[:8] == b"!<arch>\n" and data[8:24] == b"/".ljust(16)
    size = int(data[8 + 48:8 + 58])
    index = data[68:68 + size]
    count, = struct.unpack_from(">I", index)
    offsets = struct.unpack_from(f">{count}I", index, 4)
    names = index[4 + 4 * count:].split(b"\0")[:count]
    assert names == [b"trt_one", b"trt_two"]
    table = 68 + size + (size & 1)  # the GNU long-name table follows the index
    assert data[table:table + 16] == b"//".ljust(16)
    assert data[table + 60:table + 60 + 22] == b"a_long_member_name.o/\n"
    for offset, header, (_, body) in zip(offsets, ("one.o/", "/0"), members, strict=True):
        assert data[offset:offset + 16] == header.encode().ljust(16)
        assert data[offset + 60:offset + 60 + len(body)] == body
    if shutil.which("nm"):  # binutils reads the index and the long names as its own
        listing = subprocess.run(["nm", "-s", str(path)], capture_output=True, text=True).stdout
        assert "trt_one in one.o" in listing and "trt_two in a_long_member_name.o" in listing
    with pytest.raises(ValueError, match="must not contain '/'"):
        aot.write_archive(path, [("a/b.o", members[0][1])])


def test_unresolved_names_our_missing_symbols_only():
    members = [("one.o", _object("one"))]
    assert aot.unresolved(members) == ["trt_helper"]
    helper = "define i32 @trt_helper(i32 %x) {\n  ret i32 %x\n}\ndeclare void @memset()\n"
    members.append(("h.o", jit.emit_object(helper, target=cross("aarch64-linux-gnu", None))))
    assert aot.unresolved(members) == []


def test_tool_prefix_and_compiler_choice(monkeypatch, tmp_path):
    assert aot.gnu_prefix("aarch64-unknown-linux-gnu") == "aarch64-linux-gnu"
    assert aot.gnu_prefix("x86_64-pc-linux-gnu") == "x86_64-linux-gnu"
    assert aot.gnu_prefix("aarch64-linux-gnu") == "aarch64-linux-gnu"
    assert aot.same_architecture("x86_64-unknown-linux-gnu", "x86_64-linux-gnu")
    assert not aot.same_architecture("x86_64-unknown-linux-gnu", "aarch64-linux-gnu")
    arm = cross("aarch64-linux-gnu", None)
    assert aot.compiler_candidates(arm, "x86_64-unknown-linux-gnu") == ["aarch64-linux-gnu-gcc"]
    fake = tmp_path / "aarch64-linux-gnu-gcc"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CC", raising=False)
    assert aot.find_c_compiler(arm, "x86_64-unknown-linux-gnu") == ["aarch64-linux-gnu-gcc"]
    monkeypatch.setenv("CC", f"{fake} --sysroot=/x")
    assert aot.find_c_compiler(arm, "x86_64-unknown-linux-gnu") == [str(fake), "--sysroot=/x"]
    monkeypatch.setenv("CC", "no-such-compiler")
    assert aot.find_c_compiler(arm, "x86_64-unknown-linux-gnu") is None
