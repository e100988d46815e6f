"""The C declarations of the runtime's C API: the text every header `tritonc build` writes includes.

In: nothing (the runtime's layout constants). Out: `C_DECLARATIONS` ((C prototype, comment) of every
runtime function a C program may call: the functions of `runtime/rt_capi.py` and the existing ones it
needs, `trt_tensor_new`, `trt_decref`, `trt_cast`, ...) and `c_api_header()` -> the C lines (typedefs,
the `trt_ctx` layout, dtype / scale-kind / error-code enums, the prototypes), guarded so that the headers
of several libraries can be included together. Plain data, so code generation can write a header without
building the runtime; tests/unit/test_capi.py checks every prototype against the runtime's signatures.
"""

from __future__ import annotations

from . import layout

# (C prototype, comment) of every runtime function a C program may call. The names and argument
# kinds are checked against `library.signatures()` (tests/unit/test_capi.py).
C_DECLARATIONS: tuple[tuple[str, str], ...] = (
    ("trt_ctx *trt_ctx_new(void)", "a zeroed context (NULL when out of memory); or zero one yourself"),
    ("void trt_ctx_free(trt_ctx *ctx)", ""),
    ("int32_t trt_error_code(const trt_ctx *ctx)", "0 = ok, else a TRT_ERR_* code"),
    ("const char *trt_error_message(const trt_ctx *ctx)", ""),
    ("const char *trt_error_file(const trt_ctx *ctx)", "source file of the failing operation, or NULL"),
    ("int32_t trt_error_line(const trt_ctx *ctx)", "1-based; 0 = unknown"),
    ("int32_t trt_error_col(const trt_ctx *ctx)", ""),
    ("int64_t trt_error_format(const trt_ctx *ctx, char *buf, int64_t cap)",
     "'file:line:col: error: message' + call trace lines, NUL-terminated; returns the length"),
    ("void trt_clear_error(trt_ctx *ctx)", "reset the context after an error, to use it again"),
    ("trt_tensor *trt_tensor_new(trt_ctx *ctx, int32_t dtype, int32_t rank, const int64_t *shape)",
     "uninitialised data, fill it through trt_tensor_data (ternary: use trt_ternary_new)"),
    ("trt_tensor *trt_tensor_zeros(trt_ctx *ctx, int32_t dtype, int32_t rank, const int64_t *shape)", ""),
    ("trt_tensor *trt_from_data(trt_ctx *ctx, int32_t dtype, int32_t rank, const int64_t *shape, "
     "const void *data)", "a copy of trt_tensor_nbytes bytes at data (row-major)"),
    ("void *trt_tensor_data(trt_tensor *t)", "row-major elements (packed bytes for TRT_TRIT)"),
    ("int32_t trt_tensor_dtype(const trt_tensor *t)", ""),
    ("int32_t trt_tensor_rank(const trt_tensor *t)", ""),
    ("int64_t trt_tensor_dim(const trt_tensor *t, int32_t axis)", "negative axes count from the end; "
     "-1 when out of range"),
    ("const int64_t *trt_tensor_shape(const trt_tensor *t)", "rank entries"),
    ("int64_t trt_tensor_numel(const trt_tensor *t)", ""),
    ("int64_t trt_tensor_nbytes(const trt_tensor *t)", ""),
    ("void trt_incref(trt_tensor *t)", ""),
    ("void trt_decref(trt_tensor *t)", "release one reference (NULL is fine); frees the tensor at zero"),
    ("trt_tensor *trt_cast(trt_ctx *ctx, trt_tensor *t, int32_t dtype)",
     "a new tensor; trit -> TRT_INT8 unpacks a ternary tensor's trits"),
    ("trt_tensor *trt_ternary_new(trt_ctx *ctx, int32_t rank, const int64_t *shape, const uint8_t *packed, "
     "int32_t scale_kind, const float *scales)", "packed: docs/ternary_format.md, 4 trits per byte, rows "
     "of the last axis padded; scales: 1, shape[0] or 2 (pos, neg) floats by scale_kind"),
    ("trt_tensor *trt_ternary_from_trits(trt_ctx *ctx, int32_t rank, const int64_t *shape, "
     "const int8_t *trits, int32_t scale_kind, const float *scales)", "packs -1/0/+1 values"),
    ("int32_t trt_ternary_scale_kind(const trt_tensor *t)", "TRT_SCALE_*, 0 = none"),
    ("const float *trt_ternary_scales(const trt_tensor *t)", "NULL when none"),
    ("int64_t trt_ternary_scale_count(const trt_tensor *t)", ""),
    ("trt_str *trt_str_new(trt_ctx *ctx, const char *bytes, int64_t len)", "UTF-8; copied"),
    ("const char *trt_str_data(const trt_str *s)", "NUL-terminated"),
    ("int64_t trt_str_len(const trt_str *s)", ""),
    ("void trt_str_decref(trt_str *s)", ""),
    ("void trt_seed(int64_t seed)", "the random generator's global seed (default 0)"),
)

