// Module entry: per-environment state, the spawn binding, and teardown. Validation with good
// messages lives in lib/process; the request is re-checked by decode.h (shared with the
// fuzzer), so a misuse of the private binding is a TypeError rather than undefined behaviour.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/xattr.h>
#endif

#ifdef __linux__
#include "clone3_linux.h"
#endif
#include "decode.h"
#include "env.h"
#include "spawn.h"

namespace coreproc {

EnvData* GetEnvData(Napi::Env env) { return env.GetInstanceData<EnvData>(); }

void CloseDone(EnvData* data) {
  data->pendingCloses--;
  if (!data->tearingDown || data->pendingCloses > 0) return;
  napi_remove_async_cleanup_hook(data->cleanupHandle);
  delete data;
}

namespace {

bool EnvFlag(const char* name) {
  const char* v = getenv(name);
  return v != nullptr && v[0] != '\0' && strcmp(v, "0") != 0;
}

void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg) {
  EnvData* data = static_cast<EnvData*>(arg);
  data->cleanupHandle = handle;
  data->tearingDown = true;
  data->childCtor.Reset();
  // Hold one count so handles closing synchronously cannot finish teardown half way.
  data->pendingCloses++;
  TeardownSched(data);
  TeardownChildren(data);
  TeardownTimers(data);
  TeardownReaders(data);
  TeardownSplice(data);
  CloseDone(data);
}

// decode.h's value concept over Napi::Value. A getter that throws leaves an empty value,
// read here as undefined; SpawnBinding then lets that pending exception through.
class NapiValue {
 public:
  explicit NapiValue(Napi::Value v) : v_(v) {}
  bool IsUndefined() const { return v_.IsEmpty() || v_.IsUndefined(); }
  bool IsString() const { return !v_.IsEmpty() && v_.IsString(); }
  bool IsNumber() const { return !v_.IsEmpty() && v_.IsNumber(); }
  bool IsArray() const { return !v_.IsEmpty() && v_.IsArray(); }
  bool IsObject() const { return !v_.IsEmpty() && v_.IsObject(); }
  bool Truthy() const { return !v_.IsEmpty() && v_.ToBoolean().Value(); }
  std::string StringValue() const { return v_.As<Napi::String>().Utf8Value(); }
  double NumberValue() const { return v_.As<Napi::Number>().DoubleValue(); }
  uint32_t Length() const { return v_.As<Napi::Array>().Length(); }
  NapiValue At(uint32_t i) const { return NapiValue(v_.As<Napi::Array>().Get(i)); }
  NapiValue Get(const char* key) const { return NapiValue(v_.As<Napi::Object>().Get(key)); }

 private:
  Napi::Value v_;
};

Napi::Value TypeErrorValue(Napi::Env env, const char* what) {
  Napi::TypeError::New(env, std::string("native spawn: ") + what).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ErrorObject(Napi::Env env, const SpawnError& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("errno", Napi::Number::New(env, e.err));
  o.Set("syscall", Napi::String::New(env, e.syscall));
  o.Set("stage", Napi::String::New(env, e.stage));
  if (!e.path.empty()) o.Set("path", Napi::String::New(env, e.path));
  if (e.resource[0] != '\0') o.Set("resource", Napi::String::New(env, e.resource));
  return o;
}

// spawn(request, onExit) -> NativeChild | { errno, syscall, stage, path? }
// request: see DecodeSpawnRequest (decode.h).
Napi::Value SpawnBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    return TypeErrorValue(env, "expected (request, onExit)");
  }
  SpawnRequest req;
  const char* bad = DecodeSpawnRequest(NapiValue(info[0]), &req);
  if (env.IsExceptionPending()) return env.Undefined();  // a getter threw: that error wins
  if (bad != nullptr) return TypeErrorValue(env, bad);
  req.forceClone = req.forceClone || data->forceClone;
  req.wantPidfd = data->usePidfd;

  if (!data->usePidfd && !EnsureSigchldWatcher(data)) {
    SpawnError e{EAGAIN, "uv_signal_start", "watch", ""};
    return ErrorObject(env, e);
  }

  SpawnResult result;
  SpawnError error;
  if (!Spawn(req, &result, &error)) return ErrorObject(env, error);

  auto child = std::make_shared<Child>();
  child->env = data;
  child->pid = result.pid;
  child->pidfd = std::move(result.pidfd);
  child->statusFd = std::move(result.statusFd);
  child->startNs = result.startNs;
  child->groupLeader = req.setsid || req.pgid == 0;
  child->onExit = Napi::Persistent(info[1].As<Napi::Function>());
  if (!WatchChild(data, child)) {
    // Cannot happen short of ENOMEM; do not leave a child nobody will ever reap.
    child->orphaned = true;
    AdoptOrphan(child->pid, child->pidfd.Release());
    SpawnError e{ENOMEM, "uv_poll_init", "watch", ""};
    return ErrorObject(env, e);
  }
  int fds[3];
  for (int i = 0; i < 3; i++) fds[i] = result.parentEnds[i].Release();  // JS owns them now
  Napi::Value wrapped = WrapChild(env, child);
  Napi::Object obj = wrapped.As<Napi::Object>();
  Napi::Array fdArray = Napi::Array::New(env, 3);
  for (uint32_t i = 0; i < 3; i++) fdArray.Set(i, Napi::Number::New(env, fds[i]));
  obj.Set("fds", fdArray);
  obj.Set("spawnMethod", Napi::String::New(env, result.method));
  return wrapped;
}

