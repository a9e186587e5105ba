/*
 * loraroute_cpu: a tiny addon with no library dependencies that reports the CPU (cpu.h). JavaScript loads
 * it before the main addon, so that OpenBLAS's core type can be chosen before libopenblas initialises.
 *   cpu() -> { vendor, brand, level, avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512dq, avx512vnni,
 *              avx512fp16, avx512bf16, amx, amxInt8 }   (level: "baseline" | "avx2" | "avx512")
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include "cpu.h"

static void set_bool(napi_env env, napi_value obj, const char *key, int v) {
  napi_value b;
  napi_get_boolean(env, v != 0, &b);
  napi_set_named_property(env, obj, key, b);
}

static void set_str(napi_env env, napi_value obj, const char *key, const char *v) {
  napi_value s;
  napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, obj, key, s);
}

static napi_value js_cpu(napi_env env, napi_callback_info info) {
  (void)info;
  lr_cpu c;
  lr_cpu_detect(&c);
  napi_value obj;
  napi_create_object(env, &obj);
  set_str(env, obj, "vendor", c.vendor);
  set_str(env, obj, "brand", c.brand);
  set_str(env, obj, "level", lr_isa_name(c.level));
  set_bool(env, obj, "avx2", c.avx2);
  set_bool(env, obj, "fma", c.fma);
  set_bool(env, obj, "f16c", c.f16c);
  set_bool(env, obj, "avx512f", c.avx512f);
  set_bool(env, obj, "avx512bw", c.avx512bw);
  set_bool(env, obj, "avx512vl", c.avx512vl);
  set_bool(env, obj, "avx512dq", c.avx512dq);
  set_bool(env, obj, "avx512vnni", c.avx512vnni);
  set_bool(env, obj, "avx512fp16", c.avx512fp16);
  set_bool(env, obj, "avx512bf16", c.avx512bf16);
  set_bool(env, obj, "amx", c.amx);
  set_bool(env, obj, "amxInt8", c.amxint8);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor d = {"cpu", NULL, js_cpu, NULL, NULL, NULL, napi_enumerable, NULL};
  napi_define_properties(env, exports, 1, &d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
