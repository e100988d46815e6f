/* A C program calling a library built by `tritonc build aot_model.triton --emit=static|shared`
 * (tests/e2e/test_aot.py). It makes its inputs from formulas the test repeats in numpy, prints every
 * result as "name: v1 v2 ..." (floats with 9 significant digits) and each expected error as
 * "error NAME CODE: report". Exit status: 0, or 2 when an unexpected error happened. */
#include <stdio.h>
#include <string.h>
#include "libmodel.h"

static trt_ctx *ctx;

static int fail(const char *what) {
    char text[4096];
    trt_error_format(ctx, text, sizeof text);
    printf("unexpected error in %s (%d): %s", what, trt_error_code(ctx), text);
    return 2;
}

/* an error the test expects: print it and reset the context */
static void expected(const char *name, int32_t status) {
    char text[4096];
    trt_error_format(ctx, text, sizeof text);
    printf("error %s %d %d: %s", name, status, trt_error_code(ctx), text);
    trt_clear_error(ctx);
}

static void print_floats(const char *name, trt_tensor *t) {
    const float *v = trt_tensor_data(t);
    printf("%s:", name);
    for (int64_t i = 0; i < trt_tensor_numel(t); i++) printf(" %.9g", v[i]);
    printf("\n");
}

static trt_tensor *floats(int32_t rank, const int64_t *shape, int mul, int mod, float div) {
    trt_tensor *t = trt_tensor_new(ctx, TRT_FLOAT32, rank, shape);
    if (!t) return NULL;
    float *v = trt_tensor_data(t);
    for (int64_t i = 0; i < trt_tensor_numel(t); i++) v[i] = (float)((i * mul) % mod) / div - 1.0f;
    return t;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);  /* the program's print writes to fd 1 directly: keep the order */
    if (sizeof(trt_ctx) != 944) return 4;  /* the header's layout is the runtime's (docs/runtime.md) */
    ctx = trt_ctx_new();
    if (!ctx) return 3;

    /* layer: x [3, 7] floats, w [7, 130] trits with one scale */
    const int64_t xs[2] = {3, 7}, ws[2] = {7, 130};
    trt_tensor *x = floats(2, xs, 37, 23, 11.0f);
    if (!x) return fail("x");
    int8_t trits[910];
    for (int i = 0; i < 910; i++) trits[i] = (int8_t)((i * 7) % 3 - 1);
    const float scale = 0.75f;
    trt_tensor *w = trt_ternary_from_trits(ctx, 2, ws, trits, TRT_SCALE_TENSOR, &scale);
    if (!w) return fail("trt_ternary_from_trits");
    trt_tensor *y = NULL;
    if (layer(ctx, x, w, &y)) return fail("layer");
    printf("layer_shape: %lld %lld\n", (long long)trt_tensor_dim(y, 0), (long long)trt_tensor_dim(y, -1));
    print_floats("layer", y);
    trt_decref(y);

    /* the same weights from packed bytes (docs/ternary_format.md): the same result */
    trt_tensor *unpacked = trt_cast(ctx, w, TRT_INT8);
    if (!unpacked) return fail("trt_cast");
    const int8_t *back = trt_tensor_data(unpacked);
    int same = memcmp(back, trits, sizeof trits) == 0;
    trt_decref(unpacked);
    trt_tensor *w2 = trt_ternary_new(ctx, 2, ws, trt_tensor_data(w), TRT_SCALE_TENSOR, &scale);
    if (!w2) return fail("trt_ternary_new");
    if (layer(ctx, x, w2, &y)) return fail("layer(w2)");
    print_floats("layer_packed", y);
    printf("roundtrip: %d %lld\n", same, (long long)trt_tensor_nbytes(w));
    trt_decref(y);
    trt_decref(w2);

    /* quantize: a TernaryTensor result */
    const int64_t qs[2] = {6, 4};
    trt_tensor *qin = floats(2, qs, 13, 17, 5.0f);
    trt_tensor *q = NULL;
    if (!qin || quantize(ctx, qin, &q)) return fail("quantize");
    trt_tensor *qt = trt_cast(ctx, q, TRT_INT8);
    if (!qt) return fail("trt_cast(q)");
    printf("quantize_trits:");
    for (int64_t i = 0; i < trt_tensor_numel(qt); i++) printf(" %d", ((const int8_t *)trt_tensor_data(qt))[i]);
    printf("\nquantize_scale: %d %lld %.9g\n", trt_ternary_scale_kind(q),
           (long long)trt_ternary_scale_count(q), trt_ternary_scales(q)[0]);
    trt_decref(qt);
    trt_decref(q);
    trt_decref(qin);

    /* conv: quantized_conv2d, x [1, 2, 5, 5], k [3, 2, 3, 3] */
    const int64_t cs[4] = {1, 2, 5, 5}, ks[4] = {3, 2, 3, 3};
    trt_tensor *cx = floats(4, cs, 29, 19, 9.0f), *ck = floats(4, ks, 11, 7, 3.0f), *cy = NULL;
    if (!cx || !ck || conv(ctx, cx, ck, &cy)) return fail("conv");
    printf("conv_shape: %lld %lld %lld %lld\n", (long long)trt_tensor_dim(cy, 0), (long long)trt_tensor_dim(cy, 1),
           (long long)trt_tensor_dim(cy, 2), (long long)trt_tensor_dim(cy, 3));
    print_floats("conv", cy);
    trt_decref(cy);
    trt_decref(cx);
    trt_decref(ck);

    /* report: print from the program, a reduction */
    const int64_t rs[2] = {3, 4};
    trt_tensor *r = floats(2, rs, 5, 11, 4.0f);
    float total = 0;
    if (!r || report(ctx, r, 0.5f, &total)) return fail("report");
    printf("report: %.9g\n", total);

    /* errors: each comes back in the context, with the program's source location where there is one */
    const int64_t bad[2] = {3, 6};
    trt_tensor *x6 = trt_tensor_zeros(ctx, TRT_FLOAT32, 2, bad);
    expected("named_dim", layer(ctx, x6, w, &y));
    expected("dtype", layer(ctx, x, x, &y));
    expected("static_dim", report(ctx, x, 1.0f, &total));
    expected("null", report(ctx, NULL, 1.0f, &total));
    uint8_t corrupt[14];
    memset(corrupt, 0x55, sizeof corrupt);
    corrupt[3] = 0xFF;
    trt_tensor *none = trt_ternary_new(ctx, 2, ws, corrupt, TRT_SCALE_TENSOR, &scale);
    expected("corrupt", none == NULL);
    const int8_t two[1] = {2};
    const int64_t one[1] = {1};
    none = trt_ternary_from_trits(ctx, 1, one, two, TRT_SCALE_TENSOR, &scale);
    expected("trit_value", none == NULL);
    trt_str *path = trt_str_new(ctx, "w.safetensors", 13);
    trt_tensor *loaded = NULL;
    expected("weights", load(ctx, path, &loaded));
    trt_str_decref(path);

    /* the context works again after trt_clear_error */
    if (report(ctx, r, 2.0f, &total)) return fail("report after errors");
    printf("report_again: %.9g\n", total);

    trt_decref(x6);
    trt_decref(r);
    trt_decref(x);
    trt_decref(w);
    trt_ctx_free(ctx);
    return 0;
}
