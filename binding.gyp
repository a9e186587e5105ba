{
  "targets": [
    {
      "target_name": "loraroute_native",
      "sources": [
        "native/binding.c",
        "native/ops.c",
        "native/sample.c",
        "native/screen.c",
        "native/screen_int8.c",
        "native/screen_amx.c",
        "native/fused.c",
        "native/pool.c",
        "native/arena.c",
        "native/stream.c",
        "native/cpu.c",
        "native/kernels_base.c",
        "native/kernels_avx2.c",
        "native/kernels_avx512.c",
        "native/gemv_avx2.c",
        "native/gemv_avx512.c",
        "native/attend_avx512.c",
        "native/memory.c"
      ],
      "include_dirs": [
        "/usr/include/x86_64-linux-gnu/openblas-pthread",
        "/usr/include/aarch64-linux-gnu/openblas-pthread",
        "/usr/include/openblas"
      ],
      "cflags": ["-std=c11", "-O3", "-pthread", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"],
      "cflags!": ["-O2"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lopenblas", "-lm", "-pthread"]
    },
    {
      "target_name": "loraroute_cpu",
      "sources": ["native/cpu_binding.c", "native/cpu.c"],
      "cflags": ["-std=c11", "-O2", "-Wall"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
