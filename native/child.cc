// Exit notification, reaping, blocking waits and signals for one child.
// Linux: a uv_poll_t on the pidfd (EPOLLIN at exit), reaped with waitid(P_PIDFD) so rusage
// comes along. Fallback (no pidfd, or CORE_PROCESS_NO_PIDFD=1): our own uv_signal_t(SIGCHLD)
// and waitpid(pid, WNOHANG) for our own children only, which is libuv's scheme and coexists
// with node:child_process. We never waitpid(-1) and never change SIGCHLD's disposition.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "callback.h"
#include "env.h"

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

namespace coreproc {

namespace {

Napi::Array StatusArray(Napi::Env env, const Child& c) {
  const ExitInfo& i = c.info;
  auto ms = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1000.0 + static_cast<double>(tv.tv_usec) / 1000.0;
  };
  Napi::Array a = Napi::Array::New(env, 12);
  uint32_t k = 0;
  a.Set(k++, Napi::Number::New(env, i.code));
  a.Set(k++, Napi::Number::New(env, i.signal));
  a.Set(k++, Napi::Boolean::New(env, i.coreDumped));
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.endNs - c.startNs) / 1e6));
  a.Set(k++, Napi::Number::New(env, ms(i.usage.ru_utime)));
  a.Set(k++, Napi::Number::New(env, ms(i.usage.ru_stime)));
#ifdef __APPLE__
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.usage.ru_maxrss) / 1024.0));  // bytes
#else
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.usage.ru_maxrss)));  // KiB
#endif
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.usage.ru_minflt)));
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.usage.ru_majflt)));
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.usage.ru_nvcsw)));
  a.Set(k++, Napi::Number::New(env, static_cast<double>(i.usage.ru_nivcsw)));
  a.Set(k++, Napi::Boolean::New(env, i.lost));
  return a;
}

void OnSignalClosed(uv_handle_t* handle) {
  EnvData* data = static_cast<EnvData*>(handle->data);
  delete reinterpret_cast<uv_signal_t*>(handle);
  CloseDone(data);
}

void OnPollClosed(uv_handle_t* handle) {
  Child* child = static_cast<Child*>(handle->data);
  delete reinterpret_cast<uv_poll_t*>(handle);
  // The poll handle is closed, so the pidfd may go now (never before: pitfall 8).
  child->pidfd.Reset();
  EnvData* data = child->env;
  child->env = nullptr;
  data->live.erase(child);  // may destroy the Child: touch nothing after this
  CloseDone(data);
}

void StopWatching(Child* c) {
  EnvData* data = c->env;
  if (c->poll != nullptr) {
    uv_poll_stop(c->poll);
    uv_poll_t* poll = c->poll;
    c->poll = nullptr;
    data->pendingCloses++;
    uv_close(reinterpret_cast<uv_handle_t*>(poll), OnPollClosed);
    return;
  }
  // Fallback path: no handle per child.
  if (c->refed) data->fallbackRefs--;
  if (data->sigchld != nullptr && data->fallbackRefs == 0) {
    uv_unref(reinterpret_cast<uv_handle_t*>(data->sigchld));
  }
  c->pidfd.Reset();
  c->env = nullptr;
  data->live.erase(c);  // may destroy the Child
}

// Records the reap, stops the watcher and, for asynchronous reaps, tells JS. Holds a strong
// reference across the call because StopWatching may drop the environment's one.
void Finish(const std::shared_ptr<Child>& c, bool notify) {
  c->reaped = true;
  Napi::FunctionReference cb = std::move(c->onExit);
  bool tearingDown = c->env->tearingDown;
  StopWatching(c.get());
  if (!notify || cb.IsEmpty() || tearingDown) return;
  Napi::Env env = cb.Env();
  Napi::HandleScope scope(env);
  // At exit Node runs libuv callbacks (Environment::CleanupHandles) before any cleanup hook
  // could set tearingDown. JS cannot run by then: every call that could reach it answers
  // napi_pending_exception, which node-addon-api turns into a fatal error while the status
  // array is built. A property write is the cheapest probe of that state (seen with a child
  // killed from process.on('exit') while its exit watcher was unreferenced).
  napi_value probe;
  if (napi_create_object(env, &probe) != napi_ok ||
      napi_set_named_property(env, probe, "probe", probe) != napi_ok) {
    return;
  }
  // A make-callback, not a plain call: it runs the microtask queue afterwards, so promise reactions
  // to this exit run now rather than at the next unrelated tick.
  CallJs(env, cb, {StatusArray(env, *c)});
}

