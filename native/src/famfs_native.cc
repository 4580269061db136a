// famfs native addon: the few system calls and CPU instructions that Node.js
// does not expose. Each exported function does one or two syscalls; all
// argument policy lives in the TypeScript wrapper (src/index.ts), but every
// function here still checks its arguments so that calling the addon directly
// can never crash the process.
//
// Errors: every syscall failure throws a JS Error shaped like Node's fs errors:
//   message "ENOENT: no such file or directory, stat '/x'", code 'ENOENT',
//   errno 2 (positive, unlike Node's negative uv errnos), syscall 'stat',
//   path '/x' (only when there is one).
//
// Platform: Linux, x86-64 only. The cache flush functions use clwb /
// clflushopt / clflush; other architectures fail to compile on purpose rather
// than silently turning a flush into a no-op.

#if !defined(__x86_64__)
#error "famfs_native supports only x86-64 Linux (cache-line flush uses clwb/clflushopt/clflush)"
#endif

#include "famfs_native.h"

#include <napi.h>
#include <uv.h>

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <limits.h>
#include <linux/fs.h>  // BLKGETSIZE64
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace famfs_native {

// ---------------------------------------------------------------------------
// Errors

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define FAMFS_HAVE_STRERRORNAME_NP 1
#endif

std::string ErrnoName(int err) {
#ifdef FAMFS_HAVE_STRERRORNAME_NP
  if (const char* name = strerrorname_np(err)) return name;
#else
  switch (err) {
#define FAMFS_E(x) \
  case x:          \
    return #x;
    FAMFS_E(EPERM) FAMFS_E(ENOENT) FAMFS_E(EINTR) FAMFS_E(EIO) FAMFS_E(ENXIO)
    FAMFS_E(EBADF) FAMFS_E(EAGAIN) FAMFS_E(ENOMEM) FAMFS_E(EACCES) FAMFS_E(EFAULT)
    FAMFS_E(EBUSY) FAMFS_E(EEXIST) FAMFS_E(ENODEV) FAMFS_E(ENOTDIR) FAMFS_E(EISDIR)
    FAMFS_E(EINVAL) FAMFS_E(EMFILE) FAMFS_E(ENOTTY) FAMFS_E(EFBIG) FAMFS_E(ENOSPC)
    FAMFS_E(EROFS) FAMFS_E(ENAMETOOLONG) FAMFS_E(ENOLCK) FAMFS_E(ENOSYS)
    FAMFS_E(ELOOP) FAMFS_E(EOVERFLOW) FAMFS_E(ENOTBLK) FAMFS_E(EOPNOTSUPP)
#undef FAMFS_E
    default:
      break;
  }
#endif
  return "E" + std::to_string(err);  // unknown errno: still a usable code
}

namespace {
std::string ErrnoDescription(int err) {
#ifdef FAMFS_HAVE_STRERRORNAME_NP
  const char* d = strerrordesc_np(err);
  std::string s = d ? d : "unknown error " + std::to_string(err);
#else
  std::string s = strerror(err);
#endif
  // Node/libuv style: "no such file or directory".
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}
}  // namespace

// Throws Error{message, code, errno, syscall[, path]}. `description`
// overrides strerror's text where the errno alone would be misleading.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string* path,
                             const char* description) {
  std::string code = ErrnoName(err);
  std::string msg = code + ": " + (description ? description : ErrnoDescription(err)) + ", " + syscall;
  if (path) msg += " '" + *path + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  Napi::Object o = e.Value();
  o.Set("code", Napi::String::New(env, code));
  o.Set("errno", Napi::Number::New(env, err));
  o.Set("syscall", Napi::String::New(env, syscall));
  if (path) o.Set("path", Napi::String::New(env, *path));
  throw e;
}

// ---------------------------------------------------------------------------
// Argument helpers (the TS wrapper validates first; these are the backstop)

constexpr double kMaxSafeInteger = 9007199254740991.0;

uint64_t ArgIndex(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t max) {
  Napi::Env env = info.Env();
  if (!info[i].IsNumber()) throw Napi::TypeError::New(env, std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > kMaxSafeInteger || std::floor(d) != d)
    throw Napi::RangeError::New(env, std::string(name) + " must be a non-negative integer");
  if (d > static_cast<double>(max))
    throw Napi::RangeError::New(env, std::string(name) + " is too large");
  return static_cast<uint64_t>(d);
}

BufferRange ArgBufferRange(const Napi::CallbackInfo& info, size_t nargs, const char* usage, const char* lengthName) {
  Napi::Env env = info.Env();
  if (info.Length() < nargs || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, usage);
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  const size_t size = ab.ByteLength();
  const uint64_t offset = ArgIndex(info, 1, "byteOffset", size);
  const uint64_t length = ArgIndex(info, 2, lengthName, size - offset);
  return {static_cast<uint8_t*>(ab.Data()) + offset, length};
}

int ArgFd(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<int>(ArgIndex(info, i, "fd", INT_MAX));
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBoolean()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

}  // namespace famfs_native

namespace {

using famfs_native::ArgBool;
using famfs_native::ArgFd;
using famfs_native::ArgIndex;
using famfs_native::ThrowErrno;

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos)
    throw Napi::TypeError::New(info.Env(), std::string(name) + " must not contain NUL bytes");
  return s;
}

Napi::ArrayBuffer ArgArrayBuffer(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsArrayBuffer()) throw Napi::TypeError::New(info.Env(), "argument must be an ArrayBuffer");
  return info[i].As<Napi::ArrayBuffer>();
}

// [offset, offset+length) must lie inside the buffer.
void CheckRange(Napi::Env env, size_t byteLength, uint64_t offset, uint64_t length) {
  if (offset > byteLength || length > byteLength - offset)
    throw Napi::RangeError::New(env, "range [" + std::to_string(offset) + ", " +
                                         std::to_string(offset + length) + ") is outside the " +
                                         std::to_string(byteLength) + "-byte buffer");
}

