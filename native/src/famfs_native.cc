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
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

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
