{
  "targets": [
    {
      "target_name": "lockedfile",
      "sources": ["native/addon.cc", "native/waiter.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "conditions": [
        ["OS=='win'", { "sources!": ["native/addon.cc", "native/waiter.cc"], "sources": ["native/unsupported.cc"] }]
      ]
    }
  ]
}
