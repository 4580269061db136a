// FUSE request queues: worker threads that take requests off the kernel,
// answer READ and WRITE on published file handles straight from the mapped
// devices, and hand every other request to JavaScript.
//
// Channels (chosen by the INIT reply JavaScript writes):
//  - the main channel: the session fd JS mounted with. It carries INIT, and,
//    with io_uring, whatever the kernel still sends through /dev/fuse after
//    the rings are registered (FORGET, BATCH_FORGET, INTERRUPT).
//  - FUSE-over-io_uring: when the INIT reply negotiated OVER_IO_URING, one
//    queue per possible CPU (the kernel picks the queue by the CPU the caller
//    runs on, and only switches to the rings once every queue has an entry),
//    each a thread with its own ring of `depth` entries.
//  - otherwise N channels cloned from the session fd (FUSE_DEV_IOC_CLONE),
//    one thread each. A reply must go back through the fd its request was
//    read from: the kernel keeps a processing list per cloned fd.
//
// Threads and ownership:
//  - A QueueSet (one per mount) is owned by the JS FuseQueues object and by
//    every pending thread-safe-function call (shared_ptr); worker threads
//    use it by plain pointer and are always joined before it can go.
//  - Only the JS thread starts and joins threads, publishes and withdraws run
//    tables, and writes replies JS gives it (for io_uring: fills the ring
//    entry and hands the commit to that queue's thread, the only thread that
//    touches its ring).
//  - Run tables are immutable once published; a worker takes a shared_ptr to
//    the table under a shared lock and serves from it. Withdrawing erases the
//    table: every READ that looks up the handle afterwards goes to JS.
//  - Device mappings live until the QueueSet is closed (after the join).
//
// Every length the kernel supplies is checked before use. A request that is
// not exactly what the fast paths expect is handed to JS unchanged (or as
// closely reconstructed as its lengths allow), whose decoder answers EINVAL.

#include "famfs_native.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

namespace famfs_native {
namespace {

// ---------------------------------------------------------------------------
// Wire layouts (include/uapi/linux/fuse.h; little-endian x86-64). Read and
// written with memcpy: kernel buffers carry no alignment promise we rely on.

constexpr uint32_t kOpRead = 15;
constexpr uint32_t kOpWrite = 16;
constexpr uint32_t kOpInit = 26;

struct InHeader {  // fuse_in_header
  uint32_t len;    // the whole request, this header included
  uint32_t opcode;
  uint64_t unique;
  uint64_t nodeid;
  uint32_t uid, gid, pid;
  uint16_t total_extlen;  // extension headers, in 8-byte units
  uint16_t padding;
};
static_assert(sizeof(InHeader) == 40, "fuse_in_header is 40 bytes");

struct OutHeader {  // fuse_out_header
  uint32_t len;     // the whole reply, this header included
  int32_t error;    // 0 or -errno
  uint64_t unique;
};
static_assert(sizeof(OutHeader) == 16, "fuse_out_header is 16 bytes");

struct ReadIn {  // fuse_read_in
  uint64_t fh, offset;
  uint32_t size, read_flags;
  uint64_t lock_owner;
  uint32_t flags, padding;
};
static_assert(sizeof(ReadIn) == 40, "fuse_read_in is 40 bytes");

struct WriteIn {  // fuse_write_in; the data follows it
  uint64_t fh, offset;
  uint32_t size, write_flags;
  uint64_t lock_owner;
  uint32_t flags, padding;
};
static_assert(sizeof(WriteIn) == 40, "fuse_write_in is 40 bytes");

struct WriteOut {  // fuse_write_out
  uint32_t size, padding;
};
static_assert(sizeof(WriteOut) == 8, "fuse_write_out is 8 bytes");

// fuse_init_out field offsets (from the start of the body).
constexpr size_t kInitOutMajor = 0;
constexpr size_t kInitOutFlags = 12;
constexpr size_t kInitOutMaxWrite = 20;
constexpr size_t kInitOutMaxPages = 28;
constexpr size_t kInitOutFlags2 = 32;
constexpr uint32_t kInitMaxPages = 1u << 22;
constexpr uint32_t kInitExt = 1u << 30;
constexpr uint32_t kInit2OverIoUring = 1u << (41 - 32);

// The kernel refuses a /dev/fuse read into less than this (FUSE_MIN_READ_BUFFER),
// and less than in header + write_in + max_write.
constexpr size_t kMinReadBuffer = 8192;

// FUSE-over-io_uring (7.42)
constexpr uint32_t kUringCmdRegister = 1;
constexpr uint32_t kUringCmdCommitAndFetch = 2;
constexpr size_t kUringInOutSize = 128;  // FUSE_URING_IN_OUT_HEADER_SZ: fuse_in_header / fuse_out_header
constexpr size_t kUringOpInSize = 128;   // FUSE_URING_OP_IN_OUT_SZ: the per-opcode header (read_in, …)

struct UringEntInOut {  // fuse_uring_ent_in_out
  uint64_t flags;
  uint64_t commit_id;   // the request's unique: names it in COMMIT_AND_FETCH
  uint32_t payload_sz;  // bytes of payload (request in, reply out)
  uint32_t padding;
  uint64_t reserved;
};
static_assert(sizeof(UringEntInOut) == 32, "fuse_uring_ent_in_out is 32 bytes");

struct UringReqHeader {  // fuse_uring_req_header: iov[0] of a ring entry
  uint8_t in_out[kUringInOutSize];
  uint8_t op_in[kUringOpInSize];
  UringEntInOut ent;
};
static_assert(sizeof(UringReqHeader) == 288, "fuse_uring_req_header is 288 bytes");

struct UringCmdReq {  // fuse_uring_cmd_req, in the SQE128 command area
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};
static_assert(sizeof(UringCmdReq) == 24, "fuse_uring_cmd_req is 24 bytes");
static_assert(sizeof(UringCmdReq) <= 80, "the SQE128 command area holds 80 bytes");

// FUSE_DEV_IOC_CLONE = _IOR(229, 0, uint32_t)
constexpr unsigned long kFuseDevIocClone = _IOR(229, 0, uint32_t);

constexpr size_t kMaxDevices = 32;   // famfs daxdev indexes (FAMFS_MAX_DAXDEVS)
constexpr size_t kMaxPieces = 64;    // device pieces one native READ reply may gather
constexpr uint64_t kControlTag = ~0ULL;

// ---------------------------------------------------------------------------
// Devices and run tables

struct Device {
  uint8_t* base = nullptr;
  uint64_t size = 0;
  bool writable = false;
  bool invalidate_on_read = false;  // dax: drop cached lines before reading what another host wrote
};

struct Run {
  uint64_t file_off;
  uint64_t len;
  uint8_t* addr;  // device base + device offset, resolved at publish
  bool invalidate;
};

// Immutable once published: replaced, never changed.
struct RunTable {
  uint64_t nodeid = 0;
  uint64_t size = 0;
  bool writable = false;
  uint64_t generation = 0;
  std::vector<Run> runs;  // sorted, contiguous from 0, covering at least `size`
};

// ---------------------------------------------------------------------------
// Requests as the data paths see them, and what they answer

struct Request {
  InHeader h;
  const uint8_t* op;  // the per-opcode header (read_in, write_in)
  size_t op_len;
  const uint8_t* payload;  // what follows it (WRITE data)
  size_t payload_len;
};

struct DataReply {
  int32_t error = 0;  // -errno: an error reply, no body
  bool is_write = false;
  uint32_t written = 0;  // WRITE: fuse_write_out.size
  size_t npieces = 0;    // READ: device pieces, in file order
  iovec pieces[kMaxPieces];
  size_t nbytes = 0;
};

struct QueueStats {
  std::atomic<uint64_t> native_reads{0};
  std::atomic<uint64_t> native_writes{0};
  std::atomic<uint64_t> read_bytes{0};
  std::atomic<uint64_t> write_bytes{0};
  std::atomic<uint64_t> native_errors{0};  // answered natively with an error (EFBIG)
  std::atomic<uint64_t> to_js{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> failures{0};  // replies the kernel refused, lost ring entries
};

void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

enum class QueueKind { kMain, kClone, kUring };
enum class StopKind { kNone, kUnmounted, kStopped, kError };
enum class Channel { kInit, kUringStarting, kUring, kClone };

const char* KindName(QueueKind k) {
  switch (k) {
    case QueueKind::kMain: return "main";
    case QueueKind::kClone: return "clone";
    case QueueKind::kUring: return "uring";
  }
  return "?";
}

class QueueSet;

// One thread taking requests off one source.
class Queue {
 public:
  Queue(QueueSet* set, uint32_t id, QueueKind kind) : set_(set), id_(id), kind_(kind) {}
  virtual ~Queue() = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  uint32_t id() const { return id_; }
  QueueKind kind() const { return kind_; }
  QueueStats& stats() { return stats_; }
  std::thread& thread() { return thread_; }
  bool running() const { return running_.load(std::memory_order_acquire); }
  void set_running(bool r) { running_.store(r, std::memory_order_release); }

