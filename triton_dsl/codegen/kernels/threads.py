"""The native thread pool, built as LLVM IR over pthreads: `trk_parallel_for` and its controls.

In: an `llvmlite.ir.Module` and the `Target` of the target.
Out: these C-ABI functions added to the module (plus internal helpers and globals):

- `void trk_parallel_for(void (*fn)(i8* ctx, i64 begin, i64 end), i8* ctx, i64 n, i64 grain)`:
  calls `fn` over disjoint ranges covering [0, n) and returns when all are done. Runs inline when
  `n <= grain`, when one thread is configured, or when the pool is busy (a nested call from inside a
  body, or a concurrent call from another thread) — so it never deadlocks.
- `i64 trk_num_threads()`: threads a call may use (starting the pool if needed).
- `i64 trk_set_num_threads(i64 n)`: use at most `n` threads from now on (clamped to [1, pool size]);
  returns the value in effect. The pool size is `TRITON_DSL_NUM_THREADS`, else the number of online CPUs.

Design (why): workers are started once and persist. A job is published under a mutex (function, ctx,
chunking) with a new generation number; ranges are claimed with a compare-and-swap on one word that
holds (generation << 32 | next chunk), so a late worker can never run a chunk of a finished job. Idle
workers spin briefly on the generation (a handoff then costs well under a microsecond) and then block
on a condition variable, so an idle pool costs no CPU. The caller runs chunks too and waits the same way.

Kernels reach the pool through `declare_parallel_for(module)` / `call_parallel` (defined in trk_ir,
re-exported here as `declare_parallel_for`).
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.trk_ir import (
    BODY_FN,
    I8,
    I32,
    I64,
    PTR,
    VOID,
    ceil_div,
    cpu_relax,
    declare,
    declare_parallel_for,
    entry_alloca,
    for_range,
    i32,
    i64,
    imax,
    imin,
    new_function,
    while_loop,
)

SPIN_ITERATIONS = 2000  # ~50-100 µs of `pause` before an idle thread goes to sleep
MAX_THREADS = 256
_SYNC_BYTES = 64  # room for a pthread mutex / condition variable on every supported libc
_SEQ = "seq_cst"

__all__ = ["build", "declare_parallel_for", "MAX_THREADS", "SPIN_ITERATIONS"]


def _sysconf_nprocessors(triple: str) -> int:
    """The `_SC_NPROCESSORS_ONLN` constant of the target's libc."""
    return 58 if ("darwin" in triple or "apple" in triple) else 84


