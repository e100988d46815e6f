"""The runtime's data layouts: tensor header, context, string and text buffer, dtype codes.

In: nothing. Out: byte offsets and `llvmlite.ir` types of every field (`FIELDS`), the struct types
(`TENSOR_T`, `CTX_T`, `STR_T`, `BUF_T`), dtype codes and element sizes, error codes. This module is the
executable form of docs/runtime.md; keep the two in sync.
"""

from __future__ import annotations

from llvmlite import ir

_I8, _I32, _I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
_PTR = ir.PointerType()

MAX_RANK = 8

# dtype codes (docs/runtime.md "dtype codes").
BOOL, TRIT, INT8, INT16, INT32, INT64, FLOAT16, FLOAT32, FLOAT64 = range(9)
DTYPE_NAMES = ("bool", "trit", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
DTYPE_CODES = {name: code for code, name in enumerate(DTYPE_NAMES)}
SUFFIX = ("b", "t", "i8", "i16", "i32", "i64", "f16", "f32", "f64")
# Bytes per element (trit is packed: handled separately, 0 here).
ELEM_SIZE = (1, 0, 1, 2, 4, 8, 2, 4, 8)
FLOAT_DTYPES = (FLOAT16, FLOAT32, FLOAT64)
INT_DTYPES = (INT8, INT16, INT32, INT64)


def scalar_type(code: int) -> ir.Type:
    """The LLVM type a scalar of this dtype has at the ABI (bool and trit are i8)."""
    return (_I8, _I8, _I8, ir.IntType(16), _I32, _I64, ir.HalfType(), ir.FloatType(),
            ir.DoubleType())[code]


# Tensor header.
TENSOR_FIELDS = {
    "refcount": (0, _I64),
    "dtype": (8, _I32),
    "rank": (12, _I32),
    "data": (16, _PTR),
    "nbytes": (24, _I64),
    "numel": (32, _I64),
    # shape: [8 x i64] at 40
    "flags": (104, _I32),
    "scale_kind": (108, _I32),
    "scales": (112, _PTR),
    "owner": (120, _I64),
    "base": (128, _PTR),
    "aux": (136, _PTR),
    "aux_free": (144, _PTR),
    "grad": (152, _PTR),
    "tape_node": (160, _PTR),
    "hooks": (168, _PTR),
    # autodiff (docs/runtime.md "Autodiff"): creation order of a recorded tensor (0 for leaves), and the
    # gradient being accumulated for it while a backward runs
    "grad_seq": (176, _I64),
    "grad_pending": (184, _PTR),
}
SHAPE_OFFSET = 40
HEADER_SIZE = 192  # multiple of 64: inline data stays 64-byte aligned

FLAG_REQUIRES_GRAD = 1 << 0
FLAG_IS_LEAF = 1 << 1
FLAG_DATA_INLINE = 1 << 8
FLAG_DATA_MALLOC = 1 << 9

SCALE_NONE, SCALE_TENSOR, SCALE_CHANNEL, SCALE_ASYMMETRIC = range(4)
SCALE_KIND_NAMES = (None, "tensor", "channel", "asymmetric")

TENSOR_T = ir.LiteralStructType([
    _I64, _I32, _I32, _PTR, _I64, _I64, ir.ArrayType(_I64, MAX_RANK), _I32, _I32, _PTR, _I64, _PTR,
    _PTR, _PTR, _PTR, _PTR, _PTR, _I64, _PTR,
])

# Context.
CTX_FIELDS = {
    "code": (0, _I32),
    "line": (4, _I32),
    "col": (8, _I32),
    "ctx_flags": (12, _I32),
    "file": (16, _PTR),
    "output": (24, _PTR),
    "user": (32, _PTR),
    # message: [512 x i8] at 40
    "frame_count": (552, _I32),
    # frames: [16 x frame] at 560
}
MESSAGE_OFFSET = 40
MESSAGE_SIZE = 512
# The call trace of a pending error: the call sites it unwound through, innermost first. A frame is
# { ptr file, i32 line, i32 col, i32 width, i32 pad } (width: the call's length in columns on its line).
MAX_FRAMES = 16
FRAMES_OFFSET = 560
FRAME_SIZE = 24
FRAME_T = ir.LiteralStructType([_PTR, _I32, _I32, _I32, _I32])
CTX_SIZE = FRAMES_OFFSET + MAX_FRAMES * FRAME_SIZE
CTX_T = ir.LiteralStructType([_I32, _I32, _I32, _I32, _PTR, _PTR, _PTR, ir.ArrayType(_I8, MESSAGE_SIZE),
                              _I32, _I32, ir.ArrayType(FRAME_T, MAX_FRAMES)])
# The formerly reserved i32 at offset 12 counts the nesting of recursive DSL calls in progress on this
# context (generated code increments it around calls inside a call-graph cycle; 0 between API calls).
CALL_DEPTH_OFFSET = 12
# Deepest allowed nesting of recursive calls: above legitimate recursion (depth ~1000), and small enough
# that even the largest generated frames measured (~1.3 KiB, optimised seed programs) need under 4 MiB,
# half of Linux's default 8 MiB thread stack; small recursive functions (~0.1 KiB frames) need ~0.3 MiB.
MAX_CALL_DEPTH = 3000

# Strings: { i64 refcount, i64 len, bytes... }.
STR_FIELDS = {"str_refcount": (0, _I64), "str_len": (8, _I64)}
STR_DATA_OFFSET = 16


# Text buffer: { ptr data, i64 len, i64 cap }.
BUF_FIELDS = {"buf_data": (0, _PTR), "buf_len": (8, _I64), "buf_cap": (16, _I64)}
BUF_SIZE = 24
BUF_T = ir.LiteralStructType([_PTR, _I64, _I64])

# Objects (docs/runtime.md "Objects"): a 16-byte header { i64 refcount, ptr type } then the payload.
OBJ_FIELDS = {"obj_refcount": (0, _I64), "obj_type": (8, _PTR)}
OBJ_HEADER_SIZE = 16
# A list's payload: { i64 len, i64 cap, ptr data } (elements of the descriptor's `size` bytes each).
LIST_FIELDS = {"list_len": (16, _I64), "list_cap": (24, _I64), "list_data": (32, _PTR)}
LIST_SIZE = 40
# Type descriptor `trt_type` (a constant global emitted by code generation, one per type and module).
TYPE_FIELDS = {"type_name": (0, _PTR), "type_drop": (8, _PTR), "type_size": (16, _I64),
               "type_elem_retain": (24, _PTR), "type_elem_release": (32, _PTR), "type_kind": (40, _I32),
               "type_count": (44, _I32), "type_print": (48, _PTR)}
TYPE_T = ir.LiteralStructType([_PTR, _PTR, _I64, _PTR, _PTR, _I32, _I32, _PTR])
TYPE_SIZE = 56
KIND_STRUCT, KIND_LIST, KIND_ENV = 1, 2, 3

FIELDS = {**TENSOR_FIELDS, **CTX_FIELDS, **STR_FIELDS, **BUF_FIELDS, **OBJ_FIELDS, **LIST_FIELDS,
          **TYPE_FIELDS}

# Error codes.
ERR_RUNTIME, ERR_SHAPE, ERR_INDEX, ERR_PANIC, ERR_MEMORY, ERR_VALUE, ERR_IO, ERR_TYPE = range(1, 9)
ERROR_KINDS = {ERR_RUNTIME: "runtime error", ERR_SHAPE: "shape mismatch", ERR_INDEX: "index out of range",
               ERR_PANIC: "panic", ERR_MEMORY: "out of memory", ERR_VALUE: "invalid value",
               ERR_IO: "I/O error", ERR_TYPE: "type error"}