  virtual void Run() = 0;
  // Make Run() notice that the set is stopping (any thread).
  virtual void Wake() = 0;
  // After the join, on the JS thread: close fds, free buffers.
  virtual void Cleanup() = 0;

 protected:
  QueueSet* set_;
  const uint32_t id_;
  const QueueKind kind_;
  QueueStats stats_;
  std::thread thread_;
  std::atomic<bool> running_{false};
};

// Where a JS-bound request came from, so its reply goes back the same way.
struct Pending {
  Queue* queue;
  uint32_t entry;  // io_uring: ring entry index
  uint64_t unique;
  uint32_t opcode;
};

struct InboxItem {
  uint32_t queue;
  double token;
  std::vector<uint8_t> bytes;
};

struct StopInfo {
  StopKind kind = StopKind::kNone;
  int err = 0;
  std::string syscall;
};

struct Options {
  uint32_t clones = 0;
  uint32_t depth = 16;
  bool pin = true;
  uint32_t max_write_hint = 1u << 20;
};

// The number of queues the kernel makes for FUSE-over-io_uring: one per
// possible CPU (num_possible_cpus(), from /sys/devices/system/cpu/possible).
uint32_t PossibleCpus() {
  int fd = ::open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n > 0) {
      buf[n] = '\0';
      // "0-3,5,7-8": count the CPUs in every range
      uint32_t count = 0;
      char* p = buf;
      while (*p && *p != '\n') {
        char* end;
        unsigned long a = strtoul(p, &end, 10);
        if (end == p) break;
        unsigned long b = a;
        if (*end == '-') {
          p = end + 1;
          b = strtoul(p, &end, 10);
          if (end == p) break;
        }
        if (b >= a && b - a < 65536) count += static_cast<uint32_t>(b - a + 1);
        p = end;
        if (*p == ',') p++;
      }
      if (count > 0) return count;
    }
  }
  int n = get_nprocs_conf();
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

// ---------------------------------------------------------------------------
// QueueSet

class QueueSet : public std::enable_shared_from_this<QueueSet> {
 public:
  QueueSet(int session_fd, Options opts) : session_fd_(session_fd), opts_(opts) {
    read_buffer_.store(std::max<size_t>(kMinReadBuffer, sizeof(InHeader) + sizeof(WriteIn) + opts.max_write_hint));
  }
  ~QueueSet();

  // --- JS thread
  void Start(Napi::Env env, Napi::Function on_request, Napi::Function on_end);
  void AddDevice(Napi::Env env, uint32_t index, int fd, uint64_t size, bool writable, bool invalidate_on_read);
  double Publish(Napi::Env env, uint64_t fh, uint64_t nodeid, uint64_t size, bool writable, const double* runs,
                 size_t nruns);
  bool Withdraw(uint64_t fh);
  bool Reply(Napi::Env env, double token, const std::vector<iovec>& parts);
  bool NoReply(double token);
  bool TakePending(double token, uint64_t* key, Pending* p);
  Napi::Value StopFromJs(Napi::Env env);
  Napi::Value Stats(Napi::Env env);
  Napi::Value Info(Napi::Env env);
  void DrainInbox(Napi::Env env, Napi::Function on_request);
  static void CleanupHook(void* arg);

  // --- any thread
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  void RequestStop(StopKind kind, int err, const char* syscall);
  size_t read_buffer_size() const { return read_buffer_.load(std::memory_order_relaxed); }
  int stop_fd() const { return stop_efd_; }
  int session_fd() const { return session_fd_; }
  const Options& options() const { return opts_; }
  size_t uring_payload_size() const { return uring_payload_; }

  // --- worker threads
  bool TryData(QueueStats& stats, const Request& r, size_t cap, DataReply* out);
  void ToJs(Queue* q, uint32_t entry, const InHeader* h, std::vector<uint8_t>&& bytes);
  void ThreadEnded();
  void UringRegistered();
  void UringFailed(int err, const char* what);

 private:
  std::shared_ptr<const RunTable> Find(uint64_t fh) const;
  void Post();  // schedule a DrainInbox on the JS thread
  void StartThread(Napi::Env env, std::unique_ptr<Queue> q, const char* what);
  void StartMain(Napi::Env env);
  void StartClones(Napi::Env env);
  void StartUring(Napi::Env env);
  void OnInitReplied(Napi::Env env, const std::vector<iovec>& parts);
  void JoinAll();
  void Close(Napi::Env* env);
  Napi::Object EndInfo(Napi::Env env);
  void NoteSetupError(const std::string& s);

  const int session_fd_;
  const Options opts_;
  std::atomic<size_t> read_buffer_{kMinReadBuffer};
  size_t uring_payload_ = 0;  // set before the uring threads start

  // devices: JS thread only (workers use the resolved run addresses)
  std::array<Device, kMaxDevices> devices_{};

  // run tables by fh
  mutable std::shared_mutex tables_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<const RunTable>> tables_;
  uint64_t generation_ = 0;  // JS thread

  // requests handed to JS, by token
  std::mutex pending_mu_;
  std::unordered_map<uint64_t, Pending> pending_;
  uint64_t next_token_ = 1;

  // JS-bound items and events
  std::mutex inbox_mu_;
  std::vector<InboxItem> inbox_;
  bool scheduled_ = false;
  bool ended_ = false;         // every thread has ended on its own (stopping was set by a worker)
  bool uring_failed_ = false;  // registering the rings failed: fall back to cloned channels
  bool fallback_done_ = false;

  // queues: structure changed on the JS thread under queues_mu_; RequestStop walks it from any thread
  std::mutex queues_mu_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::atomic<int> live_{0};
  std::atomic<bool> stopping_{false};
  int stop_efd_ = -1;
  std::mutex stop_mu_;
  StopInfo stop_info_;

  std::atomic<Channel> channel_{Channel::kInit};
  std::atomic<uint32_t> uring_registered_{0};
  uint32_t uring_queues_ = 0;
  std::mutex setup_mu_;
  std::vector<std::string> setup_errors_;

  bool started_ = false;
  bool closed_ = false;
  bool end_delivered_ = false;
  Napi::ThreadSafeFunction tsfn_;
  Napi::FunctionReference on_end_;
  std::weak_ptr<QueueSet>* hook_box_ = nullptr;
};

// ---------------------------------------------------------------------------
// Main and cloned /dev/fuse channels

class DevChannel final : public Queue {
 public:
  DevChannel(QueueSet* set, uint32_t id, QueueKind kind, int fd, bool owns_fd)
      : Queue(set, id, kind), fd_(fd), owns_fd_(owns_fd) {}
  ~DevChannel() override { Cleanup(); }

  // Before the thread starts (JS thread): the epoll set this channel waits on.
  int Prepare() {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return errno;
    // EPOLLEXCLUSIVE: the session fd and its clones share one wait queue in
    // the kernel; wake one idle channel per request, not all of them.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u32 = 0;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd_, &ev) != 0) return errno;
    ev.events = EPOLLIN;
    ev.data.u32 = 1;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, set_->stop_fd(), &ev) != 0) return errno;
    return 0;
  }

