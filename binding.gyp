{
  # The release build (prebuildify drives node-gyp). CMakeLists.txt mirrors these sources,
  # defines, standard and warnings; keep the two in step.
  "targets": [
    {
      "target_name": "core_process",
      "sources": [
        "native/addon.cc",
        "native/child.cc",
        "native/decode.cc",
        "native/orphans.cc",
        "native/reader.cc",
        "native/realtime.cc",
        "native/sandbox_binding.cc",
        "native/sched.cc",
        "native/spawn_common.cc",
        "native/splice.cc",
        "native/sync_collect.cc",
        "native/sys.cc",
        "native/timer.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GNU_SOURCE"
      ],
      "cflags!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": [
        "-std=c++17",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fvisibility=hidden",
        "-fno-exceptions",
        "-fstack-protector-strong",
        "-D_FORTIFY_SOURCE=2"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/spawn_linux.cc",
            "native/child_linux.cc",
            "native/clone3_linux.cc",
            "native/sched_linux.cc",
            "native/sandbox_linux.cc",
            "native/realtime_linux.cc",
            "native/madvise_guard_linux.cc"
          ],
          "ldflags": ["-Wl,-z,relro,-z,now", "-pthread"],
          "libraries": ["-ldl"]
        }],
        ["OS=='mac'", {
          "sources": ["native/spawn_darwin.cc", "native/sched_darwin.cc", "native/realtime_darwin.cc"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
            "MACOSX_DEPLOYMENT_TARGET": "10.15",
            "OTHER_CPLUSPLUSFLAGS": [
              "-Wall",
              "-Wextra",
              "-Werror",
              "-fno-exceptions",
              "-fstack-protector-strong",
              "-D_FORTIFY_SOURCE=2"
            ]
          }
        }]
      ]
    },
    {
      # PID 1 of a child's PID namespace (native/init_linux.c, issue 29): plain C, linked
      # statically so it needs nothing a sandbox could hide. Next to the addon in build/Release;
      # scripts/prebuild-all.js puts a static musl build of it in each prebuilds/<platform>/.
      "target_name": "core-process-init",
      "conditions": [
        ["OS=='linux'", {
          "type": "executable",
          "sources": ["native/init_linux.c"],
          "cflags": ["-std=c11", "-Wall", "-Wextra", "-Werror", "-Os"],
          "ldflags": ["-static"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