// adopt(pid, onExit) -> NativeChild | -errno: watches a process that is not our child (one
// a previous supervisor of ours left running) through a pidfd, so signals cannot reach a
// recycled pid and its exit wakes the loop. Its exit status is the parent's, not ours:
// waitid answers ECHILD and the status arrives marked lost. The caller checks, after this
// returns, that the pid still has the start time it expects: the pidfd then names that very
// process. It is never reaped here, even if it is our own child (node:child_process's). Linux with
// pidfd only (-ENOSYS elsewhere: there is no race-free handle).
Napi::Value AdoptBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    return TypeErrorValue(env, "expected (pid, onExit)");
  }
  double raw = info[0].As<Napi::Number>().DoubleValue();
  if (!(raw >= 1 && raw <= 4194304) || raw != static_cast<double>(static_cast<int>(raw))) {
    return Napi::Number::New(env, -EINVAL);
  }
#ifdef __linux__
  EnvData* data = GetEnvData(env);
  if (!data->usePidfd) return Napi::Number::New(env, -ENOSYS);
  pid_t pid = static_cast<pid_t>(raw);
  int fd = PidfdOpen(pid);
  if (fd < 0) return Napi::Number::New(env, -errno);
  auto child = std::make_shared<Child>();
  child->env = data;
  child->pid = pid;
  child->pidfd = UniqueFd(fd);
  child->startNs = MonotonicNs();  // durations count from the adoption
  child->groupLeader = getpgid(pid) == pid;
  child->foreign = true;
  child->onExit = Napi::Persistent(info[1].As<Napi::Function>());
  if (!WatchChild(data, child)) return Napi::Number::New(env, -ENOMEM);
  Napi::Value wrapped = WrapChild(env, child);
  Napi::Object obj = wrapped.As<Napi::Object>();
  Napi::Array fdArray = Napi::Array::New(env, 3);
  for (uint32_t i = 0; i < 3; i++) fdArray.Set(i, Napi::Number::New(env, -1));
  obj.Set("fds", fdArray);
  obj.Set("spawnMethod", Napi::String::New(env, "adopted"));
  return wrapped;
#else
  return Napi::Number::New(env, -ENOSYS);
#endif
}

// setXattr(path, name, value) -> 0 | -errno; getXattr(path, name) -> string | -errno.
// Extended attributes on our cgroup directories: cgroupfs takes user.* attributes (Linux
// 5.9+; systemd keeps user.delegate there the same way), which is where a cgroup records the
// child it is leased to (ChildCgroup.leaseTo). -ENOTSUP off Linux.
Napi::Value SetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString())
    return TypeErrorValue(env, "expected (path, name, value)");
#ifdef __linux__
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  std::string value = info[2].As<Napi::String>().Utf8Value();
  int r = setxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0);
  return Napi::Number::New(env, r == 0 ? 0 : -errno);
#else
  return Napi::Number::New(env, -ENOTSUP);
#endif
}

Napi::Value GetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    return TypeErrorValue(env, "expected (path, name)");
#ifdef __linux__
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  char buf[256];
  ssize_t n = getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  if (n < 0) return Napi::Number::New(env, -errno);
  return Napi::String::New(env, buf, static_cast<size_t>(n));
#else
  return Napi::Number::New(env, -ENOTSUP);
#endif
}

Napi::Value Backend(const Napi::CallbackInfo& info) {
  EnvData* data = GetEnvData(info.Env());
  // macOS uses the SIGCHLD path too (see README, Platforms): kqueue EVFILT_PROC is not built yet.
  const char* exit = data->usePidfd ? "pidfd" : "sigchld";
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("exit", Napi::String::New(info.Env(), exit));
  o.Set("spawn", Napi::String::New(info.Env(), data->forceClone ? "clone" : "auto"));
  const SpawnExtensions& ext = GetSpawnExtensions();
  Napi::Object x = Napi::Object::New(info.Env());
  x.Set("addclosefrom", Napi::Boolean::New(info.Env(), ext.addclosefrom != nullptr));
  x.Set("addchdir", Napi::Boolean::New(info.Env(), ext.addchdir != nullptr));
  o.Set("spawnExtensions", x);
#ifdef __linux__
  o.Set("intoCgroup",
        Napi::String::New(info.Env(), CloneIntoCgroupAvailable() ? "clone3" : "join"));
#else
  o.Set("intoCgroup", Napi::String::New(info.Env(), "join"));
#endif
  return o;
}