  void Run() override {
    while (!set_->stopping()) {
      size_t want = set_->read_buffer_size();
      if (buf_.size() < want) buf_.resize(want);
      ssize_t n = ::read(fd_, buf_.data(), buf_.size());
      if (n < 0) {
        int err = errno;
        if (err == EAGAIN) {
          WaitReadable();
          continue;
        }
        // ENOENT: the request was interrupted before we read it
        if (err == EINTR || err == ENOENT) continue;
        // unmounted; ECONNABORTED: the connection was aborted (umount -f, fusectl abort)
        if (err == ENODEV || err == ECONNABORTED) {
          set_->RequestStop(StopKind::kUnmounted, 0, nullptr);
          break;
        }
        if (err == EINVAL && buf_.size() < (64u << 20)) {
          // the kernel wants a larger buffer than INIT led us to expect
          buf_.resize(buf_.size() * 2);
          continue;
        }
        set_->RequestStop(StopKind::kError, err, "read");
        break;
      }
      if (n == 0) {  // never on /dev/fuse; a SOCK_SEQPACKET peer (tests) hung up
        set_->RequestStop(StopKind::kUnmounted, 0, nullptr);
        break;
      }
      Dispatch(buf_.data(), static_cast<size_t>(n));
    }
  }

  void Wake() override {}  // the set's stop eventfd is in every channel's epoll set

  void Cleanup() override {
    if (epfd_ >= 0) ::close(epfd_);
    epfd_ = -1;
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // A reply from JS (JS thread): one writev on the fd the request came from.
  // Returns 1 delivered, 0 nobody waits (interrupted, unmounted), -errno on failure.
  int WriteReply(const std::vector<iovec>& parts) {
    if (fd_ < 0) return 0;
    ssize_t r;
    do r = ::writev(fd_, parts.data(), static_cast<int>(parts.size()));
    while (r < 0 && errno == EINTR);
    if (r >= 0) return 1;
    int err = errno;
    if (err == ENOENT || err == ENODEV || err == ECONNABORTED) return 0;
    Bump(stats_.failures);
    return -err;
  }

 private:
  void WaitReadable() {
    epoll_event evs[2];
    ::epoll_wait(epfd_, evs, 2, -1);  // EINTR: the loop reads again
  }

  void Dispatch(const uint8_t* msg, size_t n) {
    if (n < sizeof(InHeader)) {
      Bump(stats_.malformed);
      set_->ToJs(this, 0, nullptr, std::vector<uint8_t>(msg, msg + n));
      return;
    }
    Request r;
    memcpy(&r.h, msg, sizeof r.h);
    if (r.h.len == n && (r.h.opcode == kOpRead || r.h.opcode == kOpWrite) &&
        n >= sizeof(InHeader) + sizeof(ReadIn)) {
      r.op = msg + sizeof(InHeader);
      r.op_len = sizeof(ReadIn);  // = sizeof(WriteIn)
      r.payload = r.op + r.op_len;
      r.payload_len = n - sizeof(InHeader) - r.op_len;
      DataReply out;
      if (set_->TryData(stats_, r, SIZE_MAX, &out)) {
        Send(r.h.unique, out);
        return;
      }
    }
    if (r.h.len != n) Bump(stats_.malformed);
    set_->ToJs(this, 0, &r.h, std::vector<uint8_t>(msg, msg + n));
  }

  void Send(uint64_t unique, const DataReply& out) {
    OutHeader oh{};
    oh.unique = unique;
    oh.error = out.error;
    iovec iov[kMaxPieces + 1];
    size_t cnt = 1;
    WriteOut wo{};
    size_t body = 0;
    if (out.error == 0) {
      if (out.is_write) {
        wo.size = out.written;
        iov[cnt++] = {&wo, sizeof wo};
        body = sizeof wo;
      } else {
        for (size_t i = 0; i < out.npieces; i++) iov[cnt++] = out.pieces[i];
        body = out.nbytes;
      }
    }
    oh.len = static_cast<uint32_t>(sizeof oh + body);
    iov[0] = {&oh, sizeof oh};
    ssize_t w;
    do w = ::writev(fd_, iov, static_cast<int>(cnt));
    while (w < 0 && errno == EINTR);
    if (w < 0) {
      int err = errno;
      if (err == ENODEV || err == ECONNABORTED) {
        set_->RequestStop(StopKind::kUnmounted, 0, nullptr);
      } else if (err != ENOENT) {  // ENOENT: interrupted meanwhile, nobody waits
        // /dev/fuse ends a request whose reply it rejects with EIO itself (a
        // second answer then gets ENOENT); a socket (tests) refuses a reply
        // larger than its buffer (EMSGSIZE) and would leave the caller waiting.
        Bump(stats_.failures);
        OutHeader eio{sizeof(OutHeader), -EIO, unique};
        (void)!::write(fd_, &eio, sizeof eio);
      }
    }
  }

  int fd_;
  const bool owns_fd_;
  int epfd_ = -1;
  std::vector<uint8_t> buf_;
};

// ---------------------------------------------------------------------------
// FUSE-over-io_uring queues

class UringQueue final : public Queue {
 public:
  UringQueue(QueueSet* set, uint32_t id, uint16_t qid, uint32_t depth, size_t payload_size, bool pin)
      : Queue(set, id, QueueKind::kUring), qid_(qid), depth_(depth), payload_size_(payload_size), pin_(pin) {}
  ~UringQueue() override { Cleanup(); }

