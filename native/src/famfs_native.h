// famfs native addon: what its translation units share. Internal to the
// addon (built with hidden visibility); nothing here is exported to JS by
// itself.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace famfs_native {

// Errors -------------------------------------------------------------------

/** "ENOENT" for 2 (strerrorname_np where glibc has it). */
std::string ErrnoName(int err);

/**
 * Throws Error{message, code, errno, syscall[, path]} shaped like Node's fs
 * errors ("ENOENT: no such file or directory, stat '/x'"). `description`
 * overrides strerror's text where the errno alone would be misleading.
 */
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string* path = nullptr,
                             const char* description = nullptr);

// Argument helpers (the TS wrapper validates first; these are the backstop) --

uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t max);
int ArgFd(const Napi::CallbackInfo& info, size_t i);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name);

/** Bytes [offset, offset+length) of an ArrayBuffer, from arguments 0, 1, 2. */
struct BufferRange {
  uint8_t* data;
  uint64_t length;
};
/**
 * Arguments 0..2 as (buffer: ArrayBuffer, byteOffset, <lengthName>), checked
 * to lie inside the buffer; `usage` is the TypeError for fewer than `nargs`
 * arguments or no ArrayBuffer first.
 */
BufferRange ArgBufferRange(const Napi::CallbackInfo& info, size_t nargs, const char* usage, const char* lengthName = "length");

// Processor cache (x86-64) ---------------------------------------------------

/** Write back the cache lines covering [p, p+len), then fence (flushRange). */
void WritebackLines(const void* p, size_t len);
/** Write back and evict the lines covering [p, p+len), then mfence (invalidateRange). */
void InvalidateLines(const void* p, size_t len);

size_t PageSize();

// FUSE request queues (fuse_queues.cc) ---------------------------------------

/** Adds the FuseQueues class and its helpers to the addon's exports. */
void InitFuseQueues(Napi::Env env, Napi::Object exports);

// CRC-32 of log entries (crc_records.cc) --------------------------------------

/** Adds crc32Records, crc32, crcFoldAvailable and populateForRead to the addon's exports. */
void InitCrcRecords(Napi::Env env, Napi::Object exports);

/** zlib's crc32(0, p, len) (PCLMULQDQ where the CPU has it). */
uint32_t Crc32Ieee(const uint8_t* p, size_t len);

// The check-only replay's common case (log_check.cc) --------------------------

/** Adds checkFileEntries to the addon's exports. */
void InitLogCheck(Napi::Env env, Napi::Object exports);

}  // namespace famfs_native
