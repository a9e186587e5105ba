/*
 * N-API binding: one function per op of src/tensor/backend.ts, same argument order. Typed arrays are used
 * in place (zero-copy); every size is a checked integer, every product of sizes is overflow-checked
 * (checked_size), and every length is checked against the shapes before any kernel runs, so a wrong
 * call throws a RangeError / TypeError instead of touching memory it does not own.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cpu.h"
#include "fused.h"
#include "memory.h"
#include "ops.h"
#include "pool.h"
#include "sample.h"
#include "screen.h"
#include "stream.h"

/* OpenBLAS extensions (declared here too in case the cblas.h found is not OpenBLAS's own) */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);

/* ---- argument helpers (each throws and returns 0 on failure) ------------------------------------- */

typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[16];
  size_t argc;
} call_t;

/* Throws "native <fn>: <message>" as a RangeError (range) or TypeError; returns 0. */
__attribute__((format(printf, 3, 4))) static int failf(call_t *c, int range, const char *fmt, ...) {
  char body[400], msg[460];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  snprintf(msg, sizeof msg, "native %s: %s", c->fn, body);
  if (range)
    napi_throw_range_error(c->env, NULL, msg);
  else
    napi_throw_type_error(c->env, NULL, msg);
  return 0;
}

/* failf with one string and two integers (the older helper most bindings use) */
static int fail(call_t *c, int range, const char *fmt, const char *a, long long x, long long y) {
  return failf(c, range, fmt, a, x, y);
}

static int begin(call_t *c, napi_env env, napi_callback_info info, const char *fn) {
  c->env = env;
  c->fn = fn;
  c->argc = 16;
  return napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) == napi_ok;
}

static int value_nullish(call_t *c, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(c->env, v, &t) != napi_ok) return 0;
  return t == napi_null || t == napi_undefined;
}

static int is_nullish(call_t *c, size_t i) { return i >= c->argc || value_nullish(c, c->argv[i]); }

static const char *typed_msg(napi_typedarray_type want) {
  return want == napi_float32_array   ? "%s must be a Float32Array"
         : want == napi_float64_array ? "%s must be a Float64Array"
         : want == napi_uint16_array  ? "%s must be a Uint16Array"
                                      : "%s must be an Int32Array";
}

/* whether v is a typed array of type `want` (nothing is thrown): then its data and length */
static int typed_peek(napi_env env, napi_value v, napi_typedarray_type want, void **data, int64_t *len) {
  bool is = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *ptr = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok || type != want) return 0;
  *data = ptr;
  *len = (int64_t)length;
  return 1;
}

/* v is a typed array of type `want` (TypeError naming `name` if not): its data and length */
static int typed_value(call_t *c, napi_value v, const char *name, napi_typedarray_type want, void **data, int64_t *len) {
  return typed_peek(c->env, v, want, data, len) || fail(c, 0, typed_msg(want), name, 0, 0);
}

static int typed(call_t *c, size_t i, const char *name, napi_typedarray_type want, void **data, int64_t *len,
                 int nullable) {
  if (nullable && is_nullish(c, i)) {
    *data = NULL;
    *len = 0;
    return 1;
  }
  if (i >= c->argc) return fail(c, 0, typed_msg(want), name, 0, 0);
  return typed_value(c, c->argv[i], name, want, data, len);
}

/* Element counts, byte counts and pointer offsets computed from JS sizes all stay below this. */
#define LR_MAX_ELEMS ((int64_t)1 << 56)

/* "2, 3, 4" */
static void list_sizes(char *buf, size_t cap, const int64_t *f, size_t n) {
  buf[0] = 0;
  for (size_t i = 0, at = 0; i < n && at < cap; i++)
    at += (size_t)snprintf(buf + at, cap - at, "%s%lld", i ? ", " : "", (long long)f[i]);
}

/* *out = f[0] * ... * f[n-1] (sizes from dim()), or a RangeError naming what it sizes (`what`, with the
 * factors' names `dims`) when the product overflows or passes LR_MAX_ELEMS. Every size product computed
 * from JS numbers goes through here (the SIZE, F32 and I32 macros). */
static int checked_size(call_t *c, const char *what, const char *dims, const int64_t *f, size_t n, int64_t *out) {
  int64_t p = 1;
  int bad = 0;
  for (size_t i = 0; i < n && !bad; i++) bad = f[i] < 0 || __builtin_mul_overflow(p, f[i], &p) || p > LR_MAX_ELEMS;
  if (!bad) {
    *out = p;
    return 1;
  }
  char vals[120];
  list_sizes(vals, sizeof vals, f, n);
  char msg[320];
  snprintf(msg, sizeof msg, "native %s: %s needs [%s] = [%s] elements, a product that overflows (limit 2^56)", c->fn,
           what, dims, vals);
  napi_throw_range_error(c->env, NULL, msg);
  return 0;
}

/* RangeError: buffer `name` holds fewer elements than the shapes `dims` (values f) need */
static int short_buffer(call_t *c, const char *name, int64_t len, const char *dims, const int64_t *f, size_t n,
                        int64_t need) {
  char vals[120], msg[320];
  list_sizes(vals, sizeof vals, f, n);
  snprintf(msg, sizeof msg, "native %s: %s has %lld elements, the shapes [%s] = [%s] need %lld", c->fn, name,
           (long long)len, dims, vals, (long long)need);
  napi_throw_range_error(c->env, NULL, msg);
  return 0;
}

#define LR_DIMS(...) \
  #__VA_ARGS__, (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)
/* SIZE("what", &n, A, B, ...): n = A * B * ... checked */
#define SIZE(what, out, ...) checked_size(c, what, LR_DIMS(__VA_ARGS__), out)

/* argument i is a typed array of type `want` with at least the elements the shapes `dims` (values f) need */
static int shaped(call_t *c, size_t i, const char *name, napi_typedarray_type want, void **p, int nullable,
                  const char *dims, const int64_t *f, size_t n) {
  int64_t len = 0, need = 0;
  if (!checked_size(c, name, dims, f, n, &need)) return 0;
  if (!typed(c, i, name, want, p, &len, nullable)) return 0;
  if (nullable && is_nullish(c, i)) return 1; /* (an empty array may have a NULL pointer too: not the same) */
  if (len < need) return short_buffer(c, name, len, dims, f, n, need);
  return 1;
}

/* F32(i, "name", &p, nullable, dims...): argument i is a Float32Array of at least dims[0] * dims[1] * ...
 * (I32: an Int32Array, F64: a Float64Array) */
#define F32(i, name, p, nullable, ...) shaped(c, i, name, napi_float32_array, (void **)(p), nullable, LR_DIMS(__VA_ARGS__))
#define I32(i, name, p, nullable, ...) shaped(c, i, name, napi_int32_array, (void **)(p), nullable, LR_DIMS(__VA_ARGS__))
#define F64(i, name, p, nullable, ...) shaped(c, i, name, napi_float64_array, (void **)(p), nullable, LR_DIMS(__VA_ARGS__))

static int num(call_t *c, size_t i, const char *name, double *out) {
  if (i >= c->argc || napi_get_value_double(c->env, c->argv[i], out) != napi_ok)
    return fail(c, 0, "%s must be a number", name, 0, 0);
  return 1;
}

