// pipeTo: moves a child's output from our end of its pipe to a destination descriptor (a
// file, a socket, another pipe) without the bytes ever entering JS. splice(2) moves pipe
// pages to a socket or pipe in the kernel; where splice refuses (an O_APPEND file, a
// socketpair source) a read()/write() loop with one reused buffer does the same work.
// For a regular file the loop is the default: the page cache needs its own copy either way,
// and splice holds the pipe locked while it writes, so the writer waits longer (see
// docs/output.md for the figures measured here).
//
// Each transfer runs on its own thread, not the libuv threadpool: it lasts as long as the
// child writes, and an unbounded wait would starve fs and DNS work (STYLE "avoid" 10). The
// thread owns its descriptors (RAII), waits with poll() so that either end may be
// non-blocking (a net.Socket's is), and can be cancelled through an eventfd. The result goes
// back to the JS thread through a ThreadSafeFunction, which also keeps the loop alive.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "env.h"
#include "fd.h"

namespace coreproc {

namespace {

#if defined(__linux__)

constexpr size_t kSpliceChunk = 1024 * 1024;

// What the transfer thread and the ThreadSafeFunction's finalizer share. When an environment
// is torn down (a worker ends) Node finalizes and frees its ThreadSafeFunctions even while a
// thread still holds one: calling it after that is a use after free (seen: an abort in
// uv_mutex_lock inside napi_call_threadsafe_function). The finalizer marks the link gone
// under the mutex, and the thread calls and releases only under that mutex while it is not.
struct JobLink {
  std::mutex mu;
  bool gone = false;
};

struct PipeJob {
  uint32_t id = 0;
  UniqueFd src;  // -1: only the prefix is left to write (the stream had already ended)
  UniqueFd dst;
  UniqueFd cancel;  // eventfd: readable once pipeToCancel() ran
  std::vector<char> prefix;
  int method = 0;  // 0 auto (copy for regular files, else splice), 1 splice, 2 copy
  uint64_t bytes = 0;
  int err = 0;
  const char* syscall = "";
  bool spliced = false;  // at least one splice() moved data: the kernel path was taken
  Napi::ThreadSafeFunction done;
  std::shared_ptr<JobLink> link = std::make_shared<JobLink>();
};

std::mutex gJobsMu;
struct Running {
  int cancelFd;
  EnvData* env;  // whose teardown cancels it
};
std::unordered_map<uint32_t, Running> gCancelFds;  // id -> eventfd, while the job runs

// Under gJobsMu. An eventfd write of 8 bytes never blocks here (at most 2^64-2 pending).
bool Cancel(const Running& job) {
  uint64_t one = 1;
  return write(job.cancelFd, &one, sizeof one) == static_cast<ssize_t>(sizeof one);
}
std::atomic<uint32_t> gNextJob{1};

// Waits until every fd in `want` (events != 0) is ready, or the cancel fd fires.
// Returns 0, ECANCELED, or the poll errno. POLLHUP/POLLERR count as ready: the next
// syscall on that fd reports what happened.
int WaitReady(int cancel, int srcFd, int dstFd, bool needSrc, bool needDst) {
  while (needSrc || needDst) {
    pollfd list[3];
    nfds_t n = 0;
    nfds_t srcAt = 0;
    nfds_t dstAt = 0;
    list[n++] = {cancel, POLLIN, 0};
    if (needSrc) {
      srcAt = n;
      list[n++] = {srcFd, POLLIN, 0};
    }
    if (needDst) {
      dstAt = n;
      list[n++] = {dstFd, POLLOUT, 0};
    }
    if (poll(list, n, -1) < 0) {
      if (errno == EINTR) continue;  // poll is never restarted (NATIVE-NOTES §3)
      return errno;
    }
    if (list[0].revents != 0) return ECANCELED;
    if (srcAt != 0 && list[srcAt].revents != 0) needSrc = false;
    if (dstAt != 0 && list[dstAt].revents != 0) needDst = false;
  }
  return 0;
}

bool Fail(PipeJob* j, int err, const char* syscall) {
  j->err = err;
  j->syscall = syscall;
  return false;
}

bool WriteAll(PipeJob* j, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = write(j->dst.Get(), data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Fail(j, errno, "write");
      int e = WaitReady(j->cancel.Get(), -1, j->dst.Get(), false, true);
      if (e != 0) return Fail(j, e, "poll");
      continue;
    }
    data += w;
    n -= static_cast<size_t>(w);
    j->bytes += static_cast<uint64_t>(w);
  }
  return true;
}

// read()/write() through one buffer: for the pairs splice(2) does not take.
bool CopyLoop(PipeJob* j) {
  std::vector<char> buf(kSpliceChunk);
  for (;;) {
    ssize_t n = read(j->src.Get(), buf.data(), buf.size());
    if (n == 0) return true;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Fail(j, errno, "read");
      int e = WaitReady(j->cancel.Get(), j->src.Get(), -1, true, false);
      if (e != 0) return Fail(j, e, "poll");
      continue;
    }
    if (!WriteAll(j, buf.data(), static_cast<size_t>(n))) return false;
  }
}