// ---------------------------------------------------------------------------
// Mappings

size_t g_page_size = 4096;
// Node 20's Buffer/TypedArray kMaxLength (2^32). Creating a larger external
// buffer makes Node call the finalizer during creation, so refuse up front.
constexpr uint64_t kMaxMapLength = 4294967296ULL;

struct Mapping {
  void* base;
  size_t length;
  bool unmapped;  // set by explicit munmap(); the finalizer then only frees this record
};

// Live mappings created by mmap(), keyed by base address. The finalizer only
// erases its own record, so an address reused by a later mmap() is safe.
std::mutex g_mutex;
std::unordered_map<void*, Mapping*> g_mappings;

void FinalizeMapping(napi_env /*env*/, void* /*data*/, void* hint) {
  Mapping* rec = static_cast<Mapping*>(hint);
  bool unmap;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_mappings.find(rec->base);
    if (it != g_mappings.end() && it->second == rec) g_mappings.erase(it);
    unmap = !rec->unmapped;
  }
  if (unmap) ::munmap(rec->base, rec->length);
  delete rec;
}

// The live record for an ArrayBuffer created by mmap(), or nullptr.
Mapping* FindMapping(Napi::ArrayBuffer ab) {
  void* data = ab.Data();
  if (data == nullptr) return nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_mappings.find(data);
  if (it == g_mappings.end() || it->second->length != ab.ByteLength()) return nullptr;
  return it->second;
}

[[noreturn]] void ThrowNotMapping(Napi::Env env, const char* syscall) {
  ThrowErrno(env, EINVAL, syscall, nullptr,
             "not a live mapping created by famfs native mmap (already unmapped?)");
}

// mmap(fd, offset, length, writable) -> ArrayBuffer over a MAP_SHARED mapping.
Napi::Value Mmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  uint64_t offset = ArgIndex(info, 1, "offset", INT64_MAX);
  uint64_t length = ArgIndex(info, 2, "length", kMaxMapLength);
  bool writable = ArgBool(info, 3, "writable");
  if (length == 0) throw Napi::RangeError::New(env, "length must be > 0");
  if (offset % g_page_size != 0) throw Napi::RangeError::New(env, "offset must be a multiple of the page size");

  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = ::mmap(nullptr, length, prot, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap");

  Mapping* rec = new Mapping{p, static_cast<size_t>(length), false};
  napi_value ab;
  napi_status st = napi_create_external_arraybuffer(env, p, length, FinalizeMapping, rec, &ab);
  if (st != napi_ok) {
    ::munmap(p, length);
    delete rec;
    throw Napi::Error::New(env);  // the pending exception or napi's last error
  }
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_mappings[p] = rec;
  }
  return Napi::Value(env, ab);
}

// munmap(arrayBuffer): unmap, after detaching the ArrayBuffer so JS can never
// touch the freed range. A second call (or any buffer not from mmap()) throws
// EINVAL.
Napi::Value Munmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab = ArgArrayBuffer(info, 0);
  void* base = ab.Data();
  size_t length = ab.ByteLength();
  Mapping* rec;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = base ? g_mappings.find(base) : g_mappings.end();
    if (it == g_mappings.end() || it->second->length != length) {
      rec = nullptr;
    } else {
      rec = it->second;
      rec->unmapped = true;  // from here on the finalizer only frees `rec`
      g_mappings.erase(it);
    }
  }
  if (!rec) ThrowNotMapping(env, "munmap");

  // Detach first: if that fails nothing has changed yet. `rec` may be freed by
  // the finalizer as soon as the buffer is detached, so don't touch it after.
  napi_status st = napi_detach_arraybuffer(env, ab);
  if (st != napi_ok) {
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      rec->unmapped = false;
      g_mappings[base] = rec;
    }
    throw Napi::Error::New(env);
  }
  if (::munmap(base, length) != 0) ThrowErrno(env, errno, "munmap");
  return env.Undefined();
}

// msync(arrayBuffer, offset, length, sync): MS_SYNC/MS_ASYNC over the pages
// covering [offset, offset+length) of a mapping from mmap().
Napi::Value Msync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::ArrayBuffer ab = ArgArrayBuffer(info, 0);
  uint64_t offset = ArgIndex(info, 1, "offset", SIZE_MAX);
  uint64_t length = ArgIndex(info, 2, "length", SIZE_MAX);
  bool sync = ArgBool(info, 3, "sync");
  Mapping* rec = FindMapping(ab);
  if (!rec) ThrowNotMapping(env, "msync");
  CheckRange(env, rec->length, offset, length);
  if (length == 0) return env.Undefined();
  uintptr_t start = reinterpret_cast<uintptr_t>(rec->base) + offset;
  uintptr_t aligned = start & ~(static_cast<uintptr_t>(g_page_size) - 1);
  if (::msync(reinterpret_cast<void*>(aligned), start + length - aligned, sync ? MS_SYNC : MS_ASYNC) != 0)
    ThrowErrno(env, errno, "msync");
  return env.Undefined();
}

// ---------------------------------------------------------------------------
// Cache-line flush (x86-64). Method and line size are chosen once at load.

enum class FlushMethod { kClwb, kClflushopt, kClflush };
FlushMethod g_flush_method = FlushMethod::kClflush;
bool g_have_clflushopt = false;
uintptr_t g_line_size = 64;