/* a non-negative integer size */
static int dim(call_t *c, size_t i, const char *name, int64_t *out) {
  double d;
  if (!num(c, i, name, &d)) return 0;
  if (!(d >= 0 && d <= 2147483647.0 && floor(d) == d)) {
    char msg[160];
    snprintf(msg, sizeof msg, "native %s: %s must be a non-negative integer below 2^31 (got %g)", c->fn, name, d);
    napi_throw_range_error(c->env, NULL, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

static int flag(call_t *c, size_t i, int *out) {
  bool b = false;
  *out = 0;
  if (i >= c->argc) return 1;
  napi_value v;
  if (napi_coerce_to_bool(c->env, c->argv[i], &v) != napi_ok || napi_get_value_bool(c->env, v, &b) != napi_ok)
    return 0;
  *out = b ? 1 : 0;
  return 1;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static int oom(call_t *c) {
  napi_throw_error(c->env, NULL, "native: out of memory for a scratch buffer");
  return 0;
}

#define BEGIN(name)                                   \
  call_t c_;                                          \
  call_t *c = &c_;                                    \
  if (!begin(c, env, info, name)) return NULL;
#define CHECK(x) \
  if (!(x)) return NULL;

/* ---- ops ------------------------------------------------------------------------------------------ */

static int half_arg(call_t *c, size_t i, lr_half **out) {
  *out = NULL;
  if (is_nullish(c, i)) return 1;
  void *p = NULL;
  if (napi_get_value_external(c->env, c->argv[i], &p) != napi_ok) return fail(c, 0, "%s must be a half-weights handle or null", "half", 0, 0);
  *out = p;
  return 1;
}

/* matmul(out, a, b, M, N, K, transA, transB, alpha, beta, half?) */
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  BEGIN("matmul");
  int64_t M, N, K;
  int ta, tb;
  double alpha, beta;
  float *out, *a, *b;
  CHECK(dim(c, 3, "M", &M) && dim(c, 4, "N", &N) && dim(c, 5, "K", &K) && flag(c, 6, &ta) && flag(c, 7, &tb));
  CHECK(num(c, 8, "alpha", &alpha) && num(c, 9, "beta", &beta));
  CHECK(F32(0, "out", &out, 0, M, N) && F32(1, "a", &a, 0, M, K) && F32(2, "b", &b, 0, K, N));
  lr_half *half;
  CHECK(half_arg(c, 10, &half));
  lr_matmul(out, a, b, M, N, K, ta, tb, (float)alpha, (float)beta, half);
  return undef(env);
}

/* addBias(out, bias, M, N) */
static napi_value js_add_bias(napi_env env, napi_callback_info info) {
  BEGIN("addBias");
  int64_t M, N;
  float *out, *bias;
  CHECK(dim(c, 2, "M", &M) && dim(c, 3, "N", &N));
  CHECK(F32(0, "out", &out, 0, M, N) && F32(1, "bias", &bias, 0, N));
  lr_add_bias(out, bias, M, N);
  return undef(env);
}

/* biasBackward(dbias, dout, M, N, accumulate) */
static napi_value js_bias_backward(napi_env env, napi_callback_info info) {
  BEGIN("biasBackward");
  int64_t M, N;
  int acc;
  float *dbias, *dout;
  CHECK(dim(c, 2, "M", &M) && dim(c, 3, "N", &N) && flag(c, 4, &acc));
  CHECK(F32(0, "dbias", &dbias, 0, N) && F32(1, "dout", &dout, 0, M, N));
  lr_bias_backward(dbias, dout, M, N, acc); /* both cores, by column blocks */
  return undef(env);
}

/* add(out, a, b, n) */
static napi_value js_add(napi_env env, napi_callback_info info) {
  BEGIN("add");
  int64_t n;
  float *out, *a, *b;
  CHECK(dim(c, 3, "n", &n));
  CHECK(F32(0, "out", &out, 0, n) && F32(1, "a", &a, 0, n) && F32(2, "b", &b, 0, n));
  lr_add(out, a, b, n);
  return undef(env);
}

/* axpy(y, x, alpha, n) */
static napi_value js_axpy(napi_env env, napi_callback_info info) {
  BEGIN("axpy");
  int64_t n;
  double alpha;
  float *y, *x;
  CHECK(num(c, 2, "alpha", &alpha) && dim(c, 3, "n", &n));
  CHECK(F32(0, "y", &y, 0, n) && F32(1, "x", &x, 0, n));
  if (y == x) { /* y += alpha * y: the restrict-qualified kernel must not see aliasing */
    for (int64_t i = 0; i < n; i++) y[i] = y[i] + (float)alpha * y[i];
  } else {
    lr_axpy(y, x, (float)alpha, n);
  }
  return undef(env);
}

/* layernormForward(out, mean, rstd, x, weight, bias, N, C, eps) */
static napi_value js_layernorm_forward(napi_env env, napi_callback_info info) {
  BEGIN("layernormForward");
  int64_t N, C;
  double eps;
  float *out, *mean, *rstd, *x, *w, *b;
  CHECK(dim(c, 6, "N", &N) && dim(c, 7, "C", &C) && num(c, 8, "eps", &eps));
  CHECK(F32(0, "out", &out, 0, N, C) && F32(1, "mean", &mean, 0, N) && F32(2, "rstd", &rstd, 0, N));
  CHECK(F32(3, "x", &x, 0, N, C) && F32(4, "weight", &w, 0, C) && F32(5, "bias", &b, 0, C));
  lr_layernorm_forward(out, mean, rstd, x, w, b, N, C, (float)eps);
  return undef(env);
}

/* layernormBackward(dx, dweight|null, dbias|null, dout, x, weight, mean, rstd, N, C, accumulate) */
static napi_value js_layernorm_backward(napi_env env, napi_callback_info info) {
  BEGIN("layernormBackward");
  int64_t N, C;
  int acc;
  float *dx, *dw, *db, *dout, *x, *w, *mean, *rstd;
  CHECK(dim(c, 8, "N", &N) && dim(c, 9, "C", &C) && flag(c, 10, &acc));
  CHECK(F32(0, "dx", &dx, 0, N, C) && F32(1, "dweight", &dw, 1, C) && F32(2, "dbias", &db, 1, C));
  CHECK(F32(3, "dout", &dout, 0, N, C) && F32(4, "x", &x, 0, N, C) && F32(5, "weight", &w, 0, C));
  CHECK(F32(6, "mean", &mean, 0, N) && F32(7, "rstd", &rstd, 0, N));
  lr_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C, acc);
  return undef(env);
}

/* geluForward(out, x, n) */
static napi_value js_gelu_forward(napi_env env, napi_callback_info info) {
  BEGIN("geluForward");
  int64_t n;
  float *out, *x;
  CHECK(dim(c, 2, "n", &n));
  CHECK(F32(0, "out", &out, 0, n) && F32(1, "x", &x, 0, n));
  lr_gelu_forward(out, x, n);
  return undef(env);
}

/* geluBackward(dx, x, dout, n) */
static napi_value js_gelu_backward(napi_env env, napi_callback_info info) {
  BEGIN("geluBackward");
  int64_t n;
  float *dx, *x, *dout;
  CHECK(dim(c, 3, "n", &n));
  CHECK(F32(0, "dx", &dx, 0, n) && F32(1, "x", &x, 0, n) && F32(2, "dout", &dout, 0, n));
  lr_gelu_backward(dx, x, dout, n);
  return undef(env);
}

static int heads(call_t *c, int64_t C, int64_t NH) {
  if (NH <= 0 || C % NH != 0) return fail(c, 1, "%sC (%lld) must be a positive multiple of NH (%lld)", "", C, NH);
  return 1;
}

/* the attention kernels pass 3C to BLAS as an int */
static int qkv_row(call_t *c, int64_t C) {
  if (3 * C > 2147483647) return fail(c, 1, "%sC (%lld) must be below 2^31 / 3 (a qkv row holds 3C floats)", "", C, 0);
  return 1;
}

/* optional number argument (undefined -> def) */
static int opt_num(call_t *c, size_t i, const char *name, double def, double *out) {
  if (is_nullish(c, i)) {
    *out = def;
    return 1;
  }
  return num(c, i, name, out);
}

/* ToUint32, as `x >>> 0` does */
static uint32_t to_uint32(double x) {
  if (!isfinite(x)) return 0;
  double t = fmod(trunc(x), 4294967296.0);
  if (t < 0) t += 4294967296.0;
  return (uint32_t)t;
}

/* attentionForward(out, att, qkv, keyMask|null, B, T, C, NH, dropoutP?, dropoutSeed?) */
static napi_value js_attention_forward(napi_env env, napi_callback_info info) {
  BEGIN("attentionForward");
  int64_t B, T, C, NH;
  float *out, *att, *qkv;
  int32_t *mask;
  CHECK(dim(c, 4, "B", &B) && dim(c, 5, "T", &T) && dim(c, 6, "C", &C) && dim(c, 7, "NH", &NH) && heads(c, C, NH));
  int64_t scratch; /* the kernels' [3, T, T] scratch */
  CHECK(SIZE("the attention scratch", &scratch, 3, T, T) && qkv_row(c, C));
  CHECK(F32(0, "out", &out, 0, B, T, C) && F32(1, "att", &att, 0, B, NH, T, T));
  CHECK(F32(2, "qkv", &qkv, 0, B, T, 3, C) && I32(3, "keyMask", &mask, 1, B, T));
  double dp, ds;
  CHECK(opt_num(c, 8, "dropoutP", 0, &dp) && opt_num(c, 9, "dropoutSeed", 0, &ds));
  CHECK(lr_attention_forward(out, att, qkv, mask, B, T, C, NH, dp, to_uint32(ds)) == 0 || oom(c));
  return undef(env);
}

/* attentionBackward(dqkv, dout, qkv, att, B, T, C, NH, dropoutP?, dropoutSeed?) */
static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  BEGIN("attentionBackward");
  int64_t B, T, C, NH;
  float *dqkv, *dout, *qkv, *att;
  CHECK(dim(c, 4, "B", &B) && dim(c, 5, "T", &T) && dim(c, 6, "C", &C) && dim(c, 7, "NH", &NH) && heads(c, C, NH));
  int64_t scratch; /* the kernels' [3, T, T] scratch */
  CHECK(SIZE("the attention scratch", &scratch, 3, T, T) && qkv_row(c, C));
  CHECK(F32(0, "dqkv", &dqkv, 0, B, T, 3, C) && F32(1, "dout", &dout, 0, B, T, C));
  CHECK(F32(2, "qkv", &qkv, 0, B, T, 3, C) && F32(3, "att", &att, 0, B, NH, T, T));
  double dp, ds;
  CHECK(opt_num(c, 8, "dropoutP", 0, &dp) && opt_num(c, 9, "dropoutSeed", 0, &ds));
  CHECK(lr_attention_backward(dqkv, dout, qkv, att, B, T, C, NH, dp, to_uint32(ds)) == 0 || oom(c));
  return undef(env);
}

/* A KV cache's element type: a Float32Array holds floats, a Uint16Array fp16 values (IEEE binary16 bits).
 * *half from v; a TypeError naming `name` when it is neither. */
static int cache_type(call_t *c, napi_value v, const char *name, int *half) {
  void *p;
  int64_t n;
  *half = typed_peek(c->env, v, napi_uint16_array, &p, &n);
  if (*half || typed_peek(c->env, v, napi_float32_array, &p, &n)) return 1;
  return fail(c, 0, "%s must be a Float32Array (fp32 cache) or a Uint16Array (fp16 cache)", name, 0, 0);
}

/* attentionCached(out, qkv, kCache, vCache, keyMask|null, past, B, Tq, C, NH, S): caches both Float32Arrays
 * or both Uint16Arrays (fp16) */
static napi_value js_attention_cached(napi_env env, napi_callback_info info) {
  BEGIN("attentionCached");
  int64_t past, B, Tq, C, NH, S;
  float *out, *qkv;
  void *kc, *vc;
  int32_t *mask;
  int half = 0, vhalf = 0;
  CHECK(dim(c, 5, "past", &past) && dim(c, 6, "B", &B) && dim(c, 7, "Tq", &Tq) && dim(c, 8, "C", &C));
  CHECK(dim(c, 9, "NH", &NH) && dim(c, 10, "S", &S) && heads(c, C, NH) && qkv_row(c, C));
  int64_t scratch; /* the kernel's [Tq, S] scores */
  CHECK(SIZE("the attention scratch", &scratch, Tq, S));
  if (past + Tq > S) {
    fail(c, 1, "%spast + Tq (%lld) exceeds the cache's S slots (%lld)", "", past + Tq, S);
    return NULL;
  }
  CHECK(F32(0, "out", &out, 0, B, Tq, C) && F32(1, "qkv", &qkv, 0, B, Tq, 3, C));
  if (c->argc < 4) CHECK(fail(c, 0, "%skCache and vCache must be Float32Arrays (fp32 caches) or Uint16Arrays (fp16)", "", 0, 0));
  CHECK(cache_type(c, c->argv[2], "kCache", &half) && cache_type(c, c->argv[3], "vCache", &vhalf));
  if (half != vhalf)
    CHECK(fail(c, 0, "%skCache and vCache must be of one type (both Float32Arrays or both Uint16Arrays)", "", 0, 0));
  const napi_typedarray_type ct = half ? napi_uint16_array : napi_float32_array;
  CHECK(shaped(c, 2, "kCache", ct, &kc, 0, LR_DIMS(B, S, C)) && shaped(c, 3, "vCache", ct, &vc, 0, LR_DIMS(B, S, C)));
  CHECK(I32(4, "keyMask", &mask, 1, B, S));
  CHECK(lr_attention_cached(out, qkv, kc, vc, half, mask, past, B, Tq, C, NH, S) == 0 || oom(c));
  return undef(env);
}

/* ---- attentionRows: one decode step of rows with their own caches ---------------------------------- */

/* rows of one attentionRows call at most (the row table is allocated per call) */
#define LR_MAX_ROWS 4096

/* Entries b of kCaches, vCaches, keyMasks, read before any buffer's pointer is taken: reading an array's
 * entry may run JS (a getter), which could detach a buffer read earlier. */
typedef struct {
  napi_value k, v, m;
} row_args;

/* argument i is a JS array of B entries: *arr */
static int rows_array(call_t *c, size_t i, const char *name, const char *of, int64_t B, napi_value *arr) {
  bool is = false;
  uint32_t n = 0;
  if (i >= c->argc || napi_is_array(c->env, c->argv[i], &is) != napi_ok || !is)
    return failf(c, 0, "%s must be an array of B %s (one per row)", name, of);
  if (napi_get_array_length(c->env, c->argv[i], &n) != napi_ok) return 0;
  if ((int64_t)n != B) return failf(c, 1, "%s has length %u, but B is %lld (one entry per row)", name, n, (long long)B);
  *arr = c->argv[i];
  return 1;
}

static int rows_entries(call_t *c, row_args *a, int64_t B) {
  napi_value ks, vs, ms;
  if (!rows_array(c, 2, "kCaches", "Float32Arrays or Uint16Arrays", B, &ks) ||
      !rows_array(c, 3, "vCaches", "Float32Arrays or Uint16Arrays", B, &vs) ||
      !rows_array(c, 4, "keyMasks", "Int32Arrays or nulls", B, &ms))
    return 0;
  for (int64_t b = 0; b < B; b++)
    if (napi_get_element(c->env, ks, (uint32_t)b, &a[b].k) != napi_ok ||
        napi_get_element(c->env, vs, (uint32_t)b, &a[b].v) != napi_ok ||
        napi_get_element(c->env, ms, (uint32_t)b, &a[b].m) != napi_ok)
      return 0;
  return 1;
}

/* row b's typed array v (what[b]); its name is formatted only for an error (a step checks 48 of these) */
static int row_typed(call_t *c, napi_value v, const char *what, int64_t b, napi_typedarray_type want, void **data, int64_t *len) {
  if (typed_peek(c->env, v, want, data, len)) return 1;
  char name[32];
  snprintf(name, sizeof name, "%s[%lld]", what, (long long)b);
  return typed_value(c, v, name, want, data, len);
}

/* Row b: caches kCaches[b], vCaches[b] of the same length, a multiple of C (S = length / C slots) with a
 * slot for its new position pasts[b]; keyMasks[b] null or an Int32Array of S. */
static int row_check(call_t *c, const row_args *a, int64_t b, int64_t C, int64_t past, lr_att_row *r) {
  const long long bb = (long long)b;
  int64_t kl, vl, ml = 0;
  void *mask = NULL;
  if (typed_peek(c->env, a->k, napi_uint16_array, &r->kc, &kl))
    r->half = 1; /* an fp16 cache */
  else if (typed_peek(c->env, a->k, napi_float32_array, &r->kc, &kl))
    r->half = 0;
  else
    return failf(c, 0, "kCaches[%lld] must be a Float32Array (fp32 cache) or a Uint16Array (fp16 cache)", bb);
  if (kl % C != 0) return failf(c, 1, "kCaches[%lld] has %lld elements, not a multiple of C (%lld): a cache is [NH, S, hs]", bb, (long long)kl, (long long)C);
  r->S = kl / C;
  if (past < 0) return failf(c, 1, "pasts[%lld] is %lld: a position must be >= 0", bb, (long long)past);
  if (past >= r->S)
    return failf(c, 1, "kCaches[%lld] holds %lld slots (%lld elements / C), but row %lld's new position pasts[%lld] = %lld needs %lld",
                 bb, (long long)r->S, (long long)kl, bb, bb, (long long)past, (long long)past + 1);
  if (!typed_peek(c->env, a->v, r->half ? napi_uint16_array : napi_float32_array, &r->vc, &vl))
    return failf(c, 0, "vCaches[%lld] must be a %s, as kCaches[%lld] is (a row's two caches are of one type)", bb,
                 r->half ? "Uint16Array" : "Float32Array", bb);
  if (vl != kl) return failf(c, 1, "vCaches[%lld] has %lld elements, but kCaches[%lld] has %lld: a row's two caches are the same size", bb, (long long)vl, bb, (long long)kl);
  if (!value_nullish(c, a->m)) {
    if (!row_typed(c, a->m, "keyMasks", b, napi_int32_array, &mask, &ml)) return 0;
    if (ml != r->S) return failf(c, 1, "keyMasks[%lld] has %lld elements, but kCaches[%lld] holds %lld slots: a mask has one per slot", bb, (long long)ml, bb, (long long)r->S);
  }
  r->mask = mask;
  r->past = past;
  return 1;
}

typedef struct {
  uintptr_t lo, hi; /* bytes [lo, hi) */
  int64_t row;
  int v;
} span_t;

static int span_cmp(const void *a, const void *b) {
  const uintptr_t x = ((const span_t *)a)->lo, y = ((const span_t *)b)->lo;
  return x < y ? -1 : x > y;
}

/* No two caches of the step share memory: the rows write them in parallel. */
static int caches_apart(call_t *c, const lr_att_row *rows, int64_t B, int64_t C) {
  span_t *sp = malloc(sizeof *sp * (size_t)(2 * B));
  if (!sp) return oom(c);
  for (int64_t b = 0; b < B; b++) {
    const uintptr_t bytes = (rows[b].half ? 2u : 4u) * (uintptr_t)(rows[b].S * C);
    sp[2 * b] = (span_t){(uintptr_t)rows[b].kc, (uintptr_t)rows[b].kc + bytes, b, 0};
    sp[2 * b + 1] = (span_t){(uintptr_t)rows[b].vc, (uintptr_t)rows[b].vc + bytes, b, 1};
  }
  qsort(sp, (size_t)(2 * B), sizeof *sp, span_cmp);
  int ok = 1;
  for (int64_t i = 1; i < 2 * B && ok; i++)
    if (sp[i].lo < sp[i - 1].hi)
      ok = failf(c, 1, "%s[%lld] and %s[%lld] share memory: every row's caches must be its own (they are written)",
                 sp[i - 1].v ? "vCaches" : "kCaches", (long long)sp[i - 1].row, sp[i].v ? "vCaches" : "kCaches",
                 (long long)sp[i].row);
  free(sp);
  return ok;
}

/* attentionRows(out, qkv, kCaches, vCaches, keyMasks, pasts, B, C, NH): everything is checked before any
 * row is computed, so a bad row leaves every cache as it was */
static napi_value js_attention_rows(napi_env env, napi_callback_info info) {
  BEGIN("attentionRows");
  int64_t B, C, NH;
  CHECK(dim(c, 6, "B", &B) && dim(c, 7, "C", &C) && dim(c, 8, "NH", &NH) && heads(c, C, NH) && qkv_row(c, C));
  if (B > LR_MAX_ROWS) CHECK(fail(c, 1, "%sB (%lld) must be at most %lld rows", "", B, LR_MAX_ROWS));
  if (C == 0) CHECK(fail(c, 1, "%sC must be positive (a cache holds length / C slots)", "", 0, 0));
  row_args *args = malloc(sizeof *args * (size_t)(B > 0 ? B : 1));
  lr_att_row *rows = malloc(sizeof *rows * (size_t)(B > 0 ? B : 1));
  float *out, *qkv;
  int32_t *pasts;
  int ok = (args && rows) || oom(c);
  ok = ok && rows_entries(c, args, B); /* the last step that may run JS */
  ok = ok && F32(0, "out", &out, 0, B, C) && F32(1, "qkv", &qkv, 0, B, 3, C) && I32(5, "pasts", &pasts, 0, B);
  for (int64_t b = 0; ok && b < B; b++) ok = row_check(c, &args[b], b, C, pasts[b], &rows[b]);
  ok = ok && caches_apart(c, rows, B, C);
  ok = ok && (lr_attention_rows(out, qkv, rows, B, C, NH) == 0 || oom(c));
  free(args);
  free(rows);
  return ok ? undef(env) : NULL;
}

/* ---- loraRows: LoRA of a decode step, each row with its own adapters --------------------------------- */

/* adapters of one loraRows call at most (their table is allocated per call) */
#define LR_MAX_ADAPTERS 4096

/* whether n floats at p and m floats at q share memory */
static int overlaps(const void *p, int64_t n, const void *q, int64_t m) {
  const uintptr_t a = (uintptr_t)p, b = (uintptr_t)q;
  return n > 0 && m > 0 && a < b + sizeof(float) * (uintptr_t)m && b < a + sizeof(float) * (uintptr_t)n;
}

/* loraRows(y, x, As, Bs, weights, B, inDim, outDim): every factor is checked before any row is computed */
static napi_value js_lora_rows(napi_env env, napi_callback_info info) {
  BEGIN("loraRows");
  int64_t B, inDim, outDim;
  CHECK(dim(c, 5, "B", &B) && dim(c, 6, "inDim", &inDim) && dim(c, 7, "outDim", &outDim));
  napi_value as, bs;
  bool isA = false, isB = false;
  uint32_t K = 0, KB = 0;
  if (c->argc < 4 || napi_is_array(env, c->argv[2], &isA) != napi_ok || !isA || napi_is_array(env, c->argv[3], &isB) != napi_ok || !isB)
    CHECK(fail(c, 0, "%sAs and Bs must be arrays with one entry per adapter (a Float32Array, or null where it has no factors)", "", 0, 0));
  as = c->argv[2];
  bs = c->argv[3];
  CHECK(napi_get_array_length(env, as, &K) == napi_ok && napi_get_array_length(env, bs, &KB) == napi_ok);
  if (K != KB) CHECK(fail(c, 1, "%sAs has %lld entries but Bs has %lld: one of each per adapter", "", (long long)K, (long long)KB));
  if (K > LR_MAX_ADAPTERS) CHECK(fail(c, 1, "%sAs has %lld entries: at most %lld adapters", "", (long long)K, LR_MAX_ADAPTERS));
  napi_value *el = malloc(sizeof *el * (size_t)(2 * K + 1));
  lr_lora_factor *f = malloc(sizeof *f * (size_t)(K + 1));
  int ok = (el && f) || oom(c);
  /* every entry first: reading one may run JS (a getter), which could detach a buffer whose pointer was taken */
  for (uint32_t k = 0; ok && k < K; k++)
    ok = napi_get_element(env, as, k, &el[2 * k]) == napi_ok && napi_get_element(env, bs, k, &el[2 * k + 1]) == napi_ok;
  float *y = NULL, *x = NULL, *w = NULL;
  ok = ok && F32(0, "y", &y, 0, B, outDim) && F32(1, "x", &x, 0, B, inDim) && F32(4, "weights", &w, 0, B, (int64_t)K);
  for (uint32_t k = 0; ok && k < K; k++) {
    const int nullA = value_nullish(c, el[2 * k]), nullB = value_nullish(c, el[2 * k + 1]);
    f[k] = (lr_lora_factor){NULL, NULL, 0};
    if (nullA && nullB) continue;
    char an[24], bn[24];
    snprintf(an, sizeof an, "As[%u]", k);
    snprintf(bn, sizeof bn, "Bs[%u]", k);
    if (nullA != nullB) {
      ok = failf(c, 0, "%s is %s but %s is not: an adapter has both factors at a site or neither", nullA ? an : bn, "null", nullA ? bn : an);
      break;
    }
    int64_t la = 0, lb = 0;
    ok = typed_value(c, el[2 * k], an, napi_float32_array, (void **)&f[k].A, &la) &&
         typed_value(c, el[2 * k + 1], bn, napi_float32_array, (void **)&f[k].B, &lb);
    if (!ok) break;
    if (inDim == 0 || la % inDim != 0) {
      ok = failf(c, 1, "%s has %lld elements, not a positive multiple of inDim (%lld): A is [r, inDim]", an, (long long)la, (long long)inDim);
      break;
    }
    f[k].r = la / inDim;
    if (lb != outDim * f[k].r) {
      ok = failf(c, 1, "%s has %lld elements, but B is [outDim, r] = [%lld, %lld] (r from %s)", bn, (long long)lb, (long long)outDim,
                 (long long)f[k].r, an);
      break;
    }
    if (overlaps(y, B * outDim, f[k].A, la) || overlaps(y, B * outDim, f[k].B, lb)) {
      ok = failf(c, 1, "y shares memory with adapter %u's factors (%s or %s): y is written while they are read", k, an, bn);
      break;
    }
  }
  if (ok && overlaps(y, B * outDim, x, B * inDim)) ok = failf(c, 1, "y and x share memory: y is written while x is read%s", "");
  ok = ok && (lr_lora_rows(y, x, f, (int64_t)K, w, B, inDim, outDim) == 0 || oom(c));
  free(el);
  free(f);
  return ok ? undef(env) : NULL;
}

/* ---- sampleRows: tokens of a decode step's sampled rows ---------------------------------------------- */

/* sampleRows(out, x, rows, V, temperatures, topKs, topPs, draws): every row's settings are checked
 * before any is sampled */
static napi_value js_sample_rows(napi_env env, napi_callback_info info) {
  BEGIN("sampleRows");
  int64_t rows, V;
  int32_t *out, *topKs;
  float *x;
  double *temps, *topPs, *draws;
  CHECK(dim(c, 2, "rows", &rows) && dim(c, 3, "V", &V));
  if (rows > 0 && V == 0) CHECK(fail(c, 1, "%sV must be at least 1 (each of the %lld rows needs a token)", "", rows, 0));
  CHECK(I32(0, "out", &out, 0, rows) && F32(1, "x", &x, 0, rows, V) && F64(4, "temperatures", &temps, 0, rows) &&
        I32(5, "topKs", &topKs, 0, rows) && F64(6, "topPs", &topPs, 0, rows) && F64(7, "draws", &draws, 0, rows));
  for (int64_t r = 0; r < rows; r++) {
    if (!(temps[r] > 0.0 && isfinite(temps[r])))
      CHECK(failf(c, 1, "temperatures[%lld] is %g: a sampled row's temperature is a positive finite number (greedy rows go to argmaxRows)", (long long)r, temps[r]));
    if (topKs[r] < 0) CHECK(failf(c, 1, "topKs[%lld] is %d: top-k is >= 0 (0: no limit)", (long long)r, topKs[r]));
    if (!(topPs[r] > 0.0)) CHECK(failf(c, 1, "topPs[%lld] is %g: top-p is a mass in (0, 1] (1: off)", (long long)r, topPs[r]));
    if (!(draws[r] >= 0.0 && draws[r] < 1.0)) CHECK(failf(c, 1, "draws[%lld] is %g: a draw is uniform in [0, 1)", (long long)r, draws[r]));
  }
  lr_sample_row *rs = malloc(sizeof *rs * (size_t)(rows > 0 ? rows : 1));
  if (!rs) CHECK(oom(c));
  for (int64_t r = 0; r < rows; r++) rs[r] = (lr_sample_row){temps[r], topKs[r], topPs[r], draws[r]};
  const int rc = lr_sample_rows(out, x, rs, rows, V);
  free(rs);
  if (rc != 0) CHECK(oom(c));
  return undef(env);
}

/* argmaxRows(out, x, rows, V) */
static napi_value js_argmax_rows(napi_env env, napi_callback_info info) {
  BEGIN("argmaxRows");
  int64_t rows, V;
  int32_t *out;
  float *x;
  CHECK(dim(c, 2, "rows", &rows) && dim(c, 3, "V", &V));
  if (rows > 0 && V == 0) CHECK(fail(c, 1, "%sV must be at least 1 (each of the %lld rows needs a value)", "", rows, 0));
  CHECK(I32(0, "out", &out, 0, rows) && F32(1, "x", &x, 0, rows, V));
  lr_argmax_rows(out, x, rows, V);
  return undef(env);
}

/* argmaxLogits(out, x, w, rows, V, C, half?): the argmax of each row of x [rows, C] @ w^T, w [V, C] (screen.h) */
static napi_value js_argmax_logits(napi_env env, napi_callback_info info) {
  BEGIN("argmaxLogits");
  int64_t rows, V, C;
  int32_t *out;
  float *x, *w;
  CHECK(dim(c, 3, "rows", &rows) && dim(c, 4, "V", &V) && dim(c, 5, "C", &C));
  if (rows > 0 && V == 0) CHECK(fail(c, 1, "%sV must be at least 1 (each of the %lld rows needs a logit)", "", rows, 0));
  CHECK(I32(0, "out", &out, 0, rows) && F32(1, "x", &x, 0, rows, C) && F32(2, "w", &w, 0, V, C));
  lr_half *half;
  CHECK(half_arg(c, 6, &half));
  const int64_t before = lr_screen_bytes(half);
  if (lr_argmax_logits(out, x, w, rows, V, C, half)) CHECK(oom(c));
  int64_t adjusted;
  if (lr_screen_bytes(half) != before) napi_adjust_external_memory(env, lr_screen_bytes(half) - before, &adjusted);
  return undef(env);
}

/* argmaxLogitsBegin(x, w, rows, V, C, half?) -> bool: argmaxLogits's screen started on the pool's workers
 * (rows <= 16, copied), or false where it would not screen (screen.h: lr_argmax_logits_begin) */
static napi_value js_argmax_logits_begin(napi_env env, napi_callback_info info) {
  BEGIN("argmaxLogitsBegin");
  int64_t rows, V, C;
  float *x, *w;
  CHECK(dim(c, 2, "rows", &rows) && dim(c, 3, "V", &V) && dim(c, 4, "C", &C));
  if (rows > 0 && V == 0) CHECK(fail(c, 1, "%sV must be at least 1 (each of the %lld rows needs a logit)", "", rows, 0));
  CHECK(F32(0, "x", &x, 0, rows, C) && F32(1, "w", &w, 0, V, C));
  lr_half *half;
  CHECK(half_arg(c, 5, &half));
  const int64_t before = lr_screen_bytes(half);
  const int started = rows > 0 ? lr_argmax_logits_begin(x, w, rows, V, C, half) : 0;
  if (started < 0) CHECK(oom(c));
  int64_t adjusted;
  if (lr_screen_bytes(half) != before) napi_adjust_external_memory(env, lr_screen_bytes(half) - before, &adjusted);
  napi_value r;
  napi_get_boolean(env, started == 1, &r);
  return r;
}

/* argmaxLogitsEnd(out, rows) -> bool: the tokens of the pending argmaxLogitsBegin of `rows` rows into out
 * [rows]; false (nothing written) where none of that many rows is pending */
static napi_value js_argmax_logits_end(napi_env env, napi_callback_info info) {
  BEGIN("argmaxLogitsEnd");
  int64_t rows;
  int32_t *out;
  CHECK(dim(c, 1, "rows", &rows) && I32(0, "out", &out, 0, rows));
  const int r = rows > 0 && lr_argmax_logits_pending() == rows ? lr_argmax_logits_end(out, rows) : -2;
  if (r == -1) CHECK(oom(c));
  napi_value v;
  napi_get_boolean(env, r == 0, &v);
  return v;
}

static int ids_in_range(call_t *c, const int32_t *ids, int64_t n, int64_t limit, const char *name, const char *table) {
  for (int64_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= limit) {
      char msg[200];
      snprintf(msg, sizeof msg, "native %s: %s holds %lld, outside the rows of %s [0, %lld)", c->fn, name,
               (long long)ids[i], table, (long long)limit);
      napi_throw_range_error(c->env, NULL, msg);
      return 0;
    }
  return 1;
}

/* embeddingForward(out, ids, positions, wte, wpe, BT, C) */
static napi_value js_embedding_forward(napi_env env, napi_callback_info info) {
  BEGIN("embeddingForward");
  int64_t BT, C, nte, npe;
  float *out, *wte, *wpe;
  int32_t *ids, *pos;
  CHECK(dim(c, 5, "BT", &BT) && dim(c, 6, "C", &C));
  CHECK(F32(0, "out", &out, 0, BT, C) && I32(1, "ids", &ids, 0, BT) && I32(2, "positions", &pos, 0, BT));
  CHECK(typed(c, 3, "wte", napi_float32_array, (void **)&wte, &nte, 0) &&
        typed(c, 4, "wpe", napi_float32_array, (void **)&wpe, &npe, 0));
  const int64_t V = C > 0 ? nte / C : 0, P = C > 0 ? npe / C : 0;
  CHECK(C == 0 || (ids_in_range(c, ids, BT, V, "ids", "wte") && ids_in_range(c, pos, BT, P, "positions", "wpe")));
  lr_embedding_forward(out, ids, pos, wte, wpe, BT, C);
  return undef(env);
}

/* embeddingBackward(dwte|null, dwpe|null, dout, ids, positions, BT, C) */
static napi_value js_embedding_backward(napi_env env, napi_callback_info info) {
  BEGIN("embeddingBackward");
  int64_t BT, C, nte = 0, npe = 0;
  float *dwte, *dwpe, *dout;
  int32_t *ids, *pos;
  CHECK(dim(c, 5, "BT", &BT) && dim(c, 6, "C", &C));
  CHECK(typed(c, 0, "dwte", napi_float32_array, (void **)&dwte, &nte, 1) &&
        typed(c, 1, "dwpe", napi_float32_array, (void **)&dwpe, &npe, 1));
  CHECK(F32(2, "dout", &dout, 0, BT, C) && I32(3, "ids", &ids, 0, BT) && I32(4, "positions", &pos, 0, BT));
  const int te = !is_nullish(c, 0), pe = !is_nullish(c, 1); /* given, even empty (then every id is outside it) */
  if (te) CHECK(C == 0 || ids_in_range(c, ids, BT, nte / C, "ids", "dwte"));
  if (pe) CHECK(C == 0 || ids_in_range(c, pos, BT, npe / C, "positions", "dwpe"));
  lr_embedding_backward(te ? dwte : NULL, pe ? dwpe : NULL, dout, ids, pos, BT, C); /* both cores, by column blocks */
  return undef(env);
}

/* crossEntropyForward(losses, logits, targets, N, V) */
static napi_value js_xent_forward(napi_env env, napi_callback_info info) {
  BEGIN("crossEntropyForward");
  int64_t N, V;
  float *losses, *logits;
  int32_t *tg;
  CHECK(dim(c, 3, "N", &N) && dim(c, 4, "V", &V));
  CHECK(F32(0, "losses", &losses, 0, N) && F32(1, "logits", &logits, 0, N, V));
  CHECK(I32(2, "targets", &tg, 0, N));
  for (int64_t i = 0; i < N; i++)
    if (tg[i] >= V) CHECK(fail(c, 1, "%stargets holds %lld, outside the vocabulary [0, %lld)", "", tg[i], V));
  lr_xent_forward(losses, logits, tg, N, V);
  return undef(env);
}

/* crossEntropyBackward(dlogits, logits, targets, dloss, N, V) */
static napi_value js_xent_backward(napi_env env, napi_callback_info info) {
  BEGIN("crossEntropyBackward");
  int64_t N, V;
  float *dlogits, *logits, *dloss;
  int32_t *tg;
  CHECK(dim(c, 4, "N", &N) && dim(c, 5, "V", &V));
  CHECK(F32(0, "dlogits", &dlogits, 0, N, V) && F32(1, "logits", &logits, 0, N, V));
  CHECK(I32(2, "targets", &tg, 0, N) && F32(3, "dloss", &dloss, 0, N));
  for (int64_t i = 0; i < N; i++)
    if (tg[i] >= V) CHECK(fail(c, 1, "%stargets holds %lld, outside the vocabulary [0, %lld)", "", tg[i], V));
  lr_xent_backward(dlogits, logits, tg, dloss, N, V);
  return undef(env);
}

/* dropoutMask(mask, n, p, seed, offset) */
static napi_value js_dropout_mask(napi_env env, napi_callback_info info) {
  BEGIN("dropoutMask");
  int64_t n;
  double p, seed, offset;
  float *mask;
  CHECK(dim(c, 1, "n", &n) && num(c, 2, "p", &p) && num(c, 3, "seed", &seed) && num(c, 4, "offset", &offset));
  CHECK(F32(0, "mask", &mask, 0, n));
  lr_dropout_mask(mask, n, p, to_uint32(seed), (int64_t)to_uint32(offset));
  return undef(env);
}

/* mul(out, x, mask, n) */
static napi_value js_mul(napi_env env, napi_callback_info info) {
  BEGIN("mul");
  int64_t n;
  float *out, *x, *m;
  CHECK(dim(c, 3, "n", &n));
  CHECK(F32(0, "out", &out, 0, n) && F32(1, "x", &x, 0, n) && F32(2, "mask", &m, 0, n));
  lr_mul(out, x, m, n);
  return undef(env);
}

/* adamw(params, grads, m, v, n, lr, beta1, beta2, eps, weightDecay, step) */
static napi_value js_adamw(napi_env env, napi_callback_info info) {
  BEGIN("adamw");
  int64_t n;
  double lr, b1, b2, eps, wd, step;
  float *p, *g, *m, *v;
  CHECK(dim(c, 4, "n", &n) && num(c, 5, "lr", &lr) && num(c, 6, "beta1", &b1) && num(c, 7, "beta2", &b2));
  CHECK(num(c, 8, "eps", &eps) && num(c, 9, "weightDecay", &wd) && num(c, 10, "step", &step));
  CHECK(F32(0, "params", &p, 0, n) && F32(1, "grads", &g, 0, n) && F32(2, "m", &m, 0, n) &&
        F32(3, "v", &v, 0, n));
  lr_adamw(p, g, m, v, n, lr, b1, b2, eps, wd, step);
  return undef(env);
}

/* sumSquares(x, n) -> number */
static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  BEGIN("sumSquares");
  int64_t n;
  float *x;
  CHECK(dim(c, 1, "n", &n) && F32(0, "x", &x, 0, n));
  napi_value r;
  napi_create_double(env, lr_sum_squares(x, n), &r);
  return r;
}