// Whether this child's exit is watched and reaped through its pidfd (Linux with pidfd).
bool PidfdMode(const Child* c) {
#ifdef __linux__
  return c->pidfd.Valid() && c->env != nullptr && c->env->usePidfd;
#else
  (void)c;
  return false;
#endif
}

// A child run under our init in a PID namespace: init died of what the program did (its exit
// code) but cannot die of the program's signal (PID 1 ignores its own), so the program's
// exact status comes through the status pipe, written before init exited. Nothing there
// (init was SIGKILLed, by PDEATHSIG or by hand): init's own status is the truth.
void ApplyInitStatus(Child* c) {
  if (!c->statusFd.Valid()) return;
  int status = 0;
  ssize_t n;
  do {
    n = read(c->statusFd.Get(), &status, sizeof status);
  } while (n < 0 && errno == EINTR);
  c->statusFd.Reset();
  if (n != static_cast<ssize_t>(sizeof status)) return;
  if (WIFEXITED(status)) {
    c->info.code = WEXITSTATUS(status);
    c->info.signal = 0;
    c->info.coreDumped = false;
  } else if (WIFSIGNALED(status)) {
    c->info.code = -1;
    c->info.signal = WTERMSIG(status);
    c->info.coreDumped = WCOREDUMP(status);
  }
}

int TryReap(Child* c, bool block) {
  if (c->foreign) {
    // The pidfd is readable once the process has exited: that is all we may know of it.
    struct pollfd p = {c->pidfd.Get(), POLLIN, 0};
    int n;
    do {
      n = poll(&p, 1, block ? -1 : 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    if (n == 0) return 0;
    c->info.lost = true;
    c->info.endNs = MonotonicNs();
    return 1;
  }
#ifdef __linux__
  int r =
      PidfdMode(c) ? ReapPidfd(c->pidfd.Get(), block, &c->info) : ReapPid(c->pid, block, &c->info);
#else
  int r = ReapPid(c->pid, block, &c->info);
#endif
  if (r == -1 && errno == ECHILD) {
    // Someone else's waitpid(-1) took it: the exit happened, its status is gone.
    c->info.lost = true;
    c->info.endNs = MonotonicNs();
    return 1;
  }
  if (r == 1) ApplyInitStatus(c);
  return r;
}

std::shared_ptr<Child> Strong(Child* c) {
  auto it = c->env->live.find(c);
  return it == c->env->live.end() ? std::shared_ptr<Child>() : it->second;
}

void OnPidfdReadable(uv_poll_t* handle, int /*status*/, int /*events*/) {
  Child* c = static_cast<Child*>(handle->data);
  if (c->reaped) return;
  // Readiness may be spurious; an unexpected error is not: report what we know.
  int r = TryReap(c, false);
  if (r == 0) return;
  if (r < 0) {
    c->info.lost = true;
    c->info.endNs = MonotonicNs();
  }
  Finish(Strong(c), true);
}

void OnSigchld(uv_signal_t* handle, int /*signum*/) {
  EnvData* data = static_cast<EnvData*>(handle->data);
  // Collect first: Finish runs JS, which may spawn and so change the map under us.
  std::vector<std::shared_ptr<Child>> done;
  for (auto& entry : data->live) {
    Child* c = entry.first;
    if (c->reaped || c->poll != nullptr) continue;
    if (TryReap(c, false) != 0) done.push_back(entry.second);
  }
  for (auto& c : done) Finish(c, true);
}

}  // namespace

bool EnsureSigchldWatcher(EnvData* data) {
  if (data->sigchld != nullptr) return true;
  auto* h = new uv_signal_t;
  if (uv_signal_init(data->loop, h) != 0) {
    delete h;
    return false;
  }
  h->data = data;
  if (uv_signal_start(h, OnSigchld, SIGCHLD) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) { delete x; });
    return false;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(h));
  data->sigchld = h;
  return true;
}

