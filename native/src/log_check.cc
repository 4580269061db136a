// The common case of a check-only log replay (core's LogReplayer with
// fileNodes: false — fsck, `famfs logplay` counts), in C: a FILE entry whose
// CRC and seqnum are right, whose path is ASCII and breaks no path rule,
// whose simple extents break no extent rule and whose parent directory
// exists is checked, claimed and counted here, through the replayer's own
// tables (typed arrays it owns). The scan stops at the first entry that is
// anything else — a MKDIR, a bad or unusual entry — and returns its index:
// the replayer applies that one in TypeScript (which reports it, with the
// messages it always gave), then calls again. Half a million entries cost a
// pass over the log instead of half a million decodes.
//
// Everything here restates rules that core/src/log/replay.ts (applyAt,
// fmapProblem), namespace.ts (relpathProblem) and format/log.ts
// (decodeLogEntry) define; when in doubt, stop and let them decide.
// core's log/replay.test.ts checks the two replays agree on random damaged logs.

#include "famfs_native.h"

#include <napi.h>

#include <math.h>
#include <string.h>

#include <cstdint>

namespace famfs_native {
namespace {

// The on-media layout (core/src/format/constants.ts)
constexpr size_t kLogHeaderSize = 48;
constexpr size_t kEntrySize = 544;
constexpr size_t kEntryType = 8;
constexpr size_t kEntryBody = 16;
constexpr size_t kEntryCrc = 536;
constexpr uint32_t kTypeFile = 0;
constexpr size_t kFmSize = 0;
constexpr size_t kFmRelpath = 24;
constexpr size_t kFmFmap = 104;
constexpr size_t kFmapExtType = 0;
constexpr size_t kFmapNextents = 8;
constexpr size_t kFmapExtents = 16;
constexpr size_t kSimpleExtSize = 24;
constexpr uint32_t kExtSimple = 0;
constexpr uint32_t kMaxSimpleExtents = 16;
constexpr size_t kRelpathField = 80;
/** a u64's high word below this keeps the value below 2^53 (what the decoder accepts) */
constexpr uint32_t kSafeHi = 0x200000;
constexpr double kTwo32 = 4294967296.0;

constexpr uint32_t kFnvSeed = 0x811c9dc5u;
constexpr uint32_t kFnvPrime = 0x01000193u;

inline uint32_t U32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);  // x86-64: little-endian
  return v;
}

/** A path table of core's LogPathTable: [hash, offset + 2] per slot (0: free), linear probing. */
struct Table {
  int32_t* slots;
  uint32_t mask;
};

/**
 * Is the path of `len` bytes at `off` of `log` (hash h) in `t`?
 * (LogPathTable.has.) `logLen` bounds the stored offsets; at most one probe
 * per slot, so a full table (which the replayer never passes) cannot hang it.
 */
bool Has(const Table& t, const uint8_t* log, size_t logLen, int32_t h, size_t off, size_t len) {
  uint32_t s = static_cast<uint32_t>(h) & t.mask;
  for (uint64_t probes = 0; probes <= t.mask; probes++, s = (s + 1) & t.mask) {
    const int32_t v = t.slots[2 * s + 1];
    if (v == 0) return false;
    if (t.slots[2 * s] != h) continue;
    const int64_t q = static_cast<int64_t>(v) - 2;
    if (q < 0) {
      if (len == 0) return true;
      continue;
    }
    if (static_cast<uint64_t>(q) + len + 1 > logLen) continue;
    if (memcmp(log + q, log + off, len) == 0 && log[q + len] == 0) return true;
  }
  return false;
}

/** Add a path (LogPathTable.add); false when there is no free slot. */
bool Add(const Table& t, int32_t h, size_t off) {
  uint32_t s = static_cast<uint32_t>(h) & t.mask;
  for (uint64_t probes = 0; probes <= t.mask; probes++, s = (s + 1) & t.mask) {
    if (t.slots[2 * s + 1] != 0) continue;
    t.slots[2 * s] = h;
    t.slots[2 * s + 1] = static_cast<int32_t>(off + 2);
    return true;
  }
  return false;
}