/* scale(x, s, n) */
static napi_value js_scale(napi_env env, napi_callback_info info) {
  BEGIN("scale");
  int64_t n;
  double s;
  float *x;
  CHECK(num(c, 1, "s", &s) && dim(c, 2, "n", &n) && F32(0, "x", &x, 0, n));
  lr_scale(x, (float)s, n);
  return undef(env);
}

/* ---- fp16 weights (inference opt-in, see half.h) --------------------------------------------------- */

static void half_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  lr_half *h = data;
  lr_argmax_logits_settle(); /* a pending screen pass may read this copy */
  if (h->h) {
    int64_t bytes = h->len * 2;
    free(h->h);
    int64_t adjusted;
    napi_adjust_external_memory(env, -bytes, &adjusted);
  }
  if (h->screen) {
    int64_t adjusted;
    napi_adjust_external_memory(env, -lr_screen_bytes(h), &adjusted);
    lr_screen_free(h);
  }
  free(h->regions);
  free(h);
}

/* The packed regions of halfWeights: regions [off0, K0, N0, trans0, off1, ...] (float offsets into a buffer
 * of `len` floats), each a whole weight of K * N floats (trans 0: B [K, N] of A @ B, N a multiple of
 * LR_PANEL; trans 1: B [N, K] of A @ B^T), in ascending order without overlap. Checked before anything is
 * allocated; *out is malloc'd (NULL for none). */