Napi::Value GetPgid(const Napi::CallbackInfo& info) {
  int pid = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  pid_t g = getpgid(pid);
  return Napi::Number::New(info.Env(), g < 0 ? -errno : g);
}

// setChildSubreaper(on): PR_SET_CHILD_SUBREAPER for the whole process. Returns 0 or -errno
// (Unsupported off Linux).
Napi::Value SetChildSubreaper(const Napi::CallbackInfo& info) {
#ifdef __linux__
  unsigned long on = info.Length() > 0 && info[0].ToBoolean().Value() ? 1 : 0;
  int r = prctl(PR_SET_CHILD_SUBREAPER, on, 0, 0, 0);
  return Napi::Number::New(info.Env(), r == 0 ? 0 : -errno);
#else
  return Napi::Number::New(info.Env(), -ENOTSUP);
#endif
}

// reapZombie(pid): waitpid(pid, WNOHANG) for one exited child that is not ours to watch (an
// orphan re-parented to us as subreaper). 1 reaped, 0 still running, -errno otherwise.
Napi::Value ReapZombie(const Napi::CallbackInfo& info) {
  pid_t pid = info[0].As<Napi::Number>().Int32Value();
  if (pid <= 0) return Napi::Number::New(info.Env(), -EINVAL);
  int status;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), r == pid ? 1 : r == 0 ? 0 : -errno);
}

// notifySocket(path, message): one datagram to a unix datagram socket ($NOTIFY_SOCKET of
// systemd's sd_notify protocol). 0 or -errno (-ENOTSUP off Linux).
Napi::Value NotifySocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    return TypeErrorValue(env, "expected (path, message)");
#ifdef __linux__
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::string message = info[1].As<Napi::String>().Utf8Value();
  int r = SendUnixDatagram(path.c_str(), message.data(), message.size());
  return Napi::Number::New(env, r == 0 ? 0 : -errno);
#else
  return Napi::Number::New(env, -ENOTSUP);
#endif
}

// threadSignalMask(block, signals[]): blocks or unblocks signals on the calling thread.
// Tests use it to prove a child does not inherit the spawning thread's mask; a thread that
// blocks signals is what native code and some embedders run JS on.
Napi::Value ThreadSignalMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[1].IsArray())
    return TypeErrorValue(env, "expected (block, signals)");
  sigset_t set;
  sigemptyset(&set);
  Napi::Array sigs = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < sigs.Length(); i++) {
    sigaddset(&set, sigs.Get(i).As<Napi::Number>().Int32Value());
  }
  int err = pthread_sigmask(info[0].ToBoolean().Value() ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
  return Napi::Number::New(env, -err);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new EnvData;
  napi_get_uv_event_loop(env, &data->loop);
#ifdef __linux__
  data->usePidfd = KernelHasPidfd() && !EnvFlag("CORE_PROCESS_NO_PIDFD");
#else
  data->usePidfd = false;
#endif
  data->forceClone = EnvFlag("CORE_PROCESS_FORCE_CLONE");
  GetSpawnExtensions();  // looked up (and CORE_PROCESS_NO_SPAWN_EXTENSIONS read) at load
#ifdef __linux__
  CloneIntoCgroupAvailable();  // CORE_PROCESS_NO_CLONE3 read at load
#endif
  // No finalizer: the async cleanup hook owns and deletes it once every handle has closed.
  napi_set_instance_data(env, data, nullptr, nullptr);
  napi_add_async_cleanup_hook(env, OnEnvTeardown, data, nullptr);

  exports.Set("NativeChild", DefineNativeChild(env, data));
  exports.Set("spawn", Napi::Function::New<SpawnBinding>(env, "spawn"));
  exports.Set("adopt", Napi::Function::New<AdoptBinding>(env, "adopt"));
  exports.Set("setXattr", Napi::Function::New<SetXattr>(env, "setXattr"));
  exports.Set("getXattr", Napi::Function::New<GetXattr>(env, "getXattr"));
  exports.Set("backend", Napi::Function::New<Backend>(env, "backend"));
  exports.Set("getpgid", Napi::Function::New<GetPgid>(env, "getpgid"));
  exports.Set("setChildSubreaper",
              Napi::Function::New<SetChildSubreaper>(env, "setChildSubreaper"));
  exports.Set("reapZombie", Napi::Function::New<ReapZombie>(env, "reapZombie"));
  exports.Set("notifySocket", Napi::Function::New<NotifySocket>(env, "notifySocket"));
  exports.Set("threadSignalMask", Napi::Function::New<ThreadSignalMask>(env, "threadSignalMask"));
  InitTimers(env, exports);
  InitSched(env, exports);
  InitRealtime(env, exports);
  InitReaders(env, exports);
  InitSplice(env, exports);
  InitSandbox(env, exports);
  InitSyncCollect(env, exports);
  return exports;
}

}  // namespace

}  // namespace coreproc

static Napi::Object InitCoreProcess(Napi::Env env, Napi::Object exports) {
  return coreproc::Init(env, exports);
}

NODE_API_MODULE(core_process, InitCoreProcess)
