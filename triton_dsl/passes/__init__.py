"""IR passes, run in order by `run_passes` between lowering and code generation.

In: a verified `ir.Module`. Out: the same module, rewritten in place and verified after each pass:
constant folding and dead-code removal (`passes.simplify`); for programs that ask for gradients, scalar
lifting (`passes.lift_scalars`); fusion of elementwise chains into single loops (`passes.fusion`); the
tape recording of autodiff (`passes.autodiff`); then explicit reference counting (`passes.refcount`,
always last: it needs the final op order).
"""

from __future__ import annotations

from ..ir.nodes import Module
from ..ir.verifier import verify_module


def run_passes(module: Module, *, fuse: bool = True) -> Module:
    from .autodiff import run_autodiff
    from .fusion import run_fusion
    from .lift_scalars import run_lift_scalars
    from .refcount import run_refcount_pass
    from .simplify import run_simplify

    run_simplify(module)
    verify_module(module)
    run_lift_scalars(module)  # (these two only when the program asks for gradients: Module.autodiff)
    verify_module(module)
    if fuse:
        run_fusion(module)
        run_simplify(module)  # constants now copied into loops may be dead outside
        verify_module(module)
    run_autodiff(module)
    verify_module(module)
    run_refcount_pass(module)
    verify_module(module)
    return module