static int half_regions(call_t *c, size_t i, int64_t len, lr_half_region **out, int64_t *n) {
  *out = NULL;
  *n = 0;
  double *r;
  int64_t rl;
  if (!typed(c, i, "regions", napi_float64_array, (void **)&r, &rl, 1)) return 0;
  if (rl % 4) return failf(c, 1, "regions has %lld numbers; expected [offset, K, N, transposed] quadruples", (long long)rl);
  int64_t end = 0;
  for (int64_t q = 0; q < rl / 4; q++) {
    const double off = r[4 * q], K = r[4 * q + 1], N = r[4 * q + 2], t = r[4 * q + 3];
    const int whole = off == floor(off) && K == floor(K) && N == floor(N);
    if (!whole || off < 0 || K < 1 || N < 1 || K > (double)len || N > (double)len)
      return failf(c, 1, "region %lld: offset %g, K %g, N %g must be integers, offset >= 0, K and N in 1..%lld", (long long)q, off, K, N, (long long)len);
    if (t != 0 && t != 1) return failf(c, 1, "region %lld: transposed must be 0 or 1, got %g", (long long)q, t);
    if (t == 0 && (int64_t)N % LR_PANEL)
      return failf(c, 1, "region %lld: N = %lld must be a multiple of %d (the panel width)", (long long)q, (long long)N, LR_PANEL);
    if (off < (double)end || off + K * N > (double)len)
      return failf(c, 1, "region %lld: [%lld, %lld) must lie in the %lld weights, after the region before it", (long long)q,
                   (long long)off, (long long)(off + K * N), (long long)len);
    end = (int64_t)(off + K * N);
  }
  if (rl == 0) return 1;
  *out = malloc(sizeof **out * (size_t)(rl / 4));
  if (!*out) return oom(c);
  for (int64_t q = 0; q < rl / 4; q++)
    (*out)[q] = (lr_half_region){(int64_t)r[4 * q], (int64_t)r[4 * q + 1], (int64_t)r[4 * q + 2], (int)r[4 * q + 3]};
  *n = rl / 4;
  return 1;
}