void DetectCpu() {
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    unsigned line = ((b >> 8) & 0xff) * 8;  // CLFLUSH line size, in 8-byte units
    if ((d & (1u << 19)) && line != 0 && (line & (line - 1)) == 0) g_line_size = line;
  }
  bool clwb = false;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    g_have_clflushopt = (b & (1u << 23)) != 0;
    clwb = (b & (1u << 24)) != 0;
  }
  // CLFLUSH is part of SSE2, so every x86-64 CPU has it.
  g_flush_method = clwb ? FlushMethod::kClwb
                        : g_have_clflushopt ? FlushMethod::kClflushopt : FlushMethod::kClflush;
}

__attribute__((target("clwb"))) void WritebackClwb(uintptr_t p, uintptr_t end) {
  for (; p < end; p += g_line_size) _mm_clwb(reinterpret_cast<void*>(p));
  _mm_sfence();
}

__attribute__((target("clflushopt"))) void FlushClflushopt(uintptr_t p, uintptr_t end, bool full_fence) {
  for (; p < end; p += g_line_size) _mm_clflushopt(reinterpret_cast<void*>(p));
  if (full_fence) _mm_mfence(); else _mm_sfence();
}

void FlushClflush(uintptr_t p, uintptr_t end) {
  for (; p < end; p += g_line_size) _mm_clflush(reinterpret_cast<void*>(p));
  _mm_mfence();
}

// Resolves (arrayBuffer, offset, length) to the cache-line-aligned address
// range covering it; returns false when there is nothing to flush.
bool LineRange(const Napi::CallbackInfo& info, uintptr_t* start, uintptr_t* end) {
  Napi::ArrayBuffer ab = ArgArrayBuffer(info, 0);
  uint64_t offset = ArgIndex(info, 1, "offset", SIZE_MAX);
  uint64_t length = ArgIndex(info, 2, "length", SIZE_MAX);
  CheckRange(info.Env(), ab.ByteLength(), offset, length);
  if (length == 0) return false;
  uintptr_t s = reinterpret_cast<uintptr_t>(ab.Data()) + offset;
  *start = s & ~(g_line_size - 1);
  *end = s + length;
  return true;
}

// flushRange: write dirty lines back to memory (clwb keeps them cached).
Napi::Value FlushRange(const Napi::CallbackInfo& info) {
  uintptr_t s, e;
  if (LineRange(info, &s, &e)) {
    switch (g_flush_method) {
      case FlushMethod::kClwb: WritebackClwb(s, e); break;
      case FlushMethod::kClflushopt: FlushClflushopt(s, e, false); break;
      case FlushMethod::kClflush: FlushClflush(s, e); break;
    }
  }
  return info.Env().Undefined();
}

// invalidateRange: write back and evict, so the next load comes from memory
// (for data written by another host). mfence also orders the later loads.
Napi::Value InvalidateRange(const Napi::CallbackInfo& info) {
  uintptr_t s, e;
  if (LineRange(info, &s, &e)) {
    if (g_have_clflushopt) FlushClflushopt(s, e, true);
    else FlushClflush(s, e);
  }
  return info.Env().Undefined();
}

Napi::Value CacheFlushMethod(const Napi::CallbackInfo& info) {
  const char* name = g_flush_method == FlushMethod::kClwb         ? "clwb"
                     : g_flush_method == FlushMethod::kClflushopt ? "clflushopt"
                                                                  : "clflush";
  return Napi::String::New(info.Env(), name);
}

// ---------------------------------------------------------------------------
// flock

// flock(fd, 'sh'|'ex'|'un', nonblock) -> true, or false when nonblock and the
// lock is held elsewhere. EINTR is retried.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  std::string op = ArgString(info, 1, "op");
  bool nonblock = ArgBool(info, 2, "nonblock");
  int how;
  if (op == "sh") how = LOCK_SH;
  else if (op == "ex") how = LOCK_EX;
  else if (op == "un") how = LOCK_UN;
  else throw Napi::TypeError::New(env, "op must be 'sh', 'ex' or 'un'");
  if (nonblock) how |= LOCK_NB;
  int r;
  do r = ::flock(fd, how); while (r != 0 && errno == EINTR);
  if (r != 0) {
    if (nonblock && errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    ThrowErrno(env, errno, "flock");
  }
  return Napi::Boolean::New(env, true);
}

// ---------------------------------------------------------------------------
// deviceInfo

// Reads a decimal number from a sysfs attribute file.
uint64_t ReadSysfsU64(Napi::Env env, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open", &path);
  char buf[64];
  ssize_t n;
  do n = ::read(fd, buf, sizeof buf - 1); while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) ThrowErrno(env, err, "read", &path);
  buf[n] = '\0';
  char* end;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (end == buf || errno != 0) ThrowErrno(env, EINVAL, "read", &path, "not a number");
  return v;
}

// deviceInfo(path) -> {kind, size, major?, minor?}. stat() follows symlinks.
Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) ThrowErrno(env, errno, "stat", &path);

  Napi::Object out = Napi::Object::New(env);
  const char* kind = "other";
  double size = 0;
  if (S_ISREG(st.st_mode)) {
    kind = "file";
    size = static_cast<double>(st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    kind = "directory";
    size = static_cast<double>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    kind = "block";
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ThrowErrno(env, errno, "open", &path);
    uint64_t bytes = 0;
    int r = ::ioctl(fd, BLKGETSIZE64, &bytes);
    int err = errno;
    ::close(fd);
    if (r != 0) ThrowErrno(env, err, "ioctl(BLKGETSIZE64)", &path);
    size = static_cast<double>(bytes);
  } else if (S_ISCHR(st.st_mode)) {
    // A device-dax node's sysfs "subsystem" link resolves to .../class/dax or .../bus/dax.
    std::string sys = "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" +
                      std::to_string(minor(st.st_rdev));
    char resolved[PATH_MAX];
    if (::realpath((sys + "/subsystem").c_str(), resolved) != nullptr) {
      const char* slash = strrchr(resolved, '/');
      if (slash && strcmp(slash + 1, "dax") == 0) {
        kind = "dax";
        size = static_cast<double>(ReadSysfsU64(env, sys + "/size"));
      }
    }
  }
  out.Set("kind", Napi::String::New(env, kind));
  out.Set("size", Napi::Number::New(env, size));
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    out.Set("major", Napi::Number::New(env, major(st.st_rdev)));
    out.Set("minor", Napi::Number::New(env, minor(st.st_rdev)));
  }
  return out;
}