namespace {

// Nanoseconds left until an absolute CLOCK_MONOTONIC deadline, clamped at 0.
int64_t RemainingNs(int64_t deadlineNs) {
  int64_t left = deadlineNs - MonotonicNs();
  return left > 0 ? left : 0;
}

// Blocks until the child exits or the deadline passes. Returns 1 reaped, 0 timed out,
// -1 error. EINTR only recomputes the remaining time: poll is never restarted by the
// kernel after a handler (libuv's SIGCHLD, the profiler's SIGPROF) runs.
int WaitBlocking(Child* c, int64_t timeoutMs) {
  int64_t deadline = timeoutMs < 0 ? 0 : MonotonicNs() + timeoutMs * 1000000LL;
  bool pidfdMode = PidfdMode(c);
  if (!pidfdMode && timeoutMs < 0) return TryReap(c, true);
  int64_t backoffNs = 50000;
  for (;;) {
    int r = TryReap(c, false);
    if (r != 0) return r;
    if (timeoutMs >= 0 && RemainingNs(deadline) == 0) return 0;
#ifdef __linux__
    if (pidfdMode) {
      struct pollfd pfd = {c->pidfd.Get(), POLLIN, 0};
      struct timespec ts;
      struct timespec* tsp = nullptr;
      if (timeoutMs >= 0) {
        int64_t left = RemainingNs(deadline);
        ts.tv_sec = static_cast<time_t>(left / 1000000000LL);
        ts.tv_nsec = static_cast<long>(left % 1000000000LL);
        tsp = &ts;
      }
      int pr = ppoll(&pfd, 1, tsp, nullptr);
      if (pr < 0 && errno != EINTR) return -1;
      continue;
    }
#endif
    {
      // Without a pidfd there is nothing to sleep on for one child; poll with a short,
      // growing sleep, capped so a timeout is still honoured to the millisecond.
      int64_t sleepNs = backoffNs;
      if (timeoutMs >= 0) {
        int64_t left = RemainingNs(deadline);
        if (left < sleepNs) sleepNs = left;
      }
      struct timespec ts = {static_cast<time_t>(sleepNs / 1000000000LL),
                            static_cast<long>(sleepNs % 1000000000LL)};
      nanosleep(&ts, nullptr);
      if (backoffNs < 2000000) backoffNs *= 2;
    }
  }
}

class NativeChild : public Napi::ObjectWrap<NativeChild> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "NativeChild",
        {InstanceAccessor<&NativeChild::Pid>("pid"), InstanceMethod<&NativeChild::Kill>("kill"),
         InstanceMethod<&NativeChild::KillGroup>("killGroup"),
         InstanceMethod<&NativeChild::WaitSync>("waitSync"),
         InstanceMethod<&NativeChild::Ref>("ref"), InstanceMethod<&NativeChild::Unref>("unref")});
  }

  explicit NativeChild(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeChild>(info) {
    if (info.Length() >= 1 && info[0].IsExternal()) {
      auto* holder = info[0].As<Napi::External<std::shared_ptr<Child>>>().Data();
      child_ = *holder;
    }
  }

 private:
  Napi::Value Pid(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), child_ ? child_->pid : -1);
  }

  // Returns 1 delivered, 0 the child is gone (reaped), or -errno.
  Napi::Value Kill(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int sig = info[0].As<Napi::Number>().Int32Value();
    Child* c = child_.get();
    if (c == nullptr || c->reaped || c->orphaned) return Napi::Number::New(env, 0);
    int r;
#ifdef __linux__
    if (c->pidfd.Valid()) {
      r = PidfdSendSignal(c->pidfd.Get(), sig, 0);
    } else
#endif
    {
      // Safe without a pidfd only because the child is unreaped: a zombie keeps its pid.
      r = ::kill(c->pid, sig);
    }
    if (r == 0) return Napi::Number::New(env, 1);
    return Napi::Number::New(env, errno == ESRCH ? 0 : -errno);
  }

  // killGroup(sig, pgid): through the pidfd as a process group when the child leads it and
  // the kernel has PIDFD_SIGNAL_PROCESS_GROUP (6.9), else killpg.
  Napi::Value KillGroup(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int sig = info[0].As<Napi::Number>().Int32Value();
    int pgid = info[1].As<Napi::Number>().Int32Value();
#ifdef __linux__
    Child* c = child_.get();
    if (c != nullptr && !c->reaped && !c->orphaned && c->groupLeader && c->pidfd.Valid()) {
      if (PidfdSendSignal(c->pidfd.Get(), sig, PIDFD_SIGNAL_PROCESS_GROUP) == 0) {
        return Napi::Number::New(env, 1);
      }
      if (errno != EINVAL) return Napi::Number::New(env, errno == ESRCH ? 0 : -errno);
    }
#endif
    if (::killpg(pgid, sig) == 0) return Napi::Number::New(env, 1);
    return Napi::Number::New(env, errno == ESRCH ? 0 : -errno);
  }

  // waitSync(timeoutMs | -1): the status array, null on timeout, or -errno.
  Napi::Value WaitSync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t timeoutMs = info[0].As<Napi::Number>().Int64Value();
    Child* c = child_.get();
    if (c == nullptr) return env.Null();
    if (c->reaped) return StatusArray(env, *c);
    if (c->orphaned || c->env == nullptr) return Napi::Number::New(env, -ECHILD);
    int r = WaitBlocking(c, timeoutMs);
    if (r == 0) return env.Null();
    if (r < 0) return Napi::Number::New(env, -errno);
    std::shared_ptr<Child> keep = child_;
    Finish(keep, false);
    return StatusArray(env, *keep);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    SetRef(true);
    return info.Env().Undefined();
  }
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    SetRef(false);
    return info.Env().Undefined();
  }

  void SetRef(bool on) {
    Child* c = child_.get();
    if (c == nullptr || c->reaped || c->orphaned || c->refed == on || c->env == nullptr) return;
    c->refed = on;
    if (c->poll != nullptr) {
      auto* h = reinterpret_cast<uv_handle_t*>(c->poll);
      on ? uv_ref(h) : uv_unref(h);
      return;
    }
    EnvData* data = c->env;
    data->fallbackRefs += on ? 1 : -1;
    if (data->sigchld == nullptr) return;
    auto* h = reinterpret_cast<uv_handle_t*>(data->sigchld);
    data->fallbackRefs > 0 ? uv_ref(h) : uv_unref(h);
  }

  std::shared_ptr<Child> child_;
};

}  // namespace