/* halfWeights(buffer, regions?) -> handle, or null where the CPU lacks F16C. regions: Float64Array of
 * [offset, K, N, transposed] quadruples, weights whose copy is stored as panels (see lr_half_region) */
static napi_value js_half_weights(napi_env env, napi_callback_info info) {
  BEGIN("halfWeights");
  float *buf;
  int64_t len;
  CHECK(typed(c, 0, "weights", napi_float32_array, (void **)&buf, &len, 0));
  lr_half_region *regions;
  int64_t nregions;
  CHECK(half_regions(c, 1, len, &regions, &nregions));
  napi_value result;
  if (!lr_half_supported()) {
    free(regions);
    napi_get_null(env, &result);
    return result;
  }
  lr_half *h = malloc(sizeof *h);
  uint16_t *copy = lr_alloc_huge(sizeof(uint16_t) * (size_t)(len > 0 ? len : 1));
  if (!h || !copy) {
    free(h);
    free(copy);
    free(regions);
    oom(c);
    return NULL;
  }
  lr_f16_convert(copy, buf, len);
  for (int64_t q = 0; q < nregions; q++) lr_f16_pack_region(copy, buf, &regions[q]);
  h->base = buf;
  h->len = len;
  h->h = copy;
  h->regions = regions;
  h->nregions = nregions;
  h->screen = NULL;
  int64_t adjusted;
  napi_adjust_external_memory(env, len * 2, &adjusted);
  if (napi_create_external(env, h, half_finalize, NULL, &result) != napi_ok) {
    free(copy);
    free(regions);
    free(h);
    return NULL;
  }
  return result;
}