  // JS thread, before the thread starts: buffers and the wake-up eventfd.
  int Prepare() {
    efd_ = ::eventfd(0, EFD_CLOEXEC);
    if (efd_ < 0) return errno;
    size_t page = PageSize();
    // Headers and payloads are mmap'ed, not malloc'ed: the kernel writes into
    // them, and a stray late write must hit our pages, never the heap.
    header_bytes_ = static_cast<size_t>(depth_) * page;
    payload_stride_ = (payload_size_ + page - 1) / page * page;
    payload_bytes_ = static_cast<size_t>(depth_) * payload_stride_;
    void* h = ::mmap(nullptr, header_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (h == MAP_FAILED) return errno;
    headers_ = static_cast<uint8_t*>(h);
    void* p = ::mmap(nullptr, payload_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (p == MAP_FAILED) return errno;
    payloads_ = static_cast<uint8_t*>(p);
    ents_.resize(depth_);
    for (uint32_t i = 0; i < depth_; i++) {
      Entry& e = ents_[i];
      e.hdr = reinterpret_cast<UringReqHeader*>(headers_ + static_cast<size_t>(i) * page);
      e.payload = payloads_ + static_cast<size_t>(i) * payload_stride_;
      e.iov[0] = {e.hdr, sizeof(UringReqHeader)};
      e.iov[1] = {e.payload, payload_size_};
    }
    return 0;
  }

  void Run() override {
    if (pin_) {
      // The kernel queues a request on the queue of the CPU its caller runs on:
      // serve it from that CPU. Failure (CPU offline) only costs locality.
      cpu_set_t m;
      CPU_ZERO(&m);
      CPU_SET(qid_, &m);
      (void)sched_setaffinity(0, sizeof m, &m);
    }
    // SQE128: the FUSE command lives in the SQE's extended area. CQ room for
    // every entry twice over. No SINGLE_ISSUER/DEFER_TASKRUN: measured here it
    // made no difference (libfuse found it slower), and JS-side commits would
    // then have to be submitted by exactly this thread anyway — they are.
    io_uring_params p{};
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
    p.cq_entries = 2 * (depth_ + 1);
    int rc = io_uring_queue_init_params(depth_ + 1, &ring_, &p);
    if (rc < 0) {
      set_->UringFailed(-rc, "io_uring_queue_init");
      MarkExited();
      return;
    }
    int files[1] = {set_->session_fd()};
    rc = io_uring_register_files(&ring_, files, 1);
    if (rc < 0) {
      set_->UringFailed(-rc, "io_uring_register_files");
      io_uring_queue_exit(&ring_);
      MarkExited();
      return;
    }
    for (uint32_t i = 0; i < depth_; i++) PrepareCmd(i, kUringCmdRegister);
    ArmControl();
    rc = io_uring_submit(&ring_);
    if (rc < 0) {
      set_->UringFailed(-rc, "io_uring_submit");
      io_uring_queue_exit(&ring_);
      MarkExited();
      return;
    }
    // A REGISTER that fails completes at once with an error (handled in the loop).
    live_entries_ = depth_;
    set_->UringRegistered();
    Loop();
    MarkExited();
    io_uring_queue_exit(&ring_);
  }

  void Wake() override {
    uint64_t one = 1;
    if (efd_ >= 0) (void)!::write(efd_, &one, sizeof one);
  }

  void Cleanup() override {
    if (efd_ >= 0) ::close(efd_);
    efd_ = -1;
    if (headers_) ::munmap(headers_, header_bytes_);
    headers_ = nullptr;
    if (payloads_) ::munmap(payloads_, payload_bytes_);
    payloads_ = nullptr;
  }

  // A reply from JS (JS thread) for the request in entry `idx`: fill the
  // entry, then let the queue's thread commit it. Returns 1 queued, 0 the
  // queue is gone, -errno when the reply does not fit.
  int JsCommit(uint32_t idx, const std::vector<iovec>& parts, bool* fits) {
    *fits = true;
    if (idx >= ents_.size()) return 0;
    {
      std::lock_guard<std::mutex> lock(commit_mu_);
      if (exited_) return 0;
    }
    Entry& e = ents_[idx];
    size_t total = 0;
    for (const iovec& v : parts) total += v.iov_len;
    if (total < sizeof(OutHeader) || total - sizeof(OutHeader) > payload_size_) {
      *fits = false;
      return -EMSGSIZE;
    }
    // The byte stream: out header into in_out, the body into the payload.
    size_t pos = 0;
    for (const iovec& v : parts) {
      const uint8_t* src = static_cast<const uint8_t*>(v.iov_base);
      size_t n = v.iov_len;
      while (n > 0) {
        size_t take;
        if (pos < sizeof(OutHeader)) {
          take = std::min(n, sizeof(OutHeader) - pos);
          memcpy(e.hdr->in_out + pos, src, take);
        } else {
          take = n;
          memcpy(e.payload + (pos - sizeof(OutHeader)), src, take);
        }
        src += take;
        n -= take;
        pos += take;
      }
    }
    uint32_t body = static_cast<uint32_t>(total - sizeof(OutHeader));
    memcpy(&e.hdr->ent.payload_sz, &body, sizeof body);
    bool wake;
    {
      std::lock_guard<std::mutex> lock(commit_mu_);
      if (exited_) return 0;
      commits_.push_back(idx);
      wake = commits_.size() == 1;
    }
    if (wake) Wake();
    return 1;
  }

  uint32_t depth() const { return depth_; }

 private:
  struct Entry {
    UringReqHeader* hdr = nullptr;
    uint8_t* payload = nullptr;
    iovec iov[2];
    uint64_t commit_id = 0;
    uint32_t last_cmd = 0;
    uint32_t register_retries = 0;
    bool dead = false;
  };

  void MarkExited() {
    std::lock_guard<std::mutex> lock(commit_mu_);
    exited_ = true;
  }

  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      // Cannot happen (one SQE per entry plus the control read), but never lose a commit.
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void PrepareCmd(uint32_t idx, uint32_t cmd) {
    Entry& e = ents_[idx];
    io_uring_sqe* sqe = Sqe();
    if (sqe == nullptr) {
      Bump(stats_.failures);
      return;
    }
    memset(sqe, 0, 128);  // SQE128: the command area follows the 64-byte SQE
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->flags = IOSQE_FIXED_FILE;
    sqe->fd = 0;  // index 0 of the registered files: the session fd
    sqe->cmd_op = cmd;
    io_uring_sqe_set_data64(sqe, idx);
    UringCmdReq req{};
    req.qid = qid_;
    if (cmd == kUringCmdRegister) {
      sqe->addr = reinterpret_cast<uint64_t>(e.iov);
      sqe->len = 2;
    } else {
      req.commit_id = e.commit_id;
    }
    memcpy(sqe->cmd, &req, sizeof req);
    e.last_cmd = cmd;
  }

  void ArmControl() {
    io_uring_sqe* sqe = Sqe();
    if (sqe == nullptr) return;
    io_uring_prep_read(sqe, efd_, &efd_value_, sizeof efd_value_, 0);
    io_uring_sqe_set_data64(sqe, kControlTag);
  }

  void Loop() {
    while (!set_->stopping() && live_entries_ > 0) {
      int rc = io_uring_submit_and_wait(&ring_, 1);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
        set_->RequestStop(StopKind::kError, -rc, "io_uring_enter");
        return;
      }
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        seen++;
        Complete(cqe->user_data, cqe->res);
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

  void Complete(uint64_t tag, int res) {
    if (tag == kControlTag) {
      if (set_->stopping()) return;
      if (res < 0 && res != -EINTR && res != -EAGAIN) {
        set_->RequestStop(StopKind::kError, -res, "read(eventfd)");
        return;
      }
      ArmControl();
      std::vector<uint32_t> todo;
      {
        std::lock_guard<std::mutex> lock(commit_mu_);
        todo.swap(commits_);
      }
      for (uint32_t idx : todo) PrepareCmd(idx, kUringCmdCommitAndFetch);
      return;
    }
    if (tag >= ents_.size()) return;
    uint32_t idx = static_cast<uint32_t>(tag);
    Entry& e = ents_[idx];
    if (res == 0) {
      HandleRequest(idx);
      return;
    }
    if (res == -EINTR || (res == -EAGAIN && e.register_retries < 1000)) {
      // EAGAIN on REGISTER: the kernel has not finished INIT yet
      if (e.last_cmd == kUringCmdRegister) {
        e.register_retries++;
        usleep(1000);
      }
      PrepareCmd(idx, e.last_cmd);
      return;
    }
    if (res == -ENOTCONN || res == -ECANCELED) {
      // the connection is gone (unmount, abort), or our ring is closing
      e.dead = true;
      live_entries_--;
      if (!set_->stopping()) set_->RequestStop(StopKind::kUnmounted, 0, nullptr);
      return;
    }
    Bump(stats_.failures);
    if (e.last_cmd == kUringCmdRegister) {
      e.dead = true;
      live_entries_--;
      set_->UringFailed(-res, "FUSE_IO_URING_CMD_REGISTER");
      return;
    }
    // A refused COMMIT_AND_FETCH leaves the kernel's entry stuck with a request
    // it cannot find: hand the buffers back to the kernel as a fresh entry.
    PrepareCmd(idx, kUringCmdRegister);
  }

  void HandleRequest(uint32_t idx) {
    Entry& e = ents_[idx];
    Request r;
    memcpy(&r.h, e.hdr->in_out, sizeof r.h);
    UringEntInOut io;
    memcpy(&io, &e.hdr->ent, sizeof io);
    e.commit_id = io.commit_id;
    if (io.commit_id == 0) {
      // The kernel names every request by a non-zero unique; without one the
      // entry can never be committed. Not a FUSE ring (or a broken one): give
      // the entry up rather than answer garbage.
      Bump(stats_.malformed);
      e.dead = true;
      live_entries_--;
      set_->UringFailed(EPROTO, "ring entry without a commit id");
      return;
    }
    // The in header's len counts what /dev/fuse would carry: the per-opcode
    // header (op_in) plus the payload. Check the split before trusting it.
    uint64_t len = r.h.len;
    uint64_t psz = io.payload_sz;
    bool well = psz <= payload_size_ && len >= sizeof(InHeader) + psz && len - sizeof(InHeader) - psz <= kUringOpInSize;
    r.op = e.hdr->op_in;
    r.payload = e.payload;
    r.payload_len = static_cast<size_t>(std::min<uint64_t>(psz, payload_size_));
    if (well) {
      r.op_len = static_cast<size_t>(len - sizeof(InHeader) - psz);
      DataReply out;
      if (set_->TryData(stats_, r, payload_size_, &out)) {
        Send(idx, r.h.unique, out);
        return;
      }
    } else {
      Bump(stats_.malformed);
      r.op_len = static_cast<size_t>(len >= sizeof(InHeader) ? std::min<uint64_t>(len - sizeof(InHeader), kUringOpInSize) : 0);
    }
    // To JS as /dev/fuse would have carried it: in header, op header, payload.
    std::vector<uint8_t> bytes(sizeof(InHeader) + r.op_len + r.payload_len);
    memcpy(bytes.data(), e.hdr->in_out, sizeof(InHeader));
    memcpy(bytes.data() + sizeof(InHeader), r.op, r.op_len);
    if (r.payload_len) memcpy(bytes.data() + sizeof(InHeader) + r.op_len, r.payload, r.payload_len);
    set_->ToJs(this, idx, &r.h, std::move(bytes));
  }

  void Send(uint32_t idx, uint64_t unique, const DataReply& out) {
    Entry& e = ents_[idx];
    uint32_t body = 0;
    if (out.error == 0) {
      if (out.is_write) {
        WriteOut wo{out.written, 0};
        memcpy(e.payload, &wo, sizeof wo);
        body = sizeof wo;
      } else {
        uint8_t* dst = e.payload;
        for (size_t i = 0; i < out.npieces; i++) {
          memcpy(dst, out.pieces[i].iov_base, out.pieces[i].iov_len);
          dst += out.pieces[i].iov_len;
        }
        body = static_cast<uint32_t>(out.nbytes);
      }
    }
    OutHeader oh{static_cast<uint32_t>(sizeof(OutHeader) + body), out.error, unique};
    memcpy(e.hdr->in_out, &oh, sizeof oh);
    memcpy(&e.hdr->ent.payload_sz, &body, sizeof body);
    PrepareCmd(idx, kUringCmdCommitAndFetch);
  }

  const uint16_t qid_;
  const uint32_t depth_;
  const size_t payload_size_;
  const bool pin_;
  io_uring ring_{};
  int efd_ = -1;
  uint64_t efd_value_ = 0;
  uint8_t* headers_ = nullptr;
  size_t header_bytes_ = 0;
  uint8_t* payloads_ = nullptr;
  size_t payload_bytes_ = 0;
  size_t payload_stride_ = 0;
  std::vector<Entry> ents_;
  uint32_t live_entries_ = 0;  // queue thread only

  std::mutex commit_mu_;
  std::vector<uint32_t> commits_;  // entries JS has filled, for the queue thread to commit
  bool exited_ = false;            // the loop has ended: no more commits
};

// ---------------------------------------------------------------------------
// QueueSet: the data paths (worker threads)

std::shared_ptr<const RunTable> QueueSet::Find(uint64_t fh) const {
  std::shared_lock<std::shared_mutex> lock(tables_mu_);
  auto it = tables_.find(fh);
  if (it == tables_.end()) return nullptr;
  return it->second;
}

// READ and WRITE on a published handle, answered from the device mapping.
// Returns false when the request is not ours to answer (JS decides).
bool QueueSet::TryData(QueueStats& stats, const Request& r, size_t cap, DataReply* out) {
  if (r.h.total_extlen != 0 || r.op_len != sizeof(ReadIn)) return false;
  if (r.h.opcode == kOpRead) {
    if (r.payload_len != 0) return false;
    ReadIn in;
    memcpy(&in, r.op, sizeof in);
    std::shared_ptr<const RunTable> t = Find(in.fh);
    if (!t || t->nodeid != r.h.nodeid) return false;
    uint64_t want = std::min<uint64_t>(in.size, cap);
    uint64_t n = in.offset >= t->size ? 0 : std::min<uint64_t>(want, t->size - in.offset);
    uint64_t pos = in.offset;
    uint64_t left = n;
    if (left > 0) {
      // the run holding `pos`: the last one starting at or before it
      auto it = std::upper_bound(t->runs.begin(), t->runs.end(), pos,
                                 [](uint64_t p, const Run& run) { return p < run.file_off; });
      if (it == t->runs.begin()) return false;
      --it;
      for (; left > 0; ++it) {
        if (it == t->runs.end() || out->npieces == kMaxPieces) {
          out->npieces = 0;
          return false;  // (publish guarantees coverage) too fragmented: JS copes
        }
        uint64_t within = pos - it->file_off;
        uint64_t take = std::min(it->len - within, left);
        uint8_t* a = it->addr + within;
        if (it->invalidate) InvalidateLines(a, take);
        out->pieces[out->npieces++] = {a, static_cast<size_t>(take)};
        pos += take;
        left -= take;
      }
    }
    out->nbytes = n;
    Bump(stats.native_reads);
    Bump(stats.read_bytes, n);
    return true;
  }
  if (r.h.opcode == kOpWrite) {
    WriteIn in;
    memcpy(&in, r.op, sizeof in);
    if (in.size != r.payload_len) return false;
    std::shared_ptr<const RunTable> t = Find(in.fh);
    if (!t || t->nodeid != r.h.nodeid || !t->writable) return false;
    out->is_write = true;
    if (r.payload_len > 0 && in.offset >= t->size) {
      // famfs files never grow; nothing past the end is written
      out->error = -EFBIG;
      Bump(stats.native_errors);
      return true;
    }
    uint64_t n = in.offset >= t->size ? 0 : std::min<uint64_t>(r.payload_len, t->size - in.offset);
    uint64_t pos = in.offset;
    uint64_t done = 0;
    if (n > 0) {
      auto it = std::upper_bound(t->runs.begin(), t->runs.end(), pos,
                                 [](uint64_t p, const Run& run) { return p < run.file_off; });
      if (it == t->runs.begin()) return false;
      --it;
      for (; done < n && it != t->runs.end(); ++it) {
        uint64_t within = pos - it->file_off;
        uint64_t take = std::min(it->len - within, n - done);
        uint8_t* a = it->addr + within;
        memcpy(a, r.payload + done, take);
        WritebackLines(a, take);  // visible to the other hosts before we answer
        pos += take;
        done += take;
      }
    }
    out->written = static_cast<uint32_t>(done);
    Bump(stats.native_writes);
    Bump(stats.write_bytes, done);
    return true;
  }
  return false;
}

void QueueSet::ToJs(Queue* q, uint32_t entry, const InHeader* h, std::vector<uint8_t>&& bytes) {
  uint64_t token;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    token = next_token_++;
    pending_.emplace(token, Pending{q, entry, h ? h->unique : 0, h ? h->opcode : 0});
  }
  Bump(q->stats().to_js);
  bool post;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(InboxItem{q->id(), static_cast<double>(token), std::move(bytes)});
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) Post();
}

void QueueSet::Post() {
  std::shared_ptr<QueueSet> self = shared_from_this();
  napi_status st = tsfn_.NonBlockingCall([self](Napi::Env env, Napi::Function fn) {
    if (env != nullptr) self->DrainInbox(env, fn);
  });
  if (st != napi_ok) {
    // closing: nobody will drain; let a later Post try again
    std::lock_guard<std::mutex> lock(inbox_mu_);
    scheduled_ = false;
  }
}

void QueueSet::RequestStop(StopKind kind, int err, const char* syscall) {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stop_info_.kind == StopKind::kNone) {
      stop_info_.kind = kind;
      stop_info_.err = err;
      stop_info_.syscall = syscall ? syscall : "";
    }
  }
  if (stopping_.exchange(true, std::memory_order_acq_rel)) return;
  uint64_t one = 1;
  if (stop_efd_ >= 0) (void)!::write(stop_efd_, &one, sizeof one);
  std::lock_guard<std::mutex> lock(queues_mu_);
  for (auto& q : queues_) q->Wake();
}