// ---------------------------------------------------------------------------
// mount / umount2

// mount(source, target, fstype, flags, data); an empty data string passes NULL.
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string source = ArgString(info, 0, "source");
  std::string target = ArgString(info, 1, "target");
  std::string fstype = ArgString(info, 2, "fstype");
  uint64_t flags = ArgIndex(info, 3, "flags", ULONG_MAX);
  std::string data = ArgString(info, 4, "data");
  if (::mount(source.c_str(), target.c_str(), fstype.c_str(), static_cast<unsigned long>(flags),
              data.empty() ? nullptr : data.c_str()) != 0)
    ThrowErrno(env, errno, "mount", &target);
  return env.Undefined();
}

Napi::Value Umount2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string target = ArgString(info, 0, "target");
  int flags = static_cast<int>(ArgIndex(info, 1, "flags", INT_MAX));
  if (::umount2(target.c_str(), flags) != 0) ThrowErrno(env, errno, "umount2", &target);
  return env.Undefined();
}

// ---------------------------------------------------------------------------
// fd readiness on the event loop (uv_poll)
//
// The FUSE server reads /dev/fuse (non-blocking) on the main thread when the
// loop says it is readable, draining every request that is ready in one
// wakeup, instead of parking a libuv worker thread in a blocking read per
// request. The callback runs on the loop thread through MakeCallback, so
// promise jobs it queues run right after it.

struct Poller {
  uv_poll_t handle;
  Napi::FunctionReference callback;
  Napi::AsyncContext* context;
  napi_env env;
  uint32_t id;
  bool closing;
};

std::unordered_map<uint32_t, Poller*> g_pollers;
uint32_t g_next_poller = 1;

void PollClosed(uv_handle_t* h) {
  Poller* p = static_cast<Poller*>(h->data);
  delete p->context;
  p->callback.Reset();
  delete p;
}

void OnPoll(uv_poll_t* h, int status, int events) {
  Poller* p = static_cast<Poller*>(h->data);
  if (p->closing) return;
  Napi::Env env(p->env);
  Napi::HandleScope scope(env);
  // status < 0 (e.g. EBADF): let JS find out by reading
  (void)events;
  // Nothing may unwind out of a libuv callback: a JS exception becomes an
  // uncaught-exception report instead of an abort.
  try {
    p->callback.MakeCallback(env.Global(), {Napi::Number::New(env, status)}, *p->context);
  } catch (const Napi::Error& e) {
    napi_value err = e.Value();
    napi_fatal_exception(env, err);
  }
}

// pollStart(fd, callback) -> id: call callback(status) whenever fd is readable.
Napi::Value PollStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  if (info.Length() < 2 || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "callback must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Poller* p = new Poller();
  p->env = env;
  p->closing = false;
  int rc = uv_poll_init(loop, &p->handle, fd);
  if (rc != 0) {
    delete p;
    ThrowErrno(env, -rc, "uv_poll_init", nullptr);
  }
  p->handle.data = p;
  p->callback = Napi::Persistent(info[1].As<Napi::Function>());
  p->context = new Napi::AsyncContext(env, "famfs:poll");
  rc = uv_poll_start(&p->handle, UV_READABLE, OnPoll);
  if (rc != 0) {
    p->closing = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), PollClosed);
    ThrowErrno(env, -rc, "uv_poll_start", nullptr);
  }
  p->id = g_next_poller++;
  g_pollers[p->id] = p;
  return Napi::Number::New(env, p->id);
}

// pollStop(id): stop watching (idempotent).
Napi::Value PollStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = static_cast<uint32_t>(ArgIndex(info, 0, "id", UINT32_MAX));
  auto it = g_pollers.find(id);
  if (it == g_pollers.end()) return env.Undefined();
  Poller* p = it->second;
  g_pollers.erase(it);
  p->closing = true;
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), PollClosed);
  return env.Undefined();
}

// setNonblock(fd, on): O_NONBLOCK on or off (fcntl).
Napi::Value SetNonblock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  bool on = ArgBool(info, 1, "on");
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) ThrowErrno(env, errno, "fcntl(F_GETFL)", nullptr);
  fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
  if (::fcntl(fd, F_SETFL, fl) != 0) ThrowErrno(env, errno, "fcntl(F_SETFL)", nullptr);
  return env.Undefined();
}

// ---------------------------------------------------------------------------
// copy_file_range

// copyFileRange(fdIn, offIn, fdOut, offOut, len) -> bytes copied (may be
// short; 0 at the end of the input). Positional on both sides: the file
// offsets of the fds do not move. EINTR is retried.
Napi::Value CopyFileRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fdIn = ArgFd(info, 0);
  loff_t offIn = static_cast<loff_t>(ArgIndex(info, 1, "offIn", static_cast<uint64_t>(INT64_MAX)));
  int fdOut = ArgFd(info, 2);
  loff_t offOut = static_cast<loff_t>(ArgIndex(info, 3, "offOut", static_cast<uint64_t>(INT64_MAX)));
  size_t len = static_cast<size_t>(ArgIndex(info, 4, "len", SSIZE_MAX));
  ssize_t n;
  do {
    n = ::copy_file_range(fdIn, &offIn, fdOut, &offOut, len, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "copy_file_range", nullptr);
  return Napi::Number::New(env, static_cast<double>(n));
}