/* releaseHalf(handle): frees the fp16 copy now (the handle then matches nothing) */
static napi_value js_release_half(napi_env env, napi_callback_info info) {
  BEGIN("releaseHalf");
  lr_half *h;
  CHECK(half_arg(c, 0, &h));
  if (h && h->h) {
    lr_argmax_logits_settle(); /* a pending screen pass may read this copy */
    free(h->h);
    h->h = NULL;
    int64_t adjusted;
    napi_adjust_external_memory(env, -h->len * 2 - lr_screen_bytes(h), &adjusted);
    lr_screen_free(h);
  }
  return undef(env);
}

/* adviseHugePages(buffer, collapse) -> bool: 2 MB pages for a weight buffer (see memory.h) */
static napi_value js_advise_huge_pages(napi_env env, napi_callback_info info) {
  BEGIN("adviseHugePages");
  float *buf;
  int64_t len;
  int collapse;
  CHECK(typed(c, 0, "weights", napi_float32_array, (void **)&buf, &len, 0) && flag(c, 1, &collapse));
  napi_value r;
  napi_get_boolean(env, lr_advise_huge_pages(buf, sizeof(float) * (size_t)len, collapse) == 0, &r);
  return r;
}

/* ---- engine information and settings ------------------------------------------------------------- */

