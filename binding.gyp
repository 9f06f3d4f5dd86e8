{
  "targets": [
    {
      "target_name": "netns_kit",
      "sources": [
        "native/napi/addon.cc",
        "native/napi/async.cc",
        "native/napi/convert.cc",
        "native/nl/attr.cc",
        "native/nl/error.cc",
        "native/nl/socket.cc",
        "native/ns/netns.cc",
        "native/ns/thread.cc",
        "native/rtnl/addr.cc",
        "native/rtnl/ip.cc",
        "native/rtnl/link.cc",
        "native/rtnl/neigh.cc",
        "native/rtnl/route.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "conditions": [["OS!='linux'", {"sources": []}]]
    },
    {
      "target_name": "nk-exec",
      "type": "executable",
      "sources": ["native/ns/exec.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