void QueueSet::ThreadEnded() {
  // queues_mu_ orders this against StartThread, which counts a thread in
  // before it runs: live_ reaching 0 while stopping means no thread is left.
  bool post = false;
  {
    std::lock_guard<std::mutex> lock(queues_mu_);
    if (live_.fetch_sub(1, std::memory_order_acq_rel) == 1 && stopping()) {
      std::lock_guard<std::mutex> ilock(inbox_mu_);
      ended_ = true;
      post = !scheduled_;
      scheduled_ = true;
    }
  }
  if (post) Post();
}

void QueueSet::UringRegistered() {
  if (uring_registered_.fetch_add(1) + 1 == uring_queues_) {
    Channel expect = Channel::kUringStarting;
    channel_.compare_exchange_strong(expect, Channel::kUring);
  }
}

void QueueSet::UringFailed(int err, const char* what) {
  NoteSetupError(std::string(what) + ": " + ErrnoName(err));
  bool post;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (uring_failed_) return;
    uring_failed_ = true;
    post = !scheduled_;
    scheduled_ = true;
  }
  if (post) Post();
}

void QueueSet::NoteSetupError(const std::string& s) {
  std::lock_guard<std::mutex> lock(setup_mu_);
  if (setup_errors_.size() < 16) setup_errors_.push_back(s);
}