static void set_str(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value v;
  napi_create_string_utf8(env, val ? val : "", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, key, v);
}

static void set_int(napi_env env, napi_value obj, const char *key, int64_t val) {
  napi_value v;
  napi_create_int64(env, val, &v);
  napi_set_named_property(env, obj, key, v);
}

/* info() -> { isa, cpuIsa, cpu, blasConfig, blasCore, blasThreads, threads, cpusAvailable, scratchBytes, logitScreen,
 * logitScreenKernel, decodeAttention, logitScreenRows, logitExactRows } */
static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  napi_create_object(env, &obj);
  set_str(env, obj, "isa", lr_k()->isa);
  set_str(env, obj, "cpuIsa", lr_isa_name(lr_cpu_info()->level));
  set_str(env, obj, "cpu", lr_cpu_info()->brand);
  set_str(env, obj, "blasConfig", openblas_get_config());
  set_str(env, obj, "blasCore", openblas_get_corename());
  set_int(env, obj, "blasThreads", openblas_get_num_threads());
  set_int(env, obj, "threads", lr_pool_threads());
  set_int(env, obj, "cpusAvailable", lr_cpus_available());
  set_int(env, obj, "scratchBytes", (int64_t)lr_scratch_bytes());
  set_str(env, obj, "logitScreen", lr_screen_supported() ? "int8" : "none");
  set_str(env, obj, "logitScreenKernel", lr_screen_kernel());
  set_str(env, obj, "decodeAttention", lr_attend_avx512() ? "avx512" : "generic");
  int64_t screened, exact;
  lr_screen_counts(&screened, &exact);
  set_int(env, obj, "logitScreenRows", screened);
  set_int(env, obj, "logitExactRows", exact);
  return obj;
}