bool SpliceLoop(PipeJob* j) {
  int src = j->src.Get();
  int dst = j->dst.Get();
  // EAGAIN says one end is not ready but not which: wait for the source first; if the next
  // splice still cannot move anything, the destination is what blocks.
  bool waitedSrc = false;
  for (;;) {
    ssize_t n = splice(src, nullptr, dst, nullptr, kSpliceChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      j->bytes += static_cast<uint64_t>(n);
      j->spliced = true;
      waitedSrc = false;
      continue;
    }
    if (n == 0) return true;  // EOF: every writer has closed
    if (errno == EINTR) continue;
    if ((errno == EINVAL || errno == ENOSYS) && !j->spliced) return CopyLoop(j);
    if (errno != EAGAIN) return Fail(j, errno, "splice");
    int e = WaitReady(j->cancel.Get(), src, dst, !waitedSrc, waitedSrc);
    if (e != 0) return Fail(j, e, "poll");
    waitedSrc = !waitedSrc;
  }
}

void RunJob(PipeJob* j) {
  bool ok = j->prefix.empty() || WriteAll(j, j->prefix.data(), j->prefix.size());
  if (ok && j->src.Valid()) {
    bool copy = j->method == 2;
    if (j->method == 0) {
      struct stat st;
      copy = fstat(j->dst.Get(), &st) == 0 && S_ISREG(st.st_mode);
    }
    ok = copy ? CopyLoop(j) : SpliceLoop(j);
  }
  {
    std::lock_guard<std::mutex> lock(gJobsMu);
    gCancelFds.erase(j->id);
  }
  // Close the source now, not when JS gets around to the result: a writer still writing
  // after a failed destination must get its SIGPIPE.
  j->src.Reset();
  j->dst.Reset();
  // Copied first: once BlockingCall has queued the job, the JS thread may delete it.
  Napi::ThreadSafeFunction done = j->done;
  std::shared_ptr<JobLink> link = j->link;
  std::lock_guard<std::mutex> guard(link->mu);
  if (link->gone) {  // the environment is gone, and its ThreadSafeFunction with it
    delete j;
    return;
  }
  napi_status st = done.BlockingCall(j, [](Napi::Env env, Napi::Function fn, PipeJob* job) {
    std::unique_ptr<PipeJob> owned(job);
    // Raw calls: this may run while a worker is being torn down, where node-addon-api's
    // wrappers would turn the refused call into a fatal error (see callback.h). A call
    // that fails then has nobody left to tell.
    if (env == nullptr || fn.IsEmpty()) return;
    napi_value args[4];
    if (napi_create_int32(env, job->err, &args[0]) != napi_ok ||
        napi_create_double(env, static_cast<double>(job->bytes), &args[1]) != napi_ok ||
        napi_create_string_utf8(env, job->syscall, NAPI_AUTO_LENGTH, &args[2]) != napi_ok ||
        napi_get_boolean(env, job->spliced, &args[3]) != napi_ok) {
      return;
    }
    napi_value global;
    napi_value result;
    if (napi_get_global(env, &global) != napi_ok) return;
    if (napi_call_function(env, global, fn, 4, args, &result) != napi_ok) {
      bool pending = false;
      napi_value error;
      if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
          napi_get_and_clear_last_exception(env, &error) == napi_ok) {
        napi_valuetype type;
        if (napi_typeof(env, error, &type) == napi_ok && type != napi_undefined) {
          napi_fatal_exception(env, error);  // a JS error from the handler: uncaughtException
        }
      }
    }
  });
  if (st != napi_ok) delete j;  // the environment is gone: nobody is waiting for the answer
  done.Release();
}

#endif  // __linux__