// ---------------------------------------------------------------------------
// QueueSet: the JS thread

QueueSet::~QueueSet() {
  // Normally closed already (stop, end of serving, env cleanup); a set that
  // was never started has nothing running.
  if (!closed_) {
    RequestStop(StopKind::kStopped, 0, nullptr);
    JoinAll();
    Close(nullptr);
  }
}

void QueueSet::StartThread(Napi::Env env, std::unique_ptr<Queue> q, const char* what) {
  Queue* raw = q.get();
  {
    std::lock_guard<std::mutex> lock(queues_mu_);
    if (stopping()) return;
    live_.fetch_add(1, std::memory_order_acq_rel);
    queues_.push_back(std::move(q));
  }
  // Workers block every signal: signals are the JS thread's business.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    raw->set_running(true);
    raw->thread() = std::thread([this, raw, what] {
      char name[16];
      snprintf(name, sizeof name, "famfs-%s%u", KindName(raw->kind()), raw->id());
      pthread_setname_np(pthread_self(), name);
      try {
        raw->Run();
      } catch (const std::bad_alloc&) {
        RequestStop(StopKind::kError, ENOMEM, "malloc");
      } catch (...) {
        RequestStop(StopKind::kError, EIO, what);
      }
      raw->set_running(false);
      ThreadEnded();
    });
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    raw->set_running(false);
    {
      std::lock_guard<std::mutex> lock(queues_mu_);
      live_.fetch_sub(1, std::memory_order_acq_rel);
    }
    ThrowErrno(env, e.code().value() ? e.code().value() : EAGAIN, "pthread_create");
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void QueueSet::Start(Napi::Env env, Napi::Function on_request, Napi::Function on_end) {
  if (started_) throw Napi::Error::New(env, "FuseQueues: already started");
  started_ = true;
  stop_efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_efd_ < 0) ThrowErrno(env, errno, "eventfd");
  // Our reads must not block: a channel waits in epoll, where stop reaches it.
  int fl = ::fcntl(session_fd_, F_GETFL);
  if (fl < 0 || ::fcntl(session_fd_, F_SETFL, fl | O_NONBLOCK) != 0) ThrowErrno(env, errno, "fcntl(F_SETFL)");
  tsfn_ = Napi::ThreadSafeFunction::New(env, on_request, "famfs:fuse-queues", 0, 1);
  on_end_ = Napi::Persistent(on_end);
  hook_box_ = new std::weak_ptr<QueueSet>(shared_from_this());
  napi_add_env_cleanup_hook(env, CleanupHook, hook_box_);
  StartMain(env);
}

void QueueSet::StartMain(Napi::Env env) {
  auto ch = std::make_unique<DevChannel>(this, 0, QueueKind::kMain, session_fd_, false);
  int err = ch->Prepare();
  if (err) ThrowErrno(env, err, "epoll_ctl");
  StartThread(env, std::move(ch), "main channel");
}

void QueueSet::StartClones(Napi::Env env) {
  channel_.store(Channel::kClone);
  uint32_t n = opts_.clones;
  for (uint32_t i = 0; i < n && !stopping(); i++) {
    int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      NoteSetupError(std::string("open /dev/fuse: ") + ErrnoName(errno));
      return;
    }
    uint32_t sfd = static_cast<uint32_t>(session_fd_);
    if (::ioctl(fd, kFuseDevIocClone, &sfd) != 0) {
      NoteSetupError(std::string("ioctl(FUSE_DEV_IOC_CLONE): ") + ErrnoName(errno));
      ::close(fd);
      return;
    }
    auto ch = std::make_unique<DevChannel>(this, static_cast<uint32_t>(queues_.size()), QueueKind::kClone, fd, true);
    int err = ch->Prepare();
    if (err) {
      NoteSetupError(std::string("epoll_ctl: ") + ErrnoName(err));
      return;  // `ch` closes the fd
    }
    try {
      StartThread(env, std::move(ch), "cloned channel");
    } catch (const Napi::Error& e) {
      NoteSetupError(e.Message());
      return;
    }
  }
}

void QueueSet::StartUring(Napi::Env env) {
  uint32_t nq = PossibleCpus();
  uring_queues_ = nq;
  channel_.store(Channel::kUringStarting);
  for (uint32_t q = 0; q < nq && !stopping(); q++) {
    auto uq = std::make_unique<UringQueue>(this, static_cast<uint32_t>(queues_.size()), static_cast<uint16_t>(q),
                                           opts_.depth, uring_payload_, opts_.pin);
    int err = uq->Prepare();
    if (err) {
      UringFailed(err, "mmap");
      return;
    }
    try {
      StartThread(env, std::move(uq), "io_uring queue");
    } catch (const Napi::Error& e) {
      NoteSetupError(e.Message());
      UringFailed(EAGAIN, "pthread_create");
      return;
    }
  }
}

// The INIT reply JS wrote decides the channel: OVER_IO_URING → rings; anything else → clones.
void QueueSet::OnInitReplied(Napi::Env env, const std::vector<iovec>& parts) {
  uint8_t msg[sizeof(OutHeader) + 64] = {};
  size_t got = 0;
  for (const iovec& v : parts) {
    size_t take = std::min(v.iov_len, sizeof msg - got);
    memcpy(msg + got, v.iov_base, take);
    got += take;
    if (got == sizeof msg) break;
  }
  OutHeader oh;
  if (got < sizeof oh + 24) return;
  memcpy(&oh, msg, sizeof oh);
  if (oh.error != 0) return;
  const uint8_t* b = msg + sizeof oh;
  size_t blen = got - sizeof oh;
  auto u32 = [&](size_t off) { uint32_t v = 0; if (off + 4 <= blen) memcpy(&v, b + off, 4); return v; };
  auto u16 = [&](size_t off) { uint16_t v = 0; if (off + 2 <= blen) memcpy(&v, b + off, 2); return v; };
  if (u32(kInitOutMajor) != 7) return;  // a major-version retry: another INIT follows
  uint32_t flags = u32(kInitOutFlags);
  uint32_t max_write = std::max<uint32_t>(u32(kInitOutMaxWrite), 4096);
  uint32_t max_pages = (flags & kInitMaxPages) ? std::max<uint32_t>(u16(kInitOutMaxPages), 1) : 32;
  uint32_t flags2 = (flags & kInitExt) ? u32(kInitOutFlags2) : 0;
  size_t dev_buf = std::max<size_t>(kMinReadBuffer, sizeof(InHeader) + sizeof(WriteIn) + max_write);
  if (dev_buf > read_buffer_.load()) read_buffer_.store(dev_buf);
  // What the kernel requires of a ring entry's payload buffer (fuse_uring_create).
  uring_payload_ = std::max<size_t>({kMinReadBuffer, max_write, static_cast<size_t>(max_pages) * 4096});
  if (channel_.load() != Channel::kInit) return;
  if (flags2 & kInit2OverIoUring) StartUring(env);
  else StartClones(env);
}

void QueueSet::AddDevice(Napi::Env env, uint32_t index, int fd, uint64_t size, bool writable, bool invalidate) {
  if (closed_) ThrowErrno(env, EBADF, "addDevice", nullptr, "the queues are closed");
  if (index >= kMaxDevices) throw Napi::RangeError::New(env, "device index must be below 32");
  if (devices_[index].base != nullptr) ThrowErrno(env, EEXIST, "addDevice", nullptr, "device index already in use");
  if (size == 0) throw Napi::RangeError::New(env, "device size must be > 0");
  void* p = ::mmap(nullptr, size, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) ThrowErrno(env, errno, "mmap");
  devices_[index] = Device{static_cast<uint8_t*>(p), size, writable, invalidate};
}

