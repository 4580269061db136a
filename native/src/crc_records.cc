// CRC-32 checks of fixed-size records in one call (the famfs log: 544-byte
// entries whose CRC-32 of bytes [0, 536) is stored at 536 as a little-endian
// u64). Replay checks every entry of a log that may hold half a million; one
// call for all of them replaces half a million calls into zlib from
// JavaScript, and the CRC itself runs with PCLMULQDQ where the CPU has it.
//
// CRC-32 here is zlib's: IEEE 802.3, reflected polynomial 0xEDB88320, initial
// value and final XOR 0xFFFFFFFF.

#include "famfs_native.h"

#include <napi.h>

#include <immintrin.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace famfs_native {
namespace {

// ---------------------------------------------------------------------------
// Table-driven CRC-32 (slicing-by-8), for CPUs without PCLMULQDQ and for the
// tail of a buffer that is not a multiple of 16 bytes.

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t c = n;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
      for (int k = 1; k < 8; k++) t[k][n] = t[0][t[k - 1][n] & 0xff] ^ (t[k - 1][n] >> 8);
    }
  }
};

const Tables& CrcTables() {
  static const Tables tables;
  return tables;
}

/** Continue a CRC in its internal (pre-inverted) form over [p, p+len). */
uint32_t CrcTable(uint32_t c, const uint8_t* p, size_t len) {
  const Tables& T = CrcTables();
  while (len >= 8) {
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    a ^= c;
    c = T.t[7][a & 0xff] ^ T.t[6][(a >> 8) & 0xff] ^ T.t[5][(a >> 16) & 0xff] ^ T.t[4][a >> 24] ^
        T.t[3][b & 0xff] ^ T.t[2][(b >> 8) & 0xff] ^ T.t[1][(b >> 16) & 0xff] ^ T.t[0][b >> 24];
    p += 8;
    len -= 8;
  }
  while (len-- > 0) c = T.t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

// ---------------------------------------------------------------------------
// PCLMULQDQ folding: "Fast CRC Computation for Generic Polynomials Using
// PCLMULQDQ Instruction" (V. Gopal, E. Ozturk et al., Intel, 2009), with the
// bit-reflected constants for the CRC-32 polynomial given at the end of the
// paper — the same scheme as zlib's (Chromium's) crc32_simd.c and Linux's
// crc32-pclmul. `len` must be at least 64 and a multiple of 16; `c` is the CRC
// in its internal (pre-inverted) form, and so is the result.

__attribute__((target("pclmul,sse4.1"))) uint32_t CrcFold(uint32_t c, const uint8_t* buf, size_t len) {
  alignas(16) static const uint64_t k1k2[2] = {0x0154442bd4ull, 0x01c6e41596ull};
  alignas(16) static const uint64_t k3k4[2] = {0x01751997d0ull, 0x00ccaa009eull};
  alignas(16) static const uint64_t k5k0[2] = {0x0163cd6124ull, 0x0000000000ull};
  alignas(16) static const uint64_t poly[2] = {0x01db710641ull, 0x01f7011641ull};

  __m128i x0, x1, x2, x3, x4, x5, x6, x7, x8, y5, y6, y7, y8;

  x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x00));
  x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x10));
  x3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x20));
  x4 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x30));
  x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128(static_cast<int>(c)));
  x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(k1k2));
  buf += 64;
  len -= 64;

  // four 128-bit lanes folded 64 bytes at a time
  while (len >= 64) {
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x6 = _mm_clmulepi64_si128(x2, x0, 0x00);
    x7 = _mm_clmulepi64_si128(x3, x0, 0x00);
    x8 = _mm_clmulepi64_si128(x4, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x2 = _mm_clmulepi64_si128(x2, x0, 0x11);
    x3 = _mm_clmulepi64_si128(x3, x0, 0x11);
    x4 = _mm_clmulepi64_si128(x4, x0, 0x11);
    y5 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x00));
    y6 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x10));
    y7 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x20));
    y8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf + 0x30));
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x5), y5);
    x2 = _mm_xor_si128(_mm_xor_si128(x2, x6), y6);
    x3 = _mm_xor_si128(_mm_xor_si128(x3, x7), y7);
    x4 = _mm_xor_si128(_mm_xor_si128(x4, x8), y8);
    buf += 64;
    len -= 64;
  }

  // the four lanes into one
  x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(k3k4));
  x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
  x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
  x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
  x1 = _mm_xor_si128(_mm_xor_si128(x1, x3), x5);
  x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
  x1 = _mm_xor_si128(_mm_xor_si128(x1, x4), x5);

  // 16 bytes at a time
  while (len >= 16) {
    x2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buf));
    x5 = _mm_clmulepi64_si128(x1, x0, 0x00);
    x1 = _mm_clmulepi64_si128(x1, x0, 0x11);
    x1 = _mm_xor_si128(_mm_xor_si128(x1, x2), x5);
    buf += 16;
    len -= 16;
  }

  // 128 bits to 64
  x2 = _mm_clmulepi64_si128(x1, x0, 0x10);
  x3 = _mm_setr_epi32(~0, 0, ~0, 0);
  x1 = _mm_srli_si128(x1, 8);
  x1 = _mm_xor_si128(x1, x2);
  x0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(k5k0));
  x2 = _mm_srli_si128(x1, 4);
  x1 = _mm_and_si128(x1, x3);
  x1 = _mm_clmulepi64_si128(x1, x0, 0x00);
  x1 = _mm_xor_si128(x1, x2);

  // Barrett reduction to 32 bits
  x0 = _mm_load_si128(reinterpret_cast<const __m128i*>(poly));
  x2 = _mm_and_si128(x1, x3);
  x2 = _mm_clmulepi64_si128(x2, x0, 0x10);
  x2 = _mm_and_si128(x2, x3);
  x2 = _mm_clmulepi64_si128(x2, x0, 0x00);
  x1 = _mm_xor_si128(x1, x2);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