// ---------------------------------------------------------------------------
// socketpair

// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC): a connected pair that
// keeps message boundaries like /dev/fuse does (one message per read). The
// FUSE server's test transport plays the kernel over one end.
Napi::Value SocketpairSeqpacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    ThrowErrno(env, errno, "socketpair", nullptr);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, sv[0]));
  out.Set(1u, Napi::Number::New(env, sv[1]));
  return out;
}


// ---------------------------------------------------------------------------
// The DAX window: an address-space reservation whose pages are either the
// window's own base layer (PROT_NONE: any access faults) or a device range
// mapped over it with MAP_FIXED. Reservations are named by an id; their
// addresses never reach JavaScript as pointers (windowBase exists only for
// diagnostics such as reading /proc/self/maps).

struct Window {
  uintptr_t base;
  size_t length;
  int fd;  // a dup of the base layer's fd (a memfd), or -1 for an anonymous reservation
};

std::unordered_map<uint32_t, Window> g_windows;
uint32_t g_next_window = 1;

Window& FindWindow(Napi::Env env, const Napi::CallbackInfo& info, size_t i) {
  uint32_t id = static_cast<uint32_t>(ArgIndex(info, i, "id", UINT32_MAX));
  auto it = g_windows.find(id);
  if (it == g_windows.end()) ThrowErrno(env, EBADF, "window", nullptr, "no such window reservation (released?)");
  return it->second;
}

// [offset, offset+length) must be a non-empty, page-aligned range of the window.
void CheckWindowRange(Napi::Env env, const Window& w, uint64_t offset, uint64_t length) {
  if (length == 0 || offset % g_page_size != 0 || length % g_page_size != 0)
    throw Napi::RangeError::New(env, "window range must be non-empty and page-aligned");
  if (offset > w.length || length > w.length - offset)
    throw Napi::RangeError::New(env, "range [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                                         ") is outside the " + std::to_string(w.length) + "-byte window");
}

// Put the base layer back over [addr, addr+length): the memfd at the same
// offset, or anonymous memory, PROT_NONE either way. Returns 0 or an errno.
int BaseLayer(const Window& w, uintptr_t addr, size_t length) {
  void* want = reinterpret_cast<void*>(addr);
  void* p = w.fd >= 0
                ? ::mmap(want, length, PROT_NONE, MAP_SHARED | MAP_FIXED, w.fd, static_cast<off_t>(addr - w.base))
                : ::mmap(want, length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  return p == MAP_FAILED ? errno : 0;
}

// memfdCreate(name, size) -> fd: a sealed-size memfd (MFD_CLOEXEC; shrink
// and grow sealed, so a peer that maps it can never be handed SIGBUS).
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ArgString(info, 0, "name");
  uint64_t size = ArgIndex(info, 1, "size", static_cast<uint64_t>(INT64_MAX));
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) ThrowErrno(env, errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "ftruncate");
  }
  if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "fcntl(F_ADD_SEALS)");
  }
  return Napi::Number::New(env, fd);
}

// windowReserve(length, align, fd) -> id. Reserves `length` bytes aligned to
// `align` (a power of two, at least a page) by over-reserving and trimming,
// then lays the base layer (the fd from offset 0 when fd >= 0) over it.
Napi::Value WindowReserve(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t length = ArgIndex(info, 0, "length", static_cast<uint64_t>(1) << 46);
  uint64_t align = ArgIndex(info, 1, "align", static_cast<uint64_t>(1) << 30);
  if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  double fdv = info[2].As<Napi::Number>().DoubleValue();
  if (std::floor(fdv) != fdv || fdv < -1 || fdv > INT_MAX) throw Napi::RangeError::New(env, "fd must be -1 or an fd");
  int fd = static_cast<int>(fdv);
  if (length == 0 || length % g_page_size != 0) throw Napi::RangeError::New(env, "length must be a positive multiple of the page size");
  if (align < g_page_size || (align & (align - 1)) != 0) throw Napi::RangeError::New(env, "align must be a power of two >= the page size");

  size_t span = static_cast<size_t>(length + align);
  void* p = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap(reserve)");
  uintptr_t raw = reinterpret_cast<uintptr_t>(p);
  uintptr_t base = (raw + align - 1) & ~(static_cast<uintptr_t>(align) - 1);
  if (base > raw) ::munmap(p, base - raw);
  uintptr_t end = base + length;
  if (raw + span > end) ::munmap(reinterpret_cast<void*>(end), raw + span - end);

  Window w{base, static_cast<size_t>(length), -1};
  if (fd >= 0) {
    w.fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (w.fd < 0) {
      int err = errno;
      ::munmap(reinterpret_cast<void*>(base), length);
      ThrowErrno(env, err, "fcntl(F_DUPFD_CLOEXEC)");
    }
    int err = BaseLayer(w, base, w.length);
    if (err != 0) {
      ::munmap(reinterpret_cast<void*>(base), length);
      ::close(w.fd);
      ThrowErrno(env, err, "mmap(base layer)");
    }
  }
  uint32_t id = g_next_window++;
  g_windows[id] = w;
  return Napi::Number::New(env, id);
}