double QueueSet::Publish(Napi::Env env, uint64_t fh, uint64_t nodeid, uint64_t size, bool writable,
                         const double* runs, size_t nruns) {
  if (closed_) ThrowErrno(env, EBADF, "publish", nullptr, "the queues are closed");
  auto t = std::make_shared<RunTable>();
  t->nodeid = nodeid;
  t->size = size;
  t->writable = writable;
  t->runs.reserve(nruns);
  uint64_t next = 0;
  for (size_t i = 0; i < nruns; i++) {
    const double* r = runs + 4 * i;
    for (int k = 0; k < 4; k++) {
      if (!(r[k] >= 0) || r[k] > 9007199254740991.0 || std::floor(r[k]) != r[k])
        throw Napi::RangeError::New(env, "run fields must be non-negative integers");
    }
    uint64_t file_off = static_cast<uint64_t>(r[0]), len = static_cast<uint64_t>(r[1]);
    uint64_t dev = static_cast<uint64_t>(r[2]), dev_off = static_cast<uint64_t>(r[3]);
    if (file_off != next) throw Napi::RangeError::New(env, "runs must be contiguous, in file order, from offset 0");
    if (len == 0) throw Napi::RangeError::New(env, "a run must not be empty");
    if (dev >= kMaxDevices || devices_[dev].base == nullptr)
      throw Napi::RangeError::New(env, "run names a device that was not added");
    const Device& d = devices_[dev];
    if (dev_off > d.size || len > d.size - dev_off) throw Napi::RangeError::New(env, "run lies outside its device");
    if (writable && !d.writable) ThrowErrno(env, EROFS, "publish", nullptr, "a writable table on a read-only device");
    t->runs.push_back(Run{file_off, len, d.base + dev_off, d.invalidate_on_read});
    next = file_off + len;
  }
  if (next < size) throw Napi::RangeError::New(env, "runs do not cover the file size");
  std::unique_lock<std::shared_mutex> lock(tables_mu_);
  t->generation = ++generation_;
  double gen = static_cast<double>(t->generation);
  tables_[fh] = std::move(t);
  return gen;
}

bool QueueSet::Withdraw(uint64_t fh) {
  std::unique_lock<std::shared_mutex> lock(tables_mu_);
  return tables_.erase(fh) > 0;
}

// The request a JS token stands for, taken off the pending table (false: not
// a token, or already answered).
bool QueueSet::TakePending(double token, uint64_t* key, Pending* p) {
  if (!(token >= 1) || token > 9007199254740991.0) return false;
  *key = static_cast<uint64_t>(token);
  std::lock_guard<std::mutex> lock(pending_mu_);
  auto it = pending_.find(*key);
  if (it == pending_.end()) return false;
  *p = it->second;
  pending_.erase(it);
  return true;
}

bool QueueSet::Reply(Napi::Env env, double token, const std::vector<iovec>& parts) {
  uint64_t key;
  Pending p;
  if (!TakePending(token, &key, &p)) return false;
  int rc;
  if (p.queue->kind() == QueueKind::kUring) {
    bool fits;
    rc = static_cast<UringQueue*>(p.queue)->JsCommit(p.entry, parts, &fits);
  } else {
    rc = static_cast<DevChannel*>(p.queue)->WriteReply(parts);
  }
  if (rc < 0) {
    // Not delivered: the token stays valid, so JS can still answer (an error).
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_.emplace(key, p);
    ThrowErrno(env, -rc, p.queue->kind() == QueueKind::kUring ? "io_uring commit" : "writev");
  }
  if (rc > 0 && p.opcode == kOpInit) OnInitReplied(env, parts);
  return rc > 0;
}

bool QueueSet::NoReply(double token) {
  uint64_t key;
  Pending p;
  if (!TakePending(token, &key, &p)) return false;
  if (p.queue->kind() == QueueKind::kUring) {
    // A ring entry is only re-armed by a commit: answer EIO rather than lose it
    // (FORGET and INTERRUPT, the requests without replies, never come by ring).
    OutHeader oh{sizeof(OutHeader), -EIO, p.unique};
    std::vector<iovec> parts{{&oh, sizeof oh}};
    bool fits;
    static_cast<UringQueue*>(p.queue)->JsCommit(p.entry, parts, &fits);
  }
  return true;
}

void QueueSet::DrainInbox(Napi::Env env, Napi::Function on_request) {
  std::vector<InboxItem> items;
  bool ended, uring_failed;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    items.swap(inbox_);
    scheduled_ = false;
    ended = ended_;
    uring_failed = uring_failed_ && !fallback_done_;
    if (uring_failed) fallback_done_ = true;
  }
  if (closed_) return;
  if (uring_failed && !stopping()) StartClones(env);
  for (InboxItem& it : items) {
    if (closed_) break;  // stopped by an earlier callback
    Napi::HandleScope scope(env);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, it.bytes.size());
    if (!it.bytes.empty()) memcpy(ab.Data(), it.bytes.data(), it.bytes.size());
    try {
      on_request.Call({Napi::Number::New(env, it.queue), Napi::Number::New(env, it.token), ab});
    } catch (const Napi::Error& e) {
      // The wrapper never throws (it answers EIO itself); never unwind into node.
      e.Value();
    }
  }
  if (ended && !closed_) {
    JoinAll();
    Close(&env);
  }
}

Napi::Object QueueSet::EndInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  StopInfo s;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    s = stop_info_;
  }
  const char* reason = s.kind == StopKind::kUnmounted ? "unmounted" : s.kind == StopKind::kError ? "error" : "stopped";
  o.Set("reason", Napi::String::New(env, reason));
  if (s.kind == StopKind::kError) {
    o.Set("errno", Napi::Number::New(env, s.err));
    o.Set("code", Napi::String::New(env, ErrnoName(s.err)));
    o.Set("syscall", Napi::String::New(env, s.syscall));
  }
  return o;
}

void QueueSet::JoinAll() {
  RequestStop(StopKind::kStopped, 0, nullptr);
  std::vector<Queue*> qs;
  {
    std::lock_guard<std::mutex> lock(queues_mu_);
    for (auto& q : queues_) qs.push_back(q.get());
  }
  for (Queue* q : qs) {
    q->Wake();
    if (q->thread().joinable()) q->thread().join();
  }
  for (Queue* q : qs) q->Cleanup();
}

// After JoinAll (JS thread, or env teardown with env == nullptr).
void QueueSet::Close(Napi::Env* env) {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    pending_.clear();
  }
  {
    std::unique_lock<std::shared_mutex> lock(tables_mu_);
    tables_.clear();
  }
  for (Device& d : devices_) {
    if (d.base) ::munmap(d.base, d.size);
    d = Device{};
  }
  if (stop_efd_ >= 0) ::close(stop_efd_);
  stop_efd_ = -1;
  if (env != nullptr && hook_box_ != nullptr) {
    napi_remove_env_cleanup_hook(*env, CleanupHook, hook_box_);
    delete hook_box_;
    hook_box_ = nullptr;
  }
  if (env != nullptr && !end_delivered_ && !on_end_.IsEmpty()) {
    end_delivered_ = true;
    Napi::Object info = EndInfo(*env);
    try {
      on_end_.Call({info});
    } catch (const Napi::Error& e) {
      e.Value();
    }
  }
  if (!on_end_.IsEmpty() && env != nullptr) on_end_.Reset();
  if (started_) {
    if (env != nullptr) tsfn_.Release();
    else tsfn_.Abort();
  }
}

Napi::Value QueueSet::StopFromJs(Napi::Env env) {
  if (!closed_) {
    RequestStop(StopKind::kStopped, 0, nullptr);
    JoinAll();
    Close(&env);
  }
  return env.Undefined();
}

void QueueSet::CleanupHook(void* arg) {
  auto* box = static_cast<std::weak_ptr<QueueSet>*>(arg);
  if (std::shared_ptr<QueueSet> s = box->lock()) {
    s->hook_box_ = nullptr;
    if (!s->closed_) {
      s->RequestStop(StopKind::kStopped, 0, nullptr);
      s->JoinAll();
      s->end_delivered_ = true;  // no JS to tell at env teardown
      s->Close(nullptr);
    }
  }
  delete box;
}

