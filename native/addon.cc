// Module entry: per-environment state, the spawn binding (request parsing), and teardown.
// Validation with good messages lives in lib/process; here we only re-check types, so a
// misuse of the private binding is a TypeError rather than undefined behaviour.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "env.h"
#include "sched.h"
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
  CloseDone(data);
}

bool ReadStringArray(Napi::Value v, std::vector<std::string>* out) {
  if (!v.IsArray()) return false;
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  out->reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value item = a.Get(i);
    if (!item.IsString()) return false;
    out->push_back(item.As<Napi::String>().Utf8Value());
  }
  return true;
}

bool ReadStdio(Napi::Value v, StdioSpec* spec) {
  if (v.IsNumber()) {
    int k = v.As<Napi::Number>().Int32Value();
    if (k < 0 || k > 3) return false;
    spec->kind = static_cast<StdioKind>(k);
    return true;
  }
  if (!v.IsObject()) return false;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value fd = o.Get("fd");
  if (fd.IsNumber()) {
    spec->kind = StdioKind::Fd;
    spec->fd = fd.As<Napi::Number>().Int32Value();
    return true;
  }
  Napi::Value file = o.Get("file");
  if (!file.IsString()) return false;
  spec->kind = StdioKind::File;
  spec->path = file.As<Napi::String>().Utf8Value();
  spec->append = o.Get("append").ToBoolean().Value();
  return true;
}

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

bool ReadIntIn(const Napi::Value& v, double lo, double hi, int64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

// The scheduling part of a request: { affinity?, scheduler?, nice?, rlimits?, uid?, gid?,
// inheritScheduling }. Returns the failing field's name, or nullptr.
const char* ReadSchedRequest(const Napi::Object& r, SpawnRequest* req) {
  int64_t v;
  Napi::Value affinity = r.Get("affinity");
  if (!affinity.IsUndefined()) {
    if (!affinity.IsArray() || affinity.As<Napi::Array>().Length() == 0) return "affinity";
    Napi::Array a = affinity.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      if (!ReadIntIn(a.Get(i), 0, (1 << 20) - 1, &v)) return "affinity";
      req->affinity.push_back(static_cast<int>(v));
    }
    req->hasAffinity = true;
  }
  Napi::Value scheduler = r.Get("scheduler");
  if (!scheduler.IsUndefined()) {
    if (!scheduler.IsObject()) return "scheduler";
    Napi::Object o = scheduler.As<Napi::Object>();
    Napi::Value policy = o.Get("policy");
    if (!policy.IsString() ||
        !PolicyFromName(policy.As<Napi::String>().Utf8Value(), &req->policy)) {
      return "scheduler.policy";
    }
    if (!ReadIntIn(o.Get("priority"), 0, 1000, &v)) return "scheduler.priority";
    req->priority = static_cast<int>(v);
    req->resetOnFork = o.Get("resetOnFork").ToBoolean().Value();
    req->hasScheduler = true;
  }
  Napi::Value nice = r.Get("nice");
  if (!nice.IsUndefined()) {
    if (!ReadIntIn(nice, -20, 19, &v)) return "nice";
    req->nice = static_cast<int>(v);
    req->hasNice = true;
  }
  Napi::Value rlimits = r.Get("rlimits");
  if (!rlimits.IsUndefined()) {
    if (!rlimits.IsArray()) return "rlimits";
    Napi::Array a = rlimits.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value entry = a.Get(i);
      if (!entry.IsArray() || entry.As<Napi::Array>().Length() != 3) return "rlimits";
      Napi::Array t = entry.As<Napi::Array>();
      SpawnRequest::Rlimit lim{};
      Napi::Value name = t.Get(0u);
      if (!name.IsString() || !RlimitFromName(name.As<Napi::String>().Utf8Value(), &lim.resource)) {
        return "rlimits";
      }
      const double kMax = 9007199254740992.0;  // 2^53: JS numbers stay exact below it
      if (!ReadIntIn(t.Get(1u), -1, kMax, &lim.soft) ||
          !ReadIntIn(t.Get(2u), -1, kMax, &lim.hard)) {
        return "rlimits";
      }
      req->rlimits.push_back(lim);
    }
  }
  Napi::Value uid = r.Get("uid");
  if (!uid.IsUndefined()) {
    if (!ReadIntIn(uid, 0, 4294967294.0, &v)) return "uid";
    req->uid = static_cast<uid_t>(v);
    req->hasUid = true;
  }
  Napi::Value gid = r.Get("gid");
  if (!gid.IsUndefined()) {
    if (!ReadIntIn(gid, 0, 4294967294.0, &v)) return "gid";
    req->gid = static_cast<gid_t>(v);
    req->hasGid = true;
  }
  req->inheritScheduling = r.Get("inheritScheduling").ToBoolean().Value();
  return nullptr;
}