// windowMap(id, offset, length, fd, fdOffset, writable): map the fd's range
// at the window offset (MAP_SHARED | MAP_FIXED, replacing whatever was
// there). If the kernel refuses, MAP_FIXED may already have torn down the
// old pages: the base layer goes back at once so the range is never a hole
// another mmap could take, and the caller restores what it knows was there.
Napi::Value WindowMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Window& w = FindWindow(env, info, 0);
  uint64_t offset = ArgIndex(info, 1, "offset", SIZE_MAX);
  uint64_t length = ArgIndex(info, 2, "length", SIZE_MAX);
  int fd = ArgFd(info, 3);
  uint64_t fdOffset = ArgIndex(info, 4, "fdOffset", static_cast<uint64_t>(INT64_MAX));
  bool writable = ArgBool(info, 5, "writable");
  CheckWindowRange(env, w, offset, length);
  if (fdOffset % g_page_size != 0) throw Napi::RangeError::New(env, "fdOffset must be page-aligned");
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* want = reinterpret_cast<void*>(w.base + offset);
  void* p = ::mmap(want, length, prot, MAP_SHARED | MAP_FIXED, fd, static_cast<off_t>(fdOffset));
  if (p == MAP_FAILED) {
    int err = errno;
    BaseLayer(w, w.base + offset, length);
    ThrowErrno(env, err, "mmap(MAP_FIXED)");
  }
  return env.Undefined();
}

// windowUnmap(id, offset, length): the range goes back to the base layer.
Napi::Value WindowUnmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Window& w = FindWindow(env, info, 0);
  uint64_t offset = ArgIndex(info, 1, "offset", SIZE_MAX);
  uint64_t length = ArgIndex(info, 2, "length", SIZE_MAX);
  CheckWindowRange(env, w, offset, length);
  int err = BaseLayer(w, w.base + offset, length);
  if (err != 0) ThrowErrno(env, err, "mmap(PROT_NONE)");
  return env.Undefined();
}

// windowProbe(id, offsets: Float64Array, segLen, dst: ArrayBuffer, status:
// ArrayBuffer, writeBack): copy segment i (segLen bytes at window offset
// offsets[i]) into dst[i*segLen ...] through process_vm_readv on this very
// process, which reports a page that cannot be read as EFAULT instead of
// raising SIGSEGV. status[i] = 0 (faulted), 1 (read). With writeBack, every
// readable segment is written back unchanged (process_vm_writev honours the
// page protection, unlike /proc/self/mem): status 2 = writable too.
int ProbeBatch(const Window& w, const double* offs, size_t n, size_t segLen, uint8_t* dst, uint8_t* status, bool write,
               uint8_t okValue, uint8_t need) {
  pid_t self = ::getpid();
  std::vector<struct iovec> local, remote;
  size_t i = 0;
  while (i < n) {
    local.clear();
    remote.clear();
    size_t first = i;
    for (size_t k = i; k < n && local.size() < 1024; k++) {
      if (status[k] != need) {
        if (local.empty()) { first = k + 1; continue; }
        break;  // keep batches contiguous so a short count names the failing segment
      }
      local.push_back({dst + k * segLen, segLen});
      remote.push_back({reinterpret_cast<void*>(w.base + static_cast<uintptr_t>(offs[k])), segLen});
    }
    if (local.empty()) { i = first; continue; }
    ssize_t r = write ? ::process_vm_writev(self, local.data(), local.size(), remote.data(), remote.size(), 0)
                      : ::process_vm_readv(self, local.data(), local.size(), remote.data(), remote.size(), 0);
    size_t done;
    if (r < 0) {
      if (errno != EFAULT) return errno;
      done = 0;
    } else {
      done = static_cast<size_t>(r) / segLen;
    }
    for (size_t k = 0; k < done; k++) status[first + k] = okValue;
    i = first + done;
    if (done < local.size()) i++;  // the segment that failed keeps its old status
  }
  return 0;
}

Napi::Value WindowProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Window& w = FindWindow(env, info, 0);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw Napi::TypeError::New(env, "offsets must be a Float64Array");
  Napi::Float64Array offsets = info[1].As<Napi::Float64Array>();
  uint64_t segLen = ArgIndex(info, 2, "segLen", 4096);
  Napi::ArrayBuffer dst = ArgArrayBuffer(info, 3);
  if (!info[4].IsArrayBuffer()) throw Napi::TypeError::New(env, "status must be an ArrayBuffer");
  Napi::ArrayBuffer status = info[4].As<Napi::ArrayBuffer>();
  bool writeBack = ArgBool(info, 5, "writeBack");
  size_t n = offsets.ElementLength();
  if (segLen == 0) throw Napi::RangeError::New(env, "segLen must be > 0");
  if (dst.ByteLength() < n * segLen || status.ByteLength() < n) throw Napi::RangeError::New(env, "dst or status too small");
  const double* offs = offsets.Data();
  for (size_t k = 0; k < n; k++) {
    double o = offs[k];
    if (!(o >= 0) || std::floor(o) != o || o + static_cast<double>(segLen) > static_cast<double>(w.length))
      throw Napi::RangeError::New(env, "segment " + std::to_string(k) + " is outside the window");
  }
  uint8_t* st = static_cast<uint8_t*>(status.Data());
  uint8_t* d = static_cast<uint8_t*>(dst.Data());
  memset(st, 0, n);
  int err = ProbeBatch(w, offs, n, segLen, d, st, false, 1, 0);
  if (err != 0) ThrowErrno(env, err, "process_vm_readv");
  if (writeBack) {
    err = ProbeBatch(w, offs, n, segLen, d, st, true, 2, 1);
    if (err != 0) ThrowErrno(env, err, "process_vm_writev");
  }
  return env.Undefined();
}

// windowRelease(id): unmap the whole reservation and close the base fd.
Napi::Value WindowRelease(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = static_cast<uint32_t>(ArgIndex(info, 0, "id", UINT32_MAX));
  auto it = g_windows.find(id);
  if (it == g_windows.end()) ThrowErrno(env, EBADF, "window", nullptr, "no such window reservation (released?)");
  Window w = it->second;
  g_windows.erase(it);
  int err = ::munmap(reinterpret_cast<void*>(w.base), w.length) == 0 ? 0 : errno;
  if (w.fd >= 0) ::close(w.fd);
  if (err != 0) ThrowErrno(env, err, "munmap");
  return env.Undefined();
}