/* setThreads(n): the size of the addon's pool (its only threads; OpenBLAS stays at one); 0 = one per CPU */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  BEGIN("setThreads");
  int64_t n;
  CHECK(dim(c, 0, "n", &n));
  if (n > 4096) {
    fail(c, 1, "%sn (%lld) must be at most %lld threads", "", n, 4096);
    return NULL;
  }
  if (n > 64) n = 64;
  lr_pool_set_threads(n >= 1 ? (int)n : lr_cpus_available());
  return undef(env);
}

/* readBandwidth(mb, passes, threads) -> GB/s: the STREAM-like probe of stream.h (threads 1 or 0 = the pool) */
static napi_value js_read_bandwidth(napi_env env, napi_callback_info info) {
  BEGIN("readBandwidth");
  int64_t mb, passes, threads;
  CHECK(dim(c, 0, "mb", &mb) && dim(c, 1, "passes", &passes) && dim(c, 2, "threads", &threads));
  if (mb < 1 || mb > 65536 || passes < 1 || passes > 100) {
    fail(c, 1, "%smb must be in [1, 65536] and passes in [1, 100] (got %lld, %lld)", "", mb, passes);
    return NULL;
  }
  if (threads > 1) {
    fail(c, 1, "%sthreads must be 0 (the pool) or 1 (got %lld; %lld)", "", threads, 1);
    return NULL;
  }
  const double gbs = lr_read_bandwidth(mb << 20, (int)passes, threads == 1 ? 1 : 0);
  CHECK(gbs > 0 || oom(c));
  napi_value r;
  napi_create_double(env, gbs, &r);
  return r;
}

/* ---- module init: one JS thread only ------------------------------------------------------------- */

/* The addon keeps process-wide state (the kernel table, the thread pool, scratch memory, OpenBLAS's
 * settings) that one JS thread uses at a time without locks. So it loads in one JS thread of a process:
 * the first that loads it (the main thread or a worker). Another thread's require() throws; once the
 * owning thread has exited (its environment is torn down) another may load it. */
static _Atomic(napi_env) g_owner;

static void owner_cleanup(void *arg) {
  (void)arg;
  lr_pool_shutdown();
  lr_scratch_release();
  atomic_store(&g_owner, NULL);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_env none = NULL;
  const int first = atomic_compare_exchange_strong(&g_owner, &none, env);
  if (!first && none != env) {
    napi_throw_error(env, "LORAROUTE_NATIVE_THREAD",
                     "loraroute native addon: already loaded by another JS thread of this process; it can be used from "
                     "one thread at a time (load it in one worker or in the main thread, or use the reference backend "
                     "in the others)");
    return NULL;
  }
  if (first) {
    const char *force = getenv("LORAROUTE_ISA");
    if (!force || !*force) force = getenv("LORAROUTE_NATIVE_ISA"); /* the older name */
    const int level = force && *force ? lr_isa_parse(force) : -1;
    if (force && *force && level < 0) {
      atomic_store(&g_owner, NULL);
      napi_throw_error(env, "LORAROUTE_ISA", "loraroute native addon: LORAROUTE_ISA must be baseline, avx2 or avx512");
      return NULL;
    }
    if (lr_select_kernels(level) != 0) {
      char msg[200];
      snprintf(msg, sizeof msg, "loraroute native addon: LORAROUTE_ISA=%s but this CPU only has %s", force,
               lr_isa_name(lr_cpu_info()->level));
      atomic_store(&g_owner, NULL);
      napi_throw_error(env, "LORAROUTE_ISA", msg);
      return NULL;
    }
    const char *th = getenv("LORAROUTE_THREADS");
    lr_ops_init(th && *th ? atoi(th) : 0);
    const char *amx = getenv("LORAROUTE_AMX"); /* "0": the screen's sums on AVX-512 VNNI even where AMX is there */
    lr_screen_init(!(amx && strcmp(amx, "0") == 0));
    napi_add_env_cleanup_hook(env, owner_cleanup, NULL);
  }
  const napi_property_descriptor props[] = {
#define FN(name, f) {name, NULL, f, NULL, NULL, NULL, napi_enumerable, NULL}
      FN("matmul", js_matmul),
      FN("addBias", js_add_bias),
      FN("biasBackward", js_bias_backward),
      FN("add", js_add),
      FN("axpy", js_axpy),
      FN("layernormForward", js_layernorm_forward),
      FN("layernormBackward", js_layernorm_backward),
      FN("geluForward", js_gelu_forward),
      FN("geluBackward", js_gelu_backward),
      FN("attentionForward", js_attention_forward),
      FN("attentionBackward", js_attention_backward),
      FN("attentionCached", js_attention_cached),
      FN("attentionRows", js_attention_rows),
      FN("loraRows", js_lora_rows),
      FN("sampleRows", js_sample_rows),
      FN("embeddingForward", js_embedding_forward),
      FN("embeddingBackward", js_embedding_backward),
      FN("crossEntropyForward", js_xent_forward),
      FN("crossEntropyBackward", js_xent_backward),
      FN("argmaxRows", js_argmax_rows),
      FN("argmaxLogits", js_argmax_logits),
      FN("argmaxLogitsBegin", js_argmax_logits_begin),
      FN("argmaxLogitsEnd", js_argmax_logits_end),
      FN("dropoutMask", js_dropout_mask),
      FN("mul", js_mul),
      FN("adamw", js_adamw),
      FN("sumSquares", js_sum_squares),
      FN("scale", js_scale),
      FN("halfWeights", js_half_weights),
      FN("adviseHugePages", js_advise_huge_pages),
      FN("releaseHalf", js_release_half),
      FN("info", js_info),
      FN("setThreads", js_set_threads),
      FN("readBandwidth", js_read_bandwidth),
#undef FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