// spawn(request, onExit) -> NativeChild | { errno, syscall, stage, path? }
// request: { file, searchPath, argv, env?, cwd?, stdio: [3], pgid, setsid, forceClone }
Napi::Value SpawnBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    return TypeErrorValue(env, "expected (request, onExit)");
  }
  Napi::Object r = info[0].As<Napi::Object>();
  SpawnRequest req;
  Napi::Value file = r.Get("file");
  if (!file.IsString()) return TypeErrorValue(env, "file must be a string");
  req.file = file.As<Napi::String>().Utf8Value();
  Napi::Value searchPath = r.Get("searchPath");
  if (searchPath.IsString()) req.searchPath = searchPath.As<Napi::String>().Utf8Value();
  if (!ReadStringArray(r.Get("argv"), &req.argv)) {
    return TypeErrorValue(env, "argv must be an array of strings");
  }
  Napi::Value envv = r.Get("env");
  if (!envv.IsUndefined()) {
    req.inheritEnv = false;
    if (!ReadStringArray(envv, &req.env)) return TypeErrorValue(env, "env must be strings");
  }
  Napi::Value cwd = r.Get("cwd");
  if (cwd.IsString()) {
    req.hasCwd = true;
    req.cwd = cwd.As<Napi::String>().Utf8Value();
  }
  Napi::Value stdio = r.Get("stdio");
  if (!stdio.IsArray() || stdio.As<Napi::Array>().Length() != 3) {
    return TypeErrorValue(env, "stdio must have 3 entries");
  }
  for (uint32_t i = 0; i < 3; i++) {
    if (!ReadStdio(stdio.As<Napi::Array>().Get(i), &req.stdio[i])) {
      return TypeErrorValue(env, "bad stdio entry");
    }
  }
  Napi::Value pgid = r.Get("pgid");
  if (pgid.IsNumber()) req.pgid = pgid.As<Napi::Number>().Int32Value();
  req.setsid = r.Get("setsid").ToBoolean().Value();
  req.forceClone = data->forceClone || r.Get("forceClone").ToBoolean().Value();
  Napi::Value cgroupFd = r.Get("cgroupFd");
  if (cgroupFd.IsNumber()) req.cgroupFd = cgroupFd.As<Napi::Number>().Int32Value();
  Napi::Value deathSignal = r.Get("deathSignal");
  if (deathSignal.IsNumber()) req.deathSignal = deathSignal.As<Napi::Number>().Int32Value();
  if (const char* bad = ReadSchedRequest(r, &req)) {
    return TypeErrorValue(env, (std::string("bad ") + bad).c_str());
  }
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

Napi::Value Backend(const Napi::CallbackInfo& info) {
  EnvData* data = GetEnvData(info.Env());
  // macOS uses the SIGCHLD path too (see README, Platforms): kqueue EVFILT_PROC is not built yet.
  const char* exit = data->usePidfd ? "pidfd" : "sigchld";
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("exit", Napi::String::New(info.Env(), exit));
  o.Set("spawn", Napi::String::New(info.Env(), data->forceClone ? "clone" : "auto"));
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
  // No finalizer: the async cleanup hook owns and deletes it once every handle has closed.
  napi_set_instance_data(env, data, nullptr, nullptr);
  napi_add_async_cleanup_hook(env, OnEnvTeardown, data, nullptr);

  exports.Set("NativeChild", DefineNativeChild(env, data));
  exports.Set("spawn", Napi::Function::New<SpawnBinding>(env, "spawn"));
  exports.Set("backend", Napi::Function::New<Backend>(env, "backend"));
  exports.Set("getpgid", Napi::Function::New<GetPgid>(env, "getpgid"));
  exports.Set("setChildSubreaper",
              Napi::Function::New<SetChildSubreaper>(env, "setChildSubreaper"));
  exports.Set("reapZombie", Napi::Function::New<ReapZombie>(env, "reapZombie"));
  exports.Set("threadSignalMask", Napi::Function::New<ThreadSignalMask>(env, "threadSignalMask"));
  InitTimers(env, exports);
  InitSched(env, exports);
  InitReaders(env, exports);
  return exports;
}

}  // namespace

}  // namespace coreproc

static Napi::Object InitCoreProcess(Napi::Env env, Napi::Object exports) {
  return coreproc::Init(env, exports);
}

NODE_API_MODULE(core_process, InitCoreProcess)
