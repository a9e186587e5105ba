{
  "targets": [
    {
      "target_name": "loraroute_native",
      "sources": [
        "native/binding.c",
        "native/ops.c",
        "native/kernels_base.c",
        "native/kernels_avx2.c",
        "native/gemv_avx2.c",
        "native/memory.c"
      ],
      "include_dirs": [
        "/usr/include/x86_64-linux-gnu/openblas-pthread",
        "/usr/include/aarch64-linux-gnu/openblas-pthread",
        "/usr/include/openblas"
      ],
      "cflags": ["-std=c11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wno-unused-function"],
      "cflags!": ["-O2"],
      "defines": ["NAPI_VERSION=8"],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
