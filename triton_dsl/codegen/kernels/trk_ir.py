"""Small `llvmlite.ir` helpers shared by the native kernels (thread pool, matmul, conv2d).

In: an `ir.IRBuilder` positioned inside a function being built.
Out: IR for counted loops, entry-block allocas, libc/pthread/intrinsic declarations and a few
vector idioms. Nothing here runs code; it only emits instructions. The scalar types, constants,
`declare`/`intrinsic` and `entry_alloca` also serve the packed-ternary kernels (`ternary_ir`) and the
runtime library's emitter (`runtime/irgen`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import llvmlite.ir as ir

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
HALF = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = I8.as_pointer()
VOID = ir.VoidType()

# The signature every parallel-for body has: void(ctx, begin, end).
BODY_FN = ir.FunctionType(VOID, [PTR, I64, I64])


def i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def i32(v: int) -> ir.Constant:
    return ir.Constant(I32, v)


def i8(v: int) -> ir.Constant:
    return ir.Constant(I8, v)


def f32(v: float) -> ir.Constant:
    return ir.Constant(F32, v)


def vec(ty: ir.Type, n: int) -> ir.VectorType:
    return ir.VectorType(ty, n)


def const_splat(ty: ir.Type, n: int, value) -> ir.Constant:
    """The constant <n x ty> with every lane equal to the Python number `value`."""
    return ir.Constant(ir.VectorType(ty, n), [value] * n)


def splat(b: ir.IRBuilder, value: ir.Value, n: int) -> ir.Value:
    """<n x T> with every lane equal to `value` (insertelement + zero shuffle, which LLVM folds)."""
    vty = ir.VectorType(value.type, n)
    if isinstance(value, ir.Constant):
        return const_splat(value.type, n, value.constant)
    v = b.insert_element(ir.Constant(vty, ir.Undefined), value, i32(0))
    return b.shuffle_vector(v, ir.Constant(vty, ir.Undefined), ir.Constant(vec(I32, n), [0] * n))


class Callee:
    """An opaque function pointer value with the function type llvmlite's `call` needs to call through
    it (an opaque `ptr` carries none): `b.call(Callee(fnptr, fnty), args)`."""

    def __init__(self, value: ir.Value, fnty: ir.FunctionType):
        self.value = value
        self.function_type = fnty
        self.type = value.type

    def get_reference(self) -> str:
        return self.value.get_reference()


def declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The function `name` of `module`, declared with `fnty` if it is not there yet."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, fnty, name)


def intrinsic(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    return declare(module, name, ir.FunctionType(ret, args))


def new_function(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type], arg_names: list[str],
                 *, internal: bool = False) -> tuple[ir.Function, ir.IRBuilder]:
    existing = module.globals.get(name)
    if isinstance(existing, ir.Function) and existing.is_declaration:
        fn = existing  # declared earlier by a caller in the same module: give it its body
    else:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    for a, n in zip(fn.args, arg_names, strict=True):
        a.name = n
    if internal:
        fn.linkage = "internal"
    fn.attributes.add("nounwind")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    return fn, b


def entry_alloca(b: ir.IRBuilder, ty: ir.Type, name: str = "", init: ir.Value | None = None,
                 count: int | None = None) -> ir.Value:
    """An alloca (of `count` elements if given) in the entry block, so SROA/mem2reg promote it to
    registers; optionally initialized here, at the builder's position."""
    entry = b.function.entry_basic_block
    saved = b.block
    if entry.instructions:
        b.position_before(entry.instructions[0])
    else:
        b.position_at_end(entry)
    slot = b.alloca(ty, size=None if count is None else i64(count), name=name)
    b.position_at_end(saved)
    if init is not None:
        b.store(init, slot)
    return slot


@contextmanager
def for_range(b: ir.IRBuilder, start: ir.Value, stop: ir.Value, step: ir.Value | int = 1,
              name: str = "i") -> Iterator[ir.Value]:
    """`for i in range(start, stop, step)` (step > 0) over i64; yields the induction variable."""
    if isinstance(step, int):
        step = i64(step)
    pre = b.block
    header = b.append_basic_block(f"{name}.head")
    body = b.append_basic_block(f"{name}.body")
    end = b.append_basic_block(f"{name}.end")
    b.branch(header)
    b.position_at_end(header)
    idx = b.phi(I64, name=name)
    idx.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", idx, stop), body, end)
    b.position_at_end(body)
    yield idx
    nxt = b.add(idx, step)
    idx.add_incoming(nxt, b.block)
    b.branch(header)
    b.position_at_end(end)


@contextmanager
def while_loop(b: ir.IRBuilder, name: str = "w") -> Iterator[tuple[ir.Block, ir.Block]]:
    """A loop whose body decides: branch to `head` to continue, to `end` to leave.

    Yields (head, end); the builder is positioned in the body, which must end with a terminator.
    """
    head = b.append_basic_block(f"{name}.head")
    end = b.append_basic_block(f"{name}.end")
    b.branch(head)
    b.position_at_end(head)
    yield head, end
    if not b.block.is_terminated:
        b.branch(head)
    b.position_at_end(end)