void CloseSignalCounted(EnvData* data, uv_signal_t* handle) {
  handle->data = data;
  data->pendingCloses++;
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnSignalClosed);
}

Napi::Function DefineNativeChild(Napi::Env env, EnvData* data) {
  Napi::Function ctor = NativeChild::Define(env);
  data->childCtor = Napi::Persistent(ctor);
  return ctor;
}

Napi::Value WrapChild(Napi::Env env, std::shared_ptr<Child> child) {
  EnvData* data = GetEnvData(env);
  std::shared_ptr<Child> holder = std::move(child);
  Napi::Object obj =
      data->childCtor.New({Napi::External<std::shared_ptr<Child>>::New(env, &holder)});
  return obj;
}

bool WatchChild(EnvData* data, const std::shared_ptr<Child>& child) {
  data->live.emplace(child.get(), child);
  if (data->usePidfd && child->pidfd.Valid()) {
    auto* poll = new uv_poll_t;
    if (uv_poll_init(data->loop, poll, child->pidfd.Get()) != 0) {
      delete poll;
      data->live.erase(child.get());
      return false;
    }
    poll->data = child.get();
    uv_poll_start(poll, UV_READABLE, OnPidfdReadable);
    child->poll = poll;
    return true;
  }
  if (!EnsureSigchldWatcher(data)) {
    data->live.erase(child.get());
    return false;
  }
  // In no-pidfd mode the watcher was started before the spawn (EnsureSigchldWatcher), so
  // this child's SIGCHLD cannot have been missed. A child that fell back here because
  // pidfd_open failed (EMFILE) may have exited before the watcher existed: raise SIGCHLD
  // once so OnSigchld runs its WNOHANG pass over it on the next loop turn.
  data->fallbackRefs++;
  uv_ref(reinterpret_cast<uv_handle_t*>(data->sigchld));
  // kill() of our own pid with a valid signal cannot fail.
  if (data->usePidfd) static_cast<void>(::kill(::getpid(), SIGCHLD));
  return true;
}

void TeardownChildren(EnvData* data) {
  // Copy: closing handles erases from data->live.
  std::vector<std::shared_ptr<Child>> children;
  for (auto& entry : data->live) children.push_back(entry.second);
  for (auto& c : children) {
    c->onExit.Reset();
    if (!c->reaped && TryReap(c.get(), false) == 0) {
      // Still running: hand it to the process-wide reaper so it never stays a zombie.
      c->orphaned = true;
      AdoptOrphan(c->pid, c->env->usePidfd ? c->pidfd.Release() : -1);
    }
    c->reaped = true;
    StopWatching(c.get());
  }
  if (data->sigchld != nullptr) {
    uv_signal_stop(data->sigchld);
    CloseSignalCounted(data, data->sigchld);
    data->sigchld = nullptr;
  }
}

}  // namespace coreproc
