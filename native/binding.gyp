{
  # famfs native addon: thin wrappers around mmap/munmap/msync, cache-line
  # flush instructions, flock, device probing and mount(2)/umount2(2); and the
  # FUSE request queues (src/fuse_queues.cc: worker threads on cloned /dev/fuse
  # channels or FUSE-over-io_uring, through liburing: Debian liburing-dev); and
  # the CRC-32 check of every log entry in one call (src/crc_records.cc) and
  # the common case of a check-only log replay (src/log_check.cc).
  # Built with `pnpm --filter @famfs/native run build:native` (scripts/build-native.cjs
  # runs `node-gyp rebuild`, pointing it at the local node headers).
  "targets": [
    {
      "target_name": "famfs_native",
      "sources": ["src/famfs_native.cc", "src/fuse_queues.cc", "src/crc_records.cc", "src/log_check.cc"],
      "libraries": ["-luring"],
      # `node -p` evaluates CommonJS, so `require` works although this package is ESM.
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-fvisibility=hidden", "-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-Wall", "-Wextra"]
    }
  ]
}