Napi::Value WindowBase(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Window& w = FindWindow(env, info, 0);
  return Napi::Number::New(env, static_cast<double>(w.base));
}

Napi::Value LiveWindowCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_windows.size()));
}

// ---------------------------------------------------------------------------
// File descriptors over unix sockets (SCM_RIGHTS), and SOCK_SEQPACKET
// listen/accept/connect (Node's net module only does SOCK_STREAM and cannot
// pass descriptors).

constexpr size_t kMaxFds = 253;  // SCM_MAX_FD

// sendFds(sock, buffer, offset, length, fds[]) -> bytes sent. One sendmsg:
// the data and, in the same message, the descriptors. EINTR is retried.
Napi::Value SendFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgFd(info, 0);
  Napi::ArrayBuffer ab = ArgArrayBuffer(info, 1);
  uint64_t offset = ArgIndex(info, 2, "offset", SIZE_MAX);
  uint64_t length = ArgIndex(info, 3, "length", SIZE_MAX);
  CheckRange(env, ab.ByteLength(), offset, length);
  if (!info[4].IsArray()) throw Napi::TypeError::New(env, "fds must be an array");
  Napi::Array arr = info[4].As<Napi::Array>();
  if (arr.Length() > kMaxFds) throw Napi::RangeError::New(env, "at most 253 fds per message");
  std::vector<int> fds;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw Napi::TypeError::New(env, "fds must be numbers");
    double d = v.As<Napi::Number>().DoubleValue();
    if (std::floor(d) != d || d < 0 || d > INT_MAX) throw Napi::RangeError::New(env, "fds must be non-negative integers");
    fds.push_back(static_cast<int>(d));
  }
  struct iovec iov = {static_cast<uint8_t*>(ab.Data()) + offset, static_cast<size_t>(length)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "sendmsg");
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvFds(sock, buffer, offset, length, maxFds) -> {bytes, fds} | null (no
// message ready on a non-blocking socket). bytes 0 with no fds = the peer
// hung up. A message longer than the buffer, or with more descriptors than
// maxFds, is an EMSGSIZE error (its descriptors are closed, never leaked).
Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = ArgFd(info, 0);
  Napi::ArrayBuffer ab = ArgArrayBuffer(info, 1);
  uint64_t offset = ArgIndex(info, 2, "offset", SIZE_MAX);
  uint64_t length = ArgIndex(info, 3, "length", SIZE_MAX);
  uint64_t maxFds = ArgIndex(info, 4, "maxFds", kMaxFds);
  CheckRange(env, ab.ByteLength(), offset, length);
  struct iovec iov = {static_cast<uint8_t*>(ab.Data()) + offset, static_cast<size_t>(length)};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxFds), 0);
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    ThrowErrno(env, errno, "recvmsg");
  }
  std::vector<int> fds;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t k = 0; k < count; k++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      fds.push_back(fd);
    }
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || fds.size() > maxFds) {
    for (int fd : fds) ::close(fd);
    ThrowErrno(env, EMSGSIZE, "recvmsg", nullptr, "message or its descriptors do not fit the buffer");
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("bytes", Napi::Number::New(env, static_cast<double>(n)));
  Napi::Array a = Napi::Array::New(env, fds.size());
  for (size_t k = 0; k < fds.size(); k++) a.Set(static_cast<uint32_t>(k), Napi::Number::New(env, fds[k]));
  out.Set("fds", a);
  return out;
}

bool UnixAddress(const std::string& path, struct sockaddr_un* sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  if (path.size() >= sizeof sa->sun_path) return false;
  memcpy(sa->sun_path, path.c_str(), path.size());
  return true;
}

// seqpacketListen(path, backlog) -> fd: a non-blocking, close-on-exec
// AF_UNIX SOCK_SEQPACKET socket bound at `path` and listening.
Napi::Value SeqpacketListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  int backlog = static_cast<int>(ArgIndex(info, 1, "backlog", 4096));
  struct sockaddr_un sa;
  if (!UnixAddress(path, &sa)) ThrowErrno(env, ENAMETOOLONG, "bind", &path);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "bind", &path);
  }
  if (::listen(fd, backlog) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "listen", &path);
  }
  return Napi::Number::New(env, fd);
}

// seqpacketAccept(fd) -> a connection's fd (non-blocking, close-on-exec), or
// -1 when no connection is waiting.
Napi::Value SeqpacketAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ArgFd(info, 0);
  int c;
  do c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK); while (c < 0 && errno == EINTR);
  if (c < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, -1);
    ThrowErrno(env, errno, "accept4");
  }
  return Napi::Number::New(env, c);
}

// seqpacketConnect(path) -> fd (blocking, close-on-exec).
Napi::Value SeqpacketConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  struct sockaddr_un sa;
  if (!UnixAddress(path, &sa)) ThrowErrno(env, ENAMETOOLONG, "connect", &path);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  int r;
  do r = ::connect(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa); while (r != 0 && errno == EINTR);
  if (r != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "connect", &path);
  }
  return Napi::Number::New(env, fd);
}

// ---------------------------------------------------------------------------
// FUSE backing devices (FUSE_DEV_IOC_BACKING_OPEN/CLOSE on a /dev/fuse fd):
// mainline passthrough (6.9+) and fuse-iomap's device cookies use the same
// ioctl; the iomap series puts the backing type in the low byte of flags.

struct FuseBackingMap {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(FuseBackingMap) == 16, "struct fuse_backing_map is 16 bytes");
constexpr unsigned long kFuseDevIocBackingOpen = _IOW(229, 1, FuseBackingMap);
constexpr unsigned long kFuseDevIocBackingClose = _IOW(229, 2, uint32_t);