class _Pool:
    """The pool's globals and libc declarations inside one module."""

    def __init__(self, module: ir.Module):
        self.m = module

        def gv(name: str, ty: ir.Type, init, align: int = 8) -> ir.GlobalVariable:
            g = ir.GlobalVariable(module, ty, f"trk_pool.{name}")
            g.linkage = "internal"
            g.initializer = ir.Constant(ty, init)
            g.align = align
            return g

        sync = ir.ArrayType(I8, _SYNC_BYTES)
        self.state = gv("state", I32, 0)
        self.size = gv("size", I64, 1)
        self.active = gv("active", I64, 1)
        self.gen = gv("gen", I64, 0)
        self.claim = gv("claim", I64, 0)
        self.done = gv("done", I64, 0)
        self.fn = gv("fn", PTR, None)
        self.ctx = gv("ctx", PTR, None)
        self.n = gv("n", I64, 0)
        self.chunk = gv("chunk", I64, 1)
        self.nchunks = gv("nchunks", I64, 0)
        self.mutex = gv("mutex", sync, None, 64)
        self.submit = gv("submit", sync, None, 64)
        self.cond_work = gv("cond_work", sync, None, 64)
        self.cond_done = gv("cond_done", sync, None, 64)

        def c(name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
            return declare(module, name, ir.FunctionType(ret, args))

        self.mutex_init = c("pthread_mutex_init", I32, [PTR, PTR])
        self.cond_init = c("pthread_cond_init", I32, [PTR, PTR])
        self.lock_fn = c("pthread_mutex_lock", I32, [PTR])
        self.trylock_fn = c("pthread_mutex_trylock", I32, [PTR])
        self.unlock_fn = c("pthread_mutex_unlock", I32, [PTR])
        self.cond_wait = c("pthread_cond_wait", I32, [PTR, PTR])
        self.cond_broadcast = c("pthread_cond_broadcast", I32, [PTR])
        self.thread_create = c("pthread_create", I32, [PTR, PTR, PTR, PTR])
        self.getenv = c("getenv", PTR, [PTR])
        self.atol = c("atol", I64, [PTR])
        self.sysconf = c("sysconf", I64, [I32])

    def p(self, b: ir.IRBuilder, g: ir.GlobalVariable) -> ir.Value:
        return b.bitcast(g, PTR)

    def lock(self, b: ir.IRBuilder, g: ir.GlobalVariable) -> None:
        b.call(self.lock_fn, [self.p(b, g)])

    def unlock(self, b: ir.IRBuilder, g: ir.GlobalVariable) -> None:
        b.call(self.unlock_fn, [self.p(b, g)])

    def aload(self, b: ir.IRBuilder, g: ir.GlobalVariable) -> ir.Value:
        return b.load_atomic(g, _SEQ, align=g.value_type.width // 8)

    def astore(self, b: ir.IRBuilder, v: ir.Value, g: ir.GlobalVariable) -> None:
        b.store_atomic(v, g, _SEQ, align=v.type.width // 8)


def _emit_run_chunks(pool: _Pool, triple: str) -> ir.Function:
    """Claim and run chunks of job `gen` until none is left; signal `cond_done` after the last one."""
    fn, b = new_function(pool.m, "trk_pool_run_chunks", VOID, [I64, PTR, PTR, I64, I64, I64],
                         ["gen", "fn", "ctx", "n", "chunk", "nchunks"], internal=True)
    gen, body_fn, ctx, n, chunk, nchunks = fn.args
    tag = b.and_(gen, i64(0xFFFFFFFF))
    with while_loop(b, "claim") as (head, end):
        w = pool.aload(b, pool.claim)
        same_job = b.icmp_unsigned("==", b.lshr(w, i64(32)), tag)
        idx = b.and_(w, i64(0xFFFFFFFF))
        more = b.and_(same_job, b.icmp_signed("<", idx, nchunks))
        try_block = b.append_basic_block("try")
        b.cbranch(more, try_block, end)
        b.position_at_end(try_block)
        res = b.cmpxchg(pool.claim, w, b.add(w, i64(1)), _SEQ, _SEQ)
        run_block = b.append_basic_block("run")
        b.cbranch(b.extract_value(res, 1), run_block, head)
        b.position_at_end(run_block)
        begin = b.mul(idx, chunk)
        stop = imin(b, b.add(begin, chunk), n)
        b.call(b.bitcast(body_fn, BODY_FN.as_pointer()), [ctx, begin, stop])
        old = b.atomic_rmw("add", pool.done, i64(1), _SEQ)
        with b.if_then(b.icmp_signed("==", b.add(old, i64(1)), nchunks)):
            pool.lock(b, pool.mutex)
            b.call(pool.cond_broadcast, [pool.p(b, pool.cond_done)])
            pool.unlock(b, pool.mutex)
        b.branch(head)
    b.ret_void()
    return fn


def _emit_spin_while_equal(b: ir.IRBuilder, pool: _Pool, g: ir.GlobalVariable, value: ir.Value,
                           triple: str) -> None:
    """Spin (bounded) while `*g == value`."""
    spins = entry_alloca(b, I64, "spins", i64(0))
    with while_loop(b, "spin") as (head, end):
        cur = pool.aload(b, g)
        count = b.load(spins)
        go_on = b.and_(b.icmp_signed("==", cur, value), b.icmp_signed("<", count, i64(SPIN_ITERATIONS)))
        relax = b.append_basic_block("relax")
        b.cbranch(go_on, relax, end)
        b.position_at_end(relax)
        cpu_relax(b, triple)
        b.store(b.add(count, i64(1)), spins)
        b.branch(head)


def _emit_wait_while_equal(b: ir.IRBuilder, pool: _Pool, g: ir.GlobalVariable, value: ir.Value,
                           cond: ir.GlobalVariable) -> None:
    """Block on `cond` (under the pool mutex) while `*g == value`."""
    pool.lock(b, pool.mutex)
    with while_loop(b, "sleep") as (head, end):
        still = b.icmp_signed("==", pool.aload(b, g), value)
        wait = b.append_basic_block("wait")
        b.cbranch(still, wait, end)
        b.position_at_end(wait)
        b.call(pool.cond_wait, [pool.p(b, cond), pool.p(b, pool.mutex)])
        b.branch(head)
    pool.unlock(b, pool.mutex)


def _emit_worker(pool: _Pool, run_chunks: ir.Function, triple: str) -> ir.Function:
    fn, b = new_function(pool.m, "trk_pool_worker", PTR, [PTR], ["arg"], internal=True)
    index = b.ptrtoint(fn.args[0], I64)
    my_gen = entry_alloca(b, I64, "my_gen", i64(0))
    with while_loop(b, "serve"):
        seen = b.load(my_gen)
        _emit_spin_while_equal(b, pool, pool.gen, seen, triple)
        _emit_wait_while_equal(b, pool, pool.gen, seen, pool.cond_work)
        pool.lock(b, pool.mutex)
        gen = pool.aload(b, pool.gen)
        job = [b.load(g) for g in (pool.fn, pool.ctx, pool.n, pool.chunk, pool.nchunks, pool.active)]
        pool.unlock(b, pool.mutex)
        b.store(gen, my_gen)
        with b.if_then(b.icmp_signed("<", index, job[5])):
            b.call(run_chunks, [gen, *job[:5]])
    b.unreachable()
    return fn


def _emit_ensure_started(pool: _Pool, worker: ir.Function, triple: str) -> ir.Function:
    """Start the pool once (first caller wins; others wait until it is ready)."""
    fn, b = new_function(pool.m, "trk_pool_ensure_started", VOID, [], [], internal=True)
    ready = b.icmp_signed("==", pool.aload(b, pool.state), i32(2))
    start = b.append_basic_block("start")
    done = b.append_basic_block("done")
    b.cbranch(ready, done, start)
    b.position_at_end(start)
    res = b.cmpxchg(pool.state, i32(0), i32(1), _SEQ, _SEQ)
    init = b.append_basic_block("init")
    wait = b.append_basic_block("wait")
    b.cbranch(b.extract_value(res, 1), init, wait)

    b.position_at_end(wait)
    with while_loop(b, "ready") as (head, end):
        not_ready = b.icmp_signed("!=", pool.aload(b, pool.state), i32(2))
        relax = b.append_basic_block("relax")
        b.cbranch(not_ready, relax, end)
        b.position_at_end(relax)
        cpu_relax(b, triple)
        b.branch(head)
    b.branch(done)

    b.position_at_end(init)
    for g in (pool.mutex, pool.submit):
        b.call(pool.mutex_init, [pool.p(b, g), ir.Constant(PTR, None)])
    for g in (pool.cond_work, pool.cond_done):
        b.call(pool.cond_init, [pool.p(b, g), ir.Constant(PTR, None)])
    env_name = b"TRITON_DSL_NUM_THREADS\0"
    env_ty = ir.ArrayType(I8, len(env_name))
    env_g = ir.GlobalVariable(pool.m, env_ty, "trk_pool.env_name")
    env_g.linkage = "internal"
    env_g.global_constant = True
    env_g.initializer = ir.Constant(env_ty, bytearray(env_name))
    env = b.call(pool.getenv, [b.bitcast(env_g, PTR)])
    count = entry_alloca(b, I64, "count", b.call(pool.sysconf, [i32(_sysconf_nprocessors(triple))]))
    with b.if_then(b.icmp_unsigned("!=", b.ptrtoint(env, I64), i64(0))):
        from_env = b.call(pool.atol, [env])
        with b.if_then(b.icmp_signed(">", from_env, i64(0))):
            b.store(from_env, count)
    size = imin(b, imax(b, b.load(count), i64(1)), i64(MAX_THREADS))
    b.store(size, pool.size)
    b.store(size, pool.active)
    tid = entry_alloca(b, ir.ArrayType(I8, 16), "tid")
    with for_range(b, i64(1), size, name="spawn") as i:
        b.call(pool.thread_create, [b.bitcast(tid, PTR), ir.Constant(PTR, None), b.bitcast(worker, PTR),
                                    b.inttoptr(i, PTR)])
    pool.astore(b, i32(2), pool.state)
    b.branch(done)
    b.position_at_end(done)
    b.ret_void()
    return fn


def _emit_parallel_for(pool: _Pool, ensure: ir.Function, run_chunks: ir.Function, triple: str) -> None:
    fn, b = new_function(pool.m, "trk_parallel_for", VOID, [PTR, PTR, I64, I64],
                         ["fn", "ctx", "n", "grain"])
    body_fn, ctx, n, grain = fn.args
    ret = b.append_basic_block("ret")
    inline = b.append_basic_block("inline")
    check = b.append_basic_block("check")
    b.cbranch(b.icmp_signed("<=", n, i64(0)), ret, check)
    b.position_at_end(check)
    grain1 = imax(b, grain, i64(1))
    b.call(ensure, [])
    nthreads = b.load(pool.active)
    small = b.or_(b.icmp_signed("<=", n, grain1), b.icmp_signed("<=", nthreads, i64(1)))
    try_pool = b.append_basic_block("try_pool")
    b.cbranch(small, inline, try_pool)
    b.position_at_end(try_pool)
    busy = b.icmp_signed("!=", b.call(pool.trylock_fn, [pool.p(b, pool.submit)]), i32(0))
    publish = b.append_basic_block("publish")
    b.cbranch(busy, inline, publish)

    b.position_at_end(publish)
    # Four chunks per thread: some balance when a core is shared, few claims otherwise.
    chunk = imax(b, grain1, ceil_div(b, n, b.mul(nthreads, i64(4))))
    nchunks = ceil_div(b, n, chunk)
    pool.lock(b, pool.mutex)
    gen = b.add(b.load(pool.gen), i64(1))
    for g, v in ((pool.fn, body_fn), (pool.ctx, ctx), (pool.n, n), (pool.chunk, chunk),
                 (pool.nchunks, nchunks)):
        b.store(v, g)
    pool.astore(b, i64(0), pool.done)
    pool.astore(b, b.shl(b.and_(gen, i64(0xFFFFFFFF)), i64(32)), pool.claim)
    pool.astore(b, gen, pool.gen)
    b.call(pool.cond_broadcast, [pool.p(b, pool.cond_work)])
    pool.unlock(b, pool.mutex)
    b.call(run_chunks, [gen, body_fn, ctx, n, chunk, nchunks])
    # Wait for chunks other threads claimed: spin briefly, then sleep until the last one signals.
    spins = entry_alloca(b, I64, "spins", i64(0))
    with while_loop(b, "join") as (head, end):
        pending = b.icmp_signed("!=", pool.aload(b, pool.done), nchunks)
        few = b.icmp_signed("<", b.load(spins), i64(SPIN_ITERATIONS))
        relax = b.append_basic_block("relax")
        b.cbranch(b.and_(pending, few), relax, end)
        b.position_at_end(relax)
        cpu_relax(b, triple)
        b.store(b.add(b.load(spins), i64(1)), spins)
        b.branch(head)
    pool.lock(b, pool.mutex)
    with while_loop(b, "sleep") as (head, end):
        pending = b.icmp_signed("!=", pool.aload(b, pool.done), nchunks)
        wait = b.append_basic_block("wait")
        b.cbranch(pending, wait, end)
        b.position_at_end(wait)
        b.call(pool.cond_wait, [pool.p(b, pool.cond_done), pool.p(b, pool.mutex)])
        b.branch(head)
    pool.unlock(b, pool.mutex)
    pool.unlock(b, pool.submit)
    b.branch(ret)

    b.position_at_end(inline)
    b.call(b.bitcast(body_fn, BODY_FN.as_pointer()), [ctx, i64(0), n])
    b.branch(ret)
    b.position_at_end(ret)
    b.ret_void()


def _emit_controls(pool: _Pool, ensure: ir.Function) -> None:
    fn, b = new_function(pool.m, "trk_num_threads", I64, [], [])
    b.call(ensure, [])
    b.ret(b.load(pool.active))
    fn, b = new_function(pool.m, "trk_set_num_threads", I64, [I64], ["n"])
    b.call(ensure, [])
    pool.lock(b, pool.submit)  # never change the count under a running job
    value = imin(b, imax(b, fn.args[0], i64(1)), b.load(pool.size))
    b.store(value, pool.active)
    pool.unlock(b, pool.submit)
    b.ret(value)


def build(module: ir.Module, host) -> None:
    """Add the thread pool to `module` (kernel-library builder signature)."""
    if "trk_parallel_for" in module.globals:
        return
    pool = _Pool(module)
    run_chunks = _emit_run_chunks(pool, host.triple)
    worker = _emit_worker(pool, run_chunks, host.triple)
    ensure = _emit_ensure_started(pool, worker, host.triple)
    _emit_parallel_for(pool, ensure, run_chunks, host.triple)
    _emit_controls(pool, ensure)