// pipeTo(srcFd, dstFd, prefix | null, onDone(errno, bytes, syscall, spliced), method)
//   -> job id, or -errno. Takes ownership of srcFd (-1: none, write the prefix only);
// dstFd stays the caller's (the job works on its own duplicate).
Napi::Value PipeTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__linux__)
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[3].IsFunction()) {
    Napi::TypeError::New(env, "pipeTo: expected (srcFd, dstFd, prefix, onDone, method)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* j = new PipeJob;
  int src = info[0].As<Napi::Number>().Int32Value();
  if (src >= 0) j->src.Reset(src);
  j->method = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 0;
  int dup = fcntl(info[1].As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 3);
  if (dup < 0) {
    int e = errno;
    delete j;
    return Napi::Number::New(env, -e);
  }
  j->dst.Reset(dup);
  j->cancel.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!j->cancel.Valid()) {
    int e = errno;
    delete j;
    return Napi::Number::New(env, -e);
  }
  if (info[2].IsTypedArray()) {
    Napi::Uint8Array pre = info[2].As<Napi::Uint8Array>();
    j->prefix.assign(reinterpret_cast<const char*>(pre.Data()),
                     reinterpret_cast<const char*>(pre.Data()) + pre.ElementLength());
  }
  j->id = gNextJob.fetch_add(1);
  auto* link = new std::shared_ptr<JobLink>(j->link);
  j->done = Napi::ThreadSafeFunction::New(
      env, info[3].As<Napi::Function>(), "pipeTo", 0, 1,
      [](Napi::Env, std::shared_ptr<JobLink>* shared) {
        {
          std::lock_guard<std::mutex> lock((*shared)->mu);
          (*shared)->gone = true;
        }
        delete shared;
      },
      link);
  {
    std::lock_guard<std::mutex> lock(gJobsMu);
    gCancelFds.emplace(j->id, Running{j->cancel.Get(), GetEnvData(env)});
  }
  uint32_t id = j->id;
  std::thread(RunJob, j).detach();
  return Napi::Number::New(env, id);
#else
  if (info.Length() > 0 && info[0].IsNumber()) {
    int src = info[0].As<Napi::Number>().Int32Value();
    if (src >= 0) close(src);  // ownership was passed to us
  }
  return Napi::Number::New(env, -ENOTSUP);
#endif
}

// pipeToCancel(id): stops a running transfer (its onDone reports ECANCELED). false when the
// job has already finished.
Napi::Value PipeToCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__linux__)
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  std::lock_guard<std::mutex> lock(gJobsMu);
  auto it = gCancelFds.find(id);
  if (it == gCancelFds.end()) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, Cancel(it->second));
#else
  (void)info;
  return Napi::Boolean::New(env, false);
#endif
}

// makePipe(size) -> [readFd, writeFd] | -errno: a CLOEXEC pipe for pipeline() to connect
// one child's stdout to the next one's stdin (spawn dup2s the ends into place; the
// CLOEXEC originals reach no child). size > 0: F_SETPIPE_SZ, as spawn's pipeSize.
Napi::Value MakePipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int p[2];
#if defined(__linux__)
  if (pipe2(p, O_CLOEXEC) != 0) return Napi::Number::New(env, -errno);
#else
  if (pipe(p) != 0) return Napi::Number::New(env, -errno);
  for (int i = 0; i < 2; i++) {
    if (fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0) {
      int e = errno;
      close(p[0]);
      close(p[1]);
      return Napi::Number::New(env, -e);
    }
  }
#endif
  UniqueFd r(p[0]);
  UniqueFd w(p[1]);
  int size = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
#ifdef F_SETPIPE_SZ
  if (size > 0 && fcntl(r.Get(), F_SETPIPE_SZ, size) < 0) return Napi::Number::New(env, -errno);
#else
  if (size > 0) return Napi::Number::New(env, -ENOTSUP);
#endif
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, r.Release()));
  out.Set(1u, Napi::Number::New(env, w.Release()));
  return out;
}

}  // namespace

// A worker that goes away stops its transfers: each closes our end of its child's pipe, so
// the child gets SIGPIPE instead of writing on with nobody left to ask for the result.
void TeardownSplice(EnvData* data) {
#if defined(__linux__)
  std::lock_guard<std::mutex> lock(gJobsMu);
  for (const auto& entry : gCancelFds) {
    if (entry.second.env == data) Cancel(entry.second);
  }
#else
  (void)data;
#endif
}

void InitSplice(Napi::Env env, Napi::Object exports) {
  exports.Set("pipeTo", Napi::Function::New<PipeTo>(env, "pipeTo"));
  exports.Set("pipeToCancel", Napi::Function::New<PipeToCancel>(env, "pipeToCancel"));
  exports.Set("makePipe", Napi::Function::New<MakePipe>(env, "makePipe"));
}

}  // namespace coreproc
