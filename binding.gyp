{
  "targets": [
    {
      "target_name": "nsock",
      "sources": [
        "src/native/nsock.c",
        "src/native/nsock_errors.c",
        "src/native/nsock_receive.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "cflags!": ["-O3"],
      "cflags_c": ["-std=c11"]
    }
  ]
}