Table TableArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must be an Int32Array");
  }
  Napi::Int32Array a = info[i].As<Napi::Int32Array>();
  size_t slots = a.ElementLength() / 2;
  if (slots == 0 || (slots & (slots - 1)) != 0 || a.ElementLength() != 2 * slots || slots > (1u << 30)) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must hold a power-of-two number of slot pairs");
  }
  return Table{a.Data(), static_cast<uint32_t>(slots - 1)};
}

template <typename T, napi_typedarray_type K>
T* Typed(const Napi::CallbackInfo& info, size_t i, const char* name, size_t minLength, size_t* length = nullptr) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != K) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + " has the wrong type");
  }
  Napi::TypedArrayOf<T> a = info[i].As<Napi::TypedArrayOf<T>>();
  if (a.ElementLength() < minLength) throw Napi::RangeError::New(info.Env(), std::string(name) + " is too short");
  if (length) *length = a.ElementLength();
  return a.Data();
}

// Accumulators (Float64Array), in and out
enum Acc {
  kSumFileSizes = 0,  // continued in order, as replay adds them
  kFileEntries,
  kFiles,
  kExisted,
  kAllocated,
  kCollisions,
  kAccCount
};

// checkFileEntries(log: ArrayBuffer, byteOffset, byteLength, first, end, geometry: Float64Array
//   [firstDataOffset, capacity, allocUnit, auMask], dirs: Int32Array, files: Int32Array,
//   room, claims: Uint8Array, acc: Float64Array) → the index of the first entry not applied
// (end when all were). At most `room` paths are added to `files` (the
// replayer grows it first, and passes how many it can take at half load):
// the scan stops before an entry when the room is used up.
Napi::Value CheckFileEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BufferRange logRange = ArgBufferRange(info, 11, "checkFileEntries(log, byteOffset, byteLength, first, end, geometry, dirs, files, room, claims, acc)", "byteLength");
  const uint64_t byteLength = logRange.length;
  const uint64_t first = ArgIndex(info, 3, "first", UINT32_MAX);
  const uint64_t end = ArgIndex(info, 4, "end", UINT32_MAX);
  if (end < first) throw Napi::RangeError::New(env, "end < first");
  if (kLogHeaderSize + end * kEntrySize > byteLength) throw Napi::RangeError::New(env, "the entries lie past the end of the log");
  if (byteLength > static_cast<uint64_t>(INT32_MAX) - 2) throw Napi::RangeError::New(env, "log too large for path offsets");
  const double* geo = Typed<double, napi_float64_array>(info, 5, "geometry", 4);
  const Table dirs = TableArg(info, 6, "dirs");
  const Table files = TableArg(info, 7, "files");
  uint64_t room = ArgIndex(info, 8, "room", files.mask);
  size_t nunits;
  uint8_t* claims = Typed<uint8_t, napi_uint8_array>(info, 9, "claims", 0, &nunits);
  double* acc = Typed<double, napi_float64_array>(info, 10, "acc", kAccCount);
  const double firstData = geo[0];
  const double capacity = geo[1];
  const double allocUnit = geo[2];
  const double maskD = geo[3];
  if (!(allocUnit >= 1) || !(maskD >= 0) || maskD != allocUnit - 1 || maskD >= 2147483648.0) {
    throw Napi::RangeError::New(env, "allocUnit must be a power of two below 2^31 and auMask allocUnit - 1");
  }
  const uint32_t auMask = static_cast<uint32_t>(maskD);

  const uint8_t* log = logRange.data;
  double sum = acc[kSumFileSizes];
  double fileEntries = acc[kFileEntries], nfiles = acc[kFiles], existed = acc[kExisted];
  double allocated = acc[kAllocated], collisions = acc[kCollisions];
  uint64_t i = first;
  for (; i < end && room > 0; i++) {
    const size_t o = kLogHeaderSize + i * kEntrySize;
    const uint8_t* e = log + o;
    if (U32(e) != i || U32(e + 4) != 0 || U32(e + kEntryType) != kTypeFile) break;
    // the path: ASCII, NUL inside its field, no empty, '.' or '..' component
    const size_t p0 = o + kEntryBody + kFmRelpath;
    const uint8_t* p = log + p0;
    uint32_t h = kFnvSeed, parentHash = kFnvSeed;
    size_t parentLen = 0, comp = 0, dots = 0, n = 0;
    bool bad = false;
    for (; n < kRelpathField; n++) {
      const uint8_t b = p[n];
      if (b == 0 || b >= 0x80) break;
      if (b == '/') {
        if (comp == dots && comp <= 2) {
          bad = true;
          break;
        }
        parentHash = h;
        parentLen = n;
        comp = dots = 0;
      } else {
        comp++;
        if (b == '.') dots++;
      }
      h = (h ^ b) * kFnvPrime;
    }
    if (bad || n == kRelpathField || p[n] != 0 || (comp == dots && comp <= 2)) break;
    // the file table's slot for this path is a cache miss (the table is megabytes): ask for
    // it now, and compute the CRC meanwhile
    __builtin_prefetch(&files.slots[2 * (h & files.mask)], 1);
    uint64_t stored;
    memcpy(&stored, e + kEntryCrc, 8);
    if (stored != Crc32Ieee(e, kEntryCrc)) break;
    // the map: simple extents on device 0, aligned, past the log, inside the device, covering the size
    const uint8_t* body = e + kEntryBody;
    const uint8_t* fm = body + kFmFmap;
    const uint32_t next = U32(fm + kFmapNextents);
    if (U32(fm + kFmapExtType) != kExtSimple || next > kMaxSimpleExtents) break;
    const uint32_t sizeHi = U32(body + kFmSize + 4);
    if (sizeHi >= kSafeHi) break;
    const double fsize = sizeHi * kTwo32 + U32(body + kFmSize);
    if (next == 0 && fsize != 0) break;
    double total = 0;
    bool ok = true;
    for (uint32_t k = 0; k < next && ok; k++) {
      const uint8_t* x = fm + kFmapExtents + k * kSimpleExtSize;
      const uint32_t offHi = U32(x + 12), lenHi = U32(x + 20), offLo = U32(x + 8);
      if ((U32(x) | U32(x + 4)) != 0 || offHi >= kSafeHi || lenHi >= kSafeHi) {
        ok = false;
        break;
      }
      const double offset = offHi * kTwo32 + offLo;
      const double len = lenHi * kTwo32 + U32(x + 16);
      if (offset == 0 || len == 0 || (offLo & auMask) != 0 || offset < firstData || offset + len > capacity) ok = false;
      // claims must stay inside the bitmap (AllocBitmap.claim would throw: let it)
      else if (floor(offset / allocUnit) < 0 || ceil((offset + len) / allocUnit) > static_cast<double>(nunits)) ok = false;
      total += len;
    }
    if (!ok || total < fsize) break;
    if (!Has(dirs, log, byteLength, static_cast<int32_t>(parentHash), p0, parentLen)) break;
    // applied from here on: claims, counts, the file's path
    for (uint32_t k = 0; k < next; k++) {
      const uint8_t* x = fm + kFmapExtents + k * kSimpleExtSize;
      const double offset = U32(x + 12) * kTwo32 + U32(x + 8);
      const double len = U32(x + 20) * kTwo32 + U32(x + 16);
      const size_t u0 = static_cast<size_t>(floor(offset / allocUnit));
      const size_t u1 = static_cast<size_t>(ceil((offset + len) / allocUnit));
      for (size_t u = u0; u < u1; u++) {
        const uint8_t c = claims[u];
        if (c == 0) allocated++;
        else collisions++;
        if (c < 255) claims[u] = static_cast<uint8_t>(c + 1);
      }
    }
    fileEntries++;
    sum += fsize;
    const int32_t hs = static_cast<int32_t>(h);
    if (Has(dirs, log, byteLength, hs, p0, n) || Has(files, log, byteLength, hs, p0, n)) {
      existed++;
    } else if (Add(files, hs, p0)) {
      nfiles++;
      room--;
    }
  }
  acc[kSumFileSizes] = sum;
  acc[kFileEntries] = fileEntries;
  acc[kFiles] = nfiles;
  acc[kExisted] = existed;
  acc[kAllocated] = allocated;
  acc[kCollisions] = collisions;
  return Napi::Number::New(env, static_cast<double>(i));
}

}  // namespace

void InitLogCheck(Napi::Env env, Napi::Object exports) {
  exports.Set("checkFileEntries", Napi::Function::New(env, CheckFileEntries, "checkFileEntries"));
}

}  // namespace famfs_native