_DTYPE_ENUM = ("TRT_BOOL", "TRT_TRIT", "TRT_INT8", "TRT_INT16", "TRT_INT32", "TRT_INT64", "TRT_FLOAT16",
               "TRT_FLOAT32", "TRT_FLOAT64")


_ERROR_NAMES = ("RUNTIME", "SHAPE", "INDEX", "PANIC", "MEMORY", "VALUE", "IO", "TYPE")


def c_api_header() -> list[str]:
    """C lines declaring the runtime API (guarded, so several generated headers can be included)."""
    dtypes = [f"{name} = {code}" for code, name in enumerate(_DTYPE_ENUM)]
    errors = [f"TRT_ERR_{name} = {getattr(layout, 'ERR_' + name)}" for name in _ERROR_NAMES]
    lines = [
        "#ifndef TRITON_DSL_RUNTIME_API", "#define TRITON_DSL_RUNTIME_API",
        "typedef struct trt_tensor trt_tensor;  /* reference-counted tensor header */",
        "typedef struct trt_str trt_str;        /* reference-counted UTF-8 string */",
        "/* One call site an error unwound through (frames[0] is the innermost caller). */",
        "typedef struct trt_frame { const char *file; int32_t line, col, width, pad; } trt_frame;",
        "/* A context: zero it (or use trt_ctx_new) before the first call; one per thread. */",
        "typedef struct trt_ctx { int32_t code, line, col, call_depth; const char *file; void *output;",
        "                         void *user; char message[512]; int32_t frame_count, frame_pad;",
        f"                         trt_frame frames[{layout.MAX_FRAMES}]; }} trt_ctx;",
        f"enum trt_dtype {{ {', '.join(dtypes[:5])},", f"                 {', '.join(dtypes[5:])} }};",
        f"enum trt_scale_kind {{ TRT_SCALE_TENSOR = {layout.SCALE_TENSOR}, "
        f"TRT_SCALE_CHANNEL = {layout.SCALE_CHANNEL}, TRT_SCALE_ASYMMETRIC = {layout.SCALE_ASYMMETRIC} }};",
        "/* trt_error_code: 0 = ok, else what went wrong (docs/runtime.md, \"Error protocol\") */",
        f"enum trt_error {{ TRT_OK = 0, {', '.join(errors[:4])},",
        f"                 {', '.join(errors[4:])} }};",
        "/* Tensors returned through `out` are owned by the caller: trt_decref them. Arguments are",
        "   borrowed. The runtime functions below are fallible where they take a context: NULL (or a",
        "   non-zero code) means the context holds the error. */",
    ]
    for proto, comment in C_DECLARATIONS:
        line = f"{proto};" + (f"  /* {comment} */" if comment else "")
        if len(line) <= _WIDTH:
            lines.append(line)
            continue
        if comment:  # a long comment goes on its own line(s), above
            lines += _wrap(f"/* {comment} */", "   ")
        lines += _wrap(f"{proto};", " " * (proto.index("(") + 1))
    lines.append("#endif /* TRITON_DSL_RUNTIME_API */")
    return lines


_WIDTH = 110


def _wrap(text: str, indent: str) -> list[str]:
    """`text` broken after ", " or " " so that no line is wider than _WIDTH."""
    out = []
    while len(text) > _WIDTH:
        cut = text.rfind(", ", 0, _WIDTH - 1)
        cut = cut + 1 if cut > len(indent) else text.rfind(" ", 0, _WIDTH)
        out.append(text[:cut].rstrip())
        text = indent + text[cut:].lstrip()
    return [*out, text]