Napi::Value QueueSet::Stats(Napi::Env env) {
  std::vector<Queue*> qs;
  {
    std::lock_guard<std::mutex> lock(queues_mu_);
    for (auto& q : queues_) qs.push_back(q.get());
  }
  Napi::Array arr = Napi::Array::New(env, qs.size());
  uint32_t i = 0;
  auto num = [&](const std::atomic<uint64_t>& c) {
    return Napi::Number::New(env, static_cast<double>(c.load(std::memory_order_relaxed)));
  };
  for (Queue* q : qs) {
    Napi::Object o = Napi::Object::New(env);
    QueueStats& s = q->stats();
    o.Set("queue", Napi::Number::New(env, q->id()));
    o.Set("kind", Napi::String::New(env, KindName(q->kind())));
    o.Set("running", Napi::Boolean::New(env, q->running()));
    o.Set("nativeReads", num(s.native_reads));
    o.Set("nativeWrites", num(s.native_writes));
    o.Set("readBytes", num(s.read_bytes));
    o.Set("writeBytes", num(s.write_bytes));
    o.Set("nativeErrors", num(s.native_errors));
    o.Set("toJs", num(s.to_js));
    o.Set("malformed", num(s.malformed));
    o.Set("failures", num(s.failures));
    arr.Set(i++, o);
  }
  return arr;
}

Napi::Value QueueSet::Info(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  const char* ch = "init";
  switch (channel_.load()) {
    case Channel::kInit: ch = "init"; break;
    case Channel::kUringStarting: ch = "uring-starting"; break;
    case Channel::kUring: ch = "uring"; break;
    case Channel::kClone: ch = "clone"; break;
  }
  o.Set("channel", Napi::String::New(env, ch));
  o.Set("state", Napi::String::New(env, closed_ ? "closed" : stopping() ? "stopping" : started_ ? "running" : "new"));
  o.Set("liveThreads", Napi::Number::New(env, live_.load()));
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    o.Set("pendingReplies", Napi::Number::New(env, static_cast<double>(pending_.size())));
  }
  {
    std::shared_lock<std::shared_mutex> lock(tables_mu_);
    o.Set("publishedHandles", Napi::Number::New(env, static_cast<double>(tables_.size())));
  }
  o.Set("uringPayloadSize", Napi::Number::New(env, static_cast<double>(uring_payload_)));
  std::lock_guard<std::mutex> lock(setup_mu_);
  Napi::Array errs = Napi::Array::New(env, setup_errors_.size());
  for (size_t i = 0; i < setup_errors_.size(); i++) errs.Set(static_cast<uint32_t>(i), setup_errors_[i]);
  o.Set("setupErrors", errs);
  return o;
}

// ---------------------------------------------------------------------------
// The JS class

uint64_t ArgBigU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsBigInt()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a bigint");
  bool lossless = false;
  uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(info.Env(), std::string(name) + " must fit in 64 bits, unsigned");
  return v;
}

double ArgToken(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "token must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

// parts: an array of TypedArrays (Uint8Array, Buffer) → iovecs over their bytes.
std::vector<iovec> ArgParts(const Napi::CallbackInfo& info, size_t i) {
  Napi::Env env = info.Env();
  if (!info[i].IsArray()) throw Napi::TypeError::New(env, "parts must be an array of Uint8Array");
  Napi::Array a = info[i].As<Napi::Array>();
  uint32_t n = a.Length();
  if (n > 1024) throw Napi::RangeError::New(env, "at most 1024 parts");
  std::vector<iovec> out;
  out.reserve(n);
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value v = a.Get(k);
    if (!v.IsTypedArray()) throw Napi::TypeError::New(env, "parts must be an array of Uint8Array");
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(env, "parts must be Uint8Array");
    Napi::Uint8Array u = v.As<Napi::Uint8Array>();
    if (u.ByteLength() == 0) continue;  // an empty iovec would be a second write on some channels
    out.push_back({u.Data(), u.ByteLength()});
  }
  return out;
}

class FuseQueuesWrap : public Napi::ObjectWrap<FuseQueuesWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FuseQueues",
                       {
                           InstanceMethod<&FuseQueuesWrap::AddDevice>("addDevice"),
                           InstanceMethod<&FuseQueuesWrap::Start>("start"),
                           InstanceMethod<&FuseQueuesWrap::Publish>("publish"),
                           InstanceMethod<&FuseQueuesWrap::Withdraw>("withdraw"),
                           InstanceMethod<&FuseQueuesWrap::Reply>("reply"),
                           InstanceMethod<&FuseQueuesWrap::NoReply>("noReply"),
                           InstanceMethod<&FuseQueuesWrap::Stop>("stop"),
                           InstanceMethod<&FuseQueuesWrap::Stats>("stats"),
                           InstanceMethod<&FuseQueuesWrap::Info>("info"),
                       });
  }

  // new FuseQueues(fd, clones, depth, pin, maxWrite)
  explicit FuseQueuesWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FuseQueuesWrap>(info) {
    Options o;
    int fd = ArgFd(info, 0);
    o.clones = static_cast<uint32_t>(ArgIndex(info, 1, "clones", 256));
    o.depth = static_cast<uint32_t>(ArgIndex(info, 2, "queueDepth", 1024));
    if (o.depth == 0) throw Napi::RangeError::New(info.Env(), "queueDepth must be > 0");
    o.pin = ArgBool(info, 3, "pinQueues");
    o.max_write_hint = static_cast<uint32_t>(ArgIndex(info, 4, "maxWrite", 64u << 20));
    set_ = std::make_shared<QueueSet>(fd, o);
  }

 private:
  Napi::Value AddDevice(const Napi::CallbackInfo& info) {
    uint32_t index = static_cast<uint32_t>(ArgIndex(info, 0, "index", kMaxDevices - 1));
    int fd = ArgFd(info, 1);
    uint64_t size = ArgIndex(info, 2, "size", 9007199254740991ULL);
    bool writable = ArgBool(info, 3, "writable");
    bool invalidate = ArgBool(info, 4, "invalidateOnRead");
    set_->AddDevice(info.Env(), index, fd, size, writable, invalidate);
    return info.Env().Undefined();
  }

  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!info[0].IsFunction() || !info[1].IsFunction())
      throw Napi::TypeError::New(info.Env(), "onRequest and onEnd must be functions");
    set_->Start(info.Env(), info[0].As<Napi::Function>(), info[1].As<Napi::Function>());
    return info.Env().Undefined();
  }

  // publish(fh, nodeid, size, writable, runs: Float64Array [fileOffset, len, devIndex, devOffset]*) -> generation
  Napi::Value Publish(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t fh = ArgBigU64(info, 0, "fh");
    uint64_t nodeid = ArgBigU64(info, 1, "nodeid");
    uint64_t size = ArgIndex(info, 2, "size", 9007199254740991ULL);
    bool writable = ArgBool(info, 3, "writable");
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      throw Napi::TypeError::New(env, "runs must be a Float64Array");
    Napi::Float64Array runs = info[4].As<Napi::Float64Array>();
    if (runs.ElementLength() % 4 != 0) throw Napi::RangeError::New(env, "runs must hold 4 numbers per run");
    double gen = set_->Publish(env, fh, nodeid, size, writable, runs.Data(), runs.ElementLength() / 4);
    return Napi::Number::New(env, gen);
  }

  Napi::Value Withdraw(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), set_->Withdraw(ArgBigU64(info, 0, "fh")));
  }

  Napi::Value Reply(const Napi::CallbackInfo& info) {
    double token = ArgToken(info, 0);
    std::vector<iovec> parts = ArgParts(info, 1);
    return Napi::Boolean::New(info.Env(), set_->Reply(info.Env(), token, parts));
  }

  Napi::Value NoReply(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), set_->NoReply(ArgToken(info, 0)));
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) { return set_->StopFromJs(info.Env()); }
  Napi::Value Stats(const Napi::CallbackInfo& info) { return set_->Stats(info.Env()); }
  Napi::Value Info(const Napi::CallbackInfo& info) { return set_->Info(info.Env()); }

  std::shared_ptr<QueueSet> set_;
};

}  // namespace

void InitFuseQueues(Napi::Env env, Napi::Object exports) {
  exports.Set("FuseQueues", FuseQueuesWrap::Define(env));
  exports.Set("possibleCpus", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), PossibleCpus());
              }, "possibleCpus"));
}

}  // namespace famfs_native