def call_by_count(b: ir.IRBuilder, count: ir.Value, fns: list[ir.Function], args: list[ir.Value]) -> None:
    """Call `fns[count - 1](*args)` (count is i64 in 1..len(fns); any other count calls nothing) —
    how a kernel picks the micro-kernel specialised for the rows left in a block."""
    after = b.append_basic_block("after")
    switch = b.switch(count, after)
    for r, fn in enumerate(fns, start=1):
        case = b.append_basic_block(f"rows{r}")
        switch.add_case(i64(r), case)
        b.position_at_end(case)
        b.call(fn, args)
        b.branch(after)
    b.position_at_end(after)


def imin(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def imax(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.select(b.icmp_signed(">", x, y), x, y)


def ceil_div(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> ir.Value:
    return b.sdiv(b.add(x, b.sub(y, i64(1))), y)


def gep(b: ir.IRBuilder, ptr: ir.Value, index: ir.Value, elem: ir.Type) -> ir.Value:
    """&((elem*)ptr)[index], returned as an i8* so every pointer in the kernels has one type."""
    typed = b.bitcast(ptr, elem.as_pointer())
    return b.bitcast(b.gep(typed, [index]), PTR)


def load(b: ir.IRBuilder, ptr: ir.Value, elem: ir.Type, index: ir.Value | None = None,
         align: int | None = None) -> ir.Value:
    typed = b.bitcast(ptr, elem.as_pointer())
    if index is not None:
        typed = b.gep(typed, [index])
    return b.load(typed, align=align)


def store(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, index: ir.Value | None = None,
          align: int | None = None) -> None:
    typed = b.bitcast(ptr, value.type.as_pointer())
    if index is not None:
        typed = b.gep(typed, [index])
    b.store(value, typed, align=align)


def lane_mask(b: ir.IRBuilder, count: ir.Value, lanes: int) -> ir.Value:
    """<lanes x i1> with lanes [0, count) set (count is i64; any value ≥ lanes sets all)."""
    iota = ir.Constant(vec(I64, lanes), list(range(lanes)))
    return b.icmp_signed("<", iota, splat(b, count, lanes))


def masked_load(b: ir.IRBuilder, ptr: ir.Value, vty: ir.VectorType, mask: ir.Value) -> ir.Value:
    """Load lanes where `mask` is set, zero elsewhere, never touching memory of unset lanes."""
    name = f"llvm.masked.load.v{vty.count}f32.p0" if vty.element == F32 else \
        f"llvm.masked.load.v{vty.count}i{vty.element.width}.p0"
    fn = intrinsic(b.module, name, vty, [PTR, I32, vec(I1, vty.count), vty])
    return b.call(fn, [ptr, i32(4), mask, ir.Constant(vty, None)])


def masked_store(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, mask: ir.Value) -> None:
    vty = value.type
    name = f"llvm.masked.store.v{vty.count}f32.p0" if vty.element == F32 else \
        f"llvm.masked.store.v{vty.count}i{vty.element.width}.p0"
    fn = intrinsic(b.module, name, VOID, [vty, PTR, I32, vec(I1, vty.count)])
    b.call(fn, [value, ptr, i32(4), mask])


def cpu_relax(b: ir.IRBuilder, triple: str) -> None:
    """A spin-wait hint: `pause` on x86, nothing elsewhere (correct, just less polite)."""
    if triple.startswith(("x86_64", "i386", "i686")):
        b.call(intrinsic(b.module, "llvm.x86.sse2.pause", VOID, []), [])


def pack_ctx(b: ir.IRBuilder, values: list[ir.Value]) -> tuple[ir.Value, ir.LiteralStructType]:
    """Store `values` into a stack struct (entry-block alloca); returns (i8* to it, its type)."""
    ty = ir.LiteralStructType([v.type for v in values])
    slot = entry_alloca(b, ty, "ctx")
    for i, v in enumerate(values):
        b.store(v, b.gep(slot, [i32(0), i32(i)]))
    return b.bitcast(slot, PTR), ty


def unpack_ctx(b: ir.IRBuilder, ctx: ir.Value, ty: ir.LiteralStructType) -> list[ir.Value]:
    """The fields of a struct written by `pack_ctx`."""
    typed = b.bitcast(ctx, ty.as_pointer())
    # typ= because an opaque-pointer field gives llvmlite no pointee to infer the loaded type from.
    return [b.load(b.gep(typed, [i32(0), i32(i)]), typ=elem) for i, elem in enumerate(ty.elements)]


def declare_parallel_for(module: ir.Module) -> ir.Function:
    """The `trk_parallel_for` declaration for kernels built into the same (or a linked) module as the
    thread pool (threads.py)."""
    return declare(module, "trk_parallel_for", ir.FunctionType(VOID, [PTR, PTR, I64, I64]))


def call_parallel(b: ir.IRBuilder, body: ir.Function, ctx: ir.Value, n: ir.Value, grain: ir.Value) -> None:
    """trk_parallel_for(body, ctx, n, grain) — the pool must be built into the same module."""
    b.call(declare_parallel_for(b.module), [b.bitcast(body, PTR), ctx, n, grain])


def prefetch(b: ir.IRBuilder, ptr: ir.Value) -> None:
    """Read prefetch into L2 (`prefetcht1`: measured 5–10% faster than into L1 for the cold weight
    streams); it never faults, so it may run past the end of a buffer."""
    fn = intrinsic(b.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    b.call(fn, [ptr, i32(0), i32(2), i32(1)])


def malloc(module: ir.Module) -> ir.Function:
    return declare(module, "malloc", ir.FunctionType(PTR, [I64]))


def free(module: ir.Module) -> ir.Function:
    return declare(module, "free", ir.FunctionType(VOID, [PTR]))
