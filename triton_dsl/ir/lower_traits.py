"""Lowering of trait objects: a struct converted to a trait type, and method calls through a trait.

In: a struct value meeting a trait-typed slot, a `TraitMethodTarget` call. Out: `to_trait` ops (the
struct reference with its method table for the trait) and `call_trait` ops (one indirect call through
the table). The tables themselves (`Module.vtables`) are emitted by `codegen.objects`.
"""

from __future__ import annotations

from .lowering import NotAvailable


def to_trait(lw, v, want, span):
    raise NotAvailable("trait objects", span)


def lower_trait_call(lw, e, target):
    raise NotAvailable("calls through a trait", e.span)