Napi::Value FuseBackingOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fuseFd = ArgFd(info, 0);
  int fd = ArgFd(info, 1);
  uint32_t flags = static_cast<uint32_t>(ArgIndex(info, 2, "flags", UINT32_MAX));
  FuseBackingMap m{fd, flags, 0};
  int id = ::ioctl(fuseFd, kFuseDevIocBackingOpen, &m);
  if (id < 0) ThrowErrno(env, errno, "ioctl(FUSE_DEV_IOC_BACKING_OPEN)");
  return Napi::Number::New(env, id);
}

Napi::Value FuseBackingClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fuseFd = ArgFd(info, 0);
  uint32_t id = static_cast<uint32_t>(ArgIndex(info, 1, "id", UINT32_MAX));
  if (::ioctl(fuseFd, kFuseDevIocBackingClose, &id) != 0) ThrowErrno(env, errno, "ioctl(FUSE_DEV_IOC_BACKING_CLOSE)");
  return env.Undefined();
}

// ---------------------------------------------------------------------------
// Diagnostics

Napi::Value PageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_page_size));
}

Napi::Value CacheLineSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_line_size));
}

Napi::Value LiveMappingCount(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_mutex);
  return Napi::Number::New(info.Env(), static_cast<double>(g_mappings.size()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, [] {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps > 0) g_page_size = static_cast<size_t>(ps);
    DetectCpu();
  });
  exports.Set("mmap", Napi::Function::New(env, Mmap, "mmap"));
  exports.Set("munmap", Napi::Function::New(env, Munmap, "munmap"));
  exports.Set("msync", Napi::Function::New(env, Msync, "msync"));
  exports.Set("flushRange", Napi::Function::New(env, FlushRange, "flushRange"));
  exports.Set("invalidateRange", Napi::Function::New(env, InvalidateRange, "invalidateRange"));
  exports.Set("cacheFlushMethod", Napi::Function::New(env, CacheFlushMethod, "cacheFlushMethod"));
  exports.Set("cacheLineSize", Napi::Function::New(env, CacheLineSize, "cacheLineSize"));
  exports.Set("pageSize", Napi::Function::New(env, PageSize, "pageSize"));
  exports.Set("flock", Napi::Function::New(env, Flock, "flock"));
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("mount", Napi::Function::New(env, Mount, "mount"));
  exports.Set("umount2", Napi::Function::New(env, Umount2, "umount2"));
  exports.Set("copyFileRange", Napi::Function::New(env, CopyFileRange, "copyFileRange"));
  exports.Set("pollStart", Napi::Function::New(env, PollStart, "pollStart"));
  exports.Set("pollStop", Napi::Function::New(env, PollStop, "pollStop"));
  exports.Set("setNonblock", Napi::Function::New(env, SetNonblock, "setNonblock"));
  exports.Set("socketpairSeqpacket", Napi::Function::New(env, SocketpairSeqpacket, "socketpairSeqpacket"));
  exports.Set("memfdCreate", Napi::Function::New(env, MemfdCreate, "memfdCreate"));
  exports.Set("windowReserve", Napi::Function::New(env, WindowReserve, "windowReserve"));
  exports.Set("windowMap", Napi::Function::New(env, WindowMap, "windowMap"));
  exports.Set("windowUnmap", Napi::Function::New(env, WindowUnmap, "windowUnmap"));
  exports.Set("windowProbe", Napi::Function::New(env, WindowProbe, "windowProbe"));
  exports.Set("windowRelease", Napi::Function::New(env, WindowRelease, "windowRelease"));
  exports.Set("windowBase", Napi::Function::New(env, WindowBase, "windowBase"));
  exports.Set("liveWindowCount", Napi::Function::New(env, LiveWindowCount, "liveWindowCount"));
  exports.Set("sendFds", Napi::Function::New(env, SendFds, "sendFds"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("seqpacketListen", Napi::Function::New(env, SeqpacketListen, "seqpacketListen"));
  exports.Set("seqpacketAccept", Napi::Function::New(env, SeqpacketAccept, "seqpacketAccept"));
  exports.Set("seqpacketConnect", Napi::Function::New(env, SeqpacketConnect, "seqpacketConnect"));
  exports.Set("fuseBackingOpen", Napi::Function::New(env, FuseBackingOpen, "fuseBackingOpen"));
  exports.Set("fuseBackingClose", Napi::Function::New(env, FuseBackingClose, "fuseBackingClose"));
  exports.Set("liveMappingCount", Napi::Function::New(env, LiveMappingCount, "liveMappingCount"));
  exports.Set("maxMapLength", Napi::Number::New(env, static_cast<double>(kMaxMapLength)));
  famfs_native::InitFuseQueues(env, exports);
  famfs_native::InitCrcRecords(env, exports);
  famfs_native::InitLogCheck(env, exports);
  return exports;
}

}  // namespace

namespace famfs_native {

void WritebackLines(const void* p, size_t len) {
  if (len == 0) return;
  uintptr_t s = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = s & ~(g_line_size - 1);
  switch (g_flush_method) {
    case FlushMethod::kClwb: WritebackClwb(start, s + len); break;
    case FlushMethod::kClflushopt: FlushClflushopt(start, s + len, false); break;
    case FlushMethod::kClflush: FlushClflush(start, s + len); break;
  }
}

void InvalidateLines(const void* p, size_t len) {
  if (len == 0) return;
  uintptr_t s = reinterpret_cast<uintptr_t>(p);
  uintptr_t start = s & ~(g_line_size - 1);
  if (g_have_clflushopt) FlushClflushopt(start, s + len, true);
  else FlushClflush(start, s + len);
}

size_t PageSize() { return g_page_size; }

}  // namespace famfs_native

NODE_API_MODULE(famfs_native, Init)