bool HavePclmul() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  }();
  return have;
}

/** zlib's crc32(0, p, len). `fold` false forces the table (tests compare both). */
uint32_t Crc32(const uint8_t* p, size_t len, bool fold) {
  uint32_t c = 0xffffffffu;
  if (fold && len >= 64 && HavePclmul()) {
    size_t n = len & ~static_cast<size_t>(15);
    c = CrcFold(c, p, n);
    p += n;
    len -= n;
  }
  return ~CrcTable(c, p, len);
}

}  // namespace

uint32_t Crc32Ieee(const uint8_t* p, size_t len) {
  return Crc32(p, len, true);
}

namespace {

// ---------------------------------------------------------------------------
// JS bindings

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/**
 * Every byte of a large range is about to be read once: when it is a file
 * mapping not touched yet (a log on a device or image), map its pages in one
 * madvise(MADV_POPULATE_READ) (Linux 5.14+) instead of one page fault each —
 * half the system time of a 256 MiB log. Best effort: an older kernel
 * (EINVAL), memory that is not a mapping, or any other error leaves the
 * pages to fault in as they are read.
 */
void PopulateForRead(const uint8_t* p, size_t len) {
  if (len < (1u << 20)) return;
  const uintptr_t page = static_cast<uintptr_t>(PageSize());
  const uintptr_t start = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + len;
  int saved = errno;
  (void)madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_READ);
  errno = saved;
}

uint64_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return ArgIndex(info, i, name, UINT32_MAX);
}

// crc32Records(buffer: ArrayBuffer, byteOffset, count, stride, crcLen, useFold: boolean): Uint32Array
// Record r is the `stride` bytes at byteOffset + r*stride; it is good when the
// little-endian u64 at its byte crcLen equals the CRC-32 of its bytes
// [0, crcLen). Returns the numbers of the records that are not good, in order.
Napi::Value Crc32Records(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "crc32Records(buffer, byteOffset, count, stride, crcLen, fold)");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  const size_t size = ab.ByteLength();
  const uint64_t offset = ArgIndex(info, 1, "byteOffset", size);
  const uint64_t count = ArgU32(info, 2, "count");
  const uint64_t stride = ArgU32(info, 3, "stride");
  const uint64_t crcLen = ArgU32(info, 4, "crcLen");
  const bool fold = ArgBool(info, 5, "fold");
  if (crcLen + 8 > stride) throw Napi::RangeError::New(env, "crcLen + 8 must be at most stride");
  if (count * stride > size - offset) throw Napi::RangeError::New(env, "the records lie past the end of the buffer");
  const uint8_t* base = static_cast<const uint8_t*>(ab.Data()) + offset;
  PopulateForRead(base, count * stride);
  std::vector<uint32_t> bad;
  for (uint64_t r = 0; r < count; r++) {
    const uint8_t* rec = base + r * stride;
    uint64_t stored;
    memcpy(&stored, rec + crcLen, 8);  // x86-64: little-endian
    if (stored != Crc32(rec, crcLen, fold)) bad.push_back(static_cast<uint32_t>(r));
  }
  Napi::Uint32Array out = Napi::Uint32Array::New(env, bad.size());
  if (!bad.empty()) memcpy(out.Data(), bad.data(), bad.size() * sizeof(uint32_t));
  return out;
}

// crc32(buffer: ArrayBuffer, byteOffset, length, fold: boolean): number — zlib's crc32(0, …)
Napi::Value Crc32Js(const Napi::CallbackInfo& info) {
  const BufferRange r = ArgBufferRange(info, 4, "crc32(buffer, byteOffset, length, fold)");
  const bool fold = ArgBool(info, 3, "fold");
  return Napi::Number::New(info.Env(), Crc32(r.data, r.length, fold));
}

// populateForRead(buffer: ArrayBuffer, byteOffset, length): PopulateForRead over that range
Napi::Value PopulateForReadJs(const Napi::CallbackInfo& info) {
  const BufferRange r = ArgBufferRange(info, 3, "populateForRead(buffer, byteOffset, length)");
  PopulateForRead(r.data, r.length);
  return info.Env().Undefined();
}

Napi::Value CrcFoldAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), HavePclmul());
}

}  // namespace

void InitCrcRecords(Napi::Env env, Napi::Object exports) {
  exports.Set("crc32Records", Napi::Function::New(env, Crc32Records, "crc32Records"));
  exports.Set("crc32", Napi::Function::New(env, Crc32Js, "crc32"));
  exports.Set("crcFoldAvailable", Napi::Function::New(env, CrcFoldAvailable, "crcFoldAvailable"));
  exports.Set("populateForRead", Napi::Function::New(env, PopulateForReadJs, "populateForRead"));
}

}  // namespace famfs_native
