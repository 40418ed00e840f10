// The scheduling bindings (lib/sched, lib/thread): argument checks, the registry of our own
// threads, and the process baseline. Getters return a value or { errno, syscall }; setters 0
// or { errno, syscall }, so lib/sched can say which capability or limit was missing.
#include "sched.h"

#include <errno.h>
#include <unistd.h>

#include <cmath>
#include <mutex>
#include <unordered_set>

#include "env.h"

namespace coreproc {

namespace {

std::mutex& RegistryMutex() {
  static std::mutex m;
  return m;
}

std::unordered_set<pid_t>& Registry() {
  static std::unordered_set<pid_t> tids;
  return tids;
}

Napi::Value ErrValue(Napi::Env env, const SchedErr& e) { return SchedErrValue(env, e); }

Napi::Value BadArgs(Napi::Env env, const char* what) {
  Napi::TypeError::New(env, std::string("native sched: ") + what).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ReadInt(const Napi::Value& v, int64_t lo, int64_t hi, int64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(lo) ||
      d > static_cast<double>(hi)) {
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool ReadId(const Napi::CallbackInfo& info, size_t i, pid_t* id) {
  int64_t v;
  if (!ReadInt(info[i], 0, 0x7fffffff, &v)) return false;
  *id = static_cast<pid_t>(v);
  return true;
}

bool ReadPolicy(const Napi::Value& v, int* policy) {
  return v.IsString() && PolicyFromName(v.As<Napi::String>().Utf8Value(), policy);
}

Napi::Array CpuArray(Napi::Env env, const CpuList& cpus) {
  Napi::Array a = Napi::Array::New(env, cpus.size());
  for (size_t i = 0; i < cpus.size(); i++) a.Set(i, Napi::Number::New(env, cpus[i]));
  return a;
}

// Runs op on id, under the registry lock when the caller insists id is one of our threads.
Napi::Value Apply(Napi::Env env, pid_t id, bool ourThread,
                  const std::function<bool(SchedErr*)>& op) {
  SchedErr e;
  bool ok = ourThread && id != 0 ? RunOnOurThread(id, &e, [&] { return op(&e); }) : op(&e);
  return ok ? Napi::Number::New(env, 0) : ErrValue(env, e);
}

Napi::Value JsCpuCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), CpuCount());
}

Napi::Value JsOnlineCpus(const Napi::CallbackInfo& info) {
  return CpuArray(info.Env(), OnlineCpus());
}

Napi::Value JsGettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CurrentTid()));
}

Napi::Value JsCurrentCpu(const Napi::CallbackInfo& info) {
  int cpu;
  SchedErr e;
  if (!CurrentCpu(&cpu, &e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), cpu);
}

Napi::Value JsGetAffinity(const Napi::CallbackInfo& info) {
  pid_t id;
  if (!ReadId(info, 0, &id)) return BadArgs(info.Env(), "expected (id)");
  CpuList cpus;
  SchedErr e;
  if (!GetAffinity(id, &cpus, &e)) return ErrValue(info.Env(), e);
  return CpuArray(info.Env(), cpus);
}

Napi::Value JsSetAffinity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t id;
  if (!ReadId(info, 0, &id) || !info[1].IsArray()) return BadArgs(env, "expected (id, cpus[])");
  Napi::Array a = info[1].As<Napi::Array>();
  CpuList cpus;
  for (uint32_t i = 0; i < a.Length(); i++) {
    int64_t c;
    if (!ReadInt(a.Get(i), 0, (1 << 20) - 1, &c)) return BadArgs(env, "cpu ids must be integers");
    cpus.push_back(static_cast<int>(c));
  }
  if (cpus.empty()) return BadArgs(env, "empty cpu set");
  return Apply(env, id, info[2].ToBoolean().Value(),
               [&](SchedErr* e) { return SetAffinity(id, cpus, e); });
}

Napi::Value JsGetScheduler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t id;
  if (!ReadId(info, 0, &id)) return BadArgs(env, "expected (id)");
  int policy, priority;
  bool reset;
  SchedErr e;
  if (!GetScheduler(id, &policy, &priority, &reset, &e)) return ErrValue(env, e);
  Napi::Object o = Napi::Object::New(env);
  o.Set("policy", Napi::String::New(env, PolicyName(policy)));
  o.Set("priority", Napi::Number::New(env, priority));
  o.Set("resetOnFork", Napi::Boolean::New(env, reset));
  return o;
}

Napi::Value JsSetScheduler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t id;
  int policy;
  int64_t priority;
  if (!ReadId(info, 0, &id) || !ReadPolicy(info[1], &policy) ||
      !ReadInt(info[2], 0, 1000, &priority)) {
    return BadArgs(env, "expected (id, policy, priority, resetOnFork, ourThread)");
  }
  bool reset = info[3].ToBoolean().Value();
  return Apply(env, id, info[4].ToBoolean().Value(), [&](SchedErr* e) {
    return SetScheduler(id, policy, static_cast<int>(priority), reset, e);
  });
}

Napi::Value JsGetNice(const Napi::CallbackInfo& info) {
  pid_t id;
  if (!ReadId(info, 0, &id)) return BadArgs(info.Env(), "expected (id)");
  int nice;
  SchedErr e;
  if (!GetNice(id, &nice, &e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), nice);
}

Napi::Value JsSetNice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t id;
  int64_t nice;
  if (!ReadId(info, 0, &id) || !ReadInt(info[1], -20, 19, &nice)) {
    return BadArgs(env, "expected (id, nice -20..19, ourThread)");
  }
  return Apply(env, id, info[2].ToBoolean().Value(),
               [&](SchedErr* e) { return SetNice(id, static_cast<int>(nice), e); });
}

Napi::Value JsPriorityRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int policy, min, max;
  if (!ReadPolicy(info[0], &policy)) return BadArgs(env, "expected (policy)");
  if (!PriorityRange(policy, &min, &max)) min = max = 0;
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, min));
  a.Set(1u, Napi::Number::New(env, max));
  return a;
}

bool ReadRlimit(const Napi::Value& v, int* resource) {
  return v.IsString() && RlimitFromName(v.As<Napi::String>().Utf8Value(), resource);
}

Napi::Value JsGetRlimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t id;
  int resource;
  if (!ReadId(info, 0, &id) || !ReadRlimit(info[1], &resource)) {
    return BadArgs(env, "expected (id, resource)");
  }
  int64_t soft, hard;
  SchedErr e;
  if (!GetRlimit(id, resource, &soft, &hard, &e)) return ErrValue(env, e);
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, static_cast<double>(soft)));
  a.Set(1u, Napi::Number::New(env, static_cast<double>(hard)));
  return a;
}

Napi::Value JsSetRlimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t id;
  int resource;
  int64_t soft, hard;
  const int64_t kMax = (int64_t{1} << 53);
  if (!ReadId(info, 0, &id) || !ReadRlimit(info[1], &resource) ||
      !ReadInt(info[2], -1, kMax, &soft) || !ReadInt(info[3], -1, kMax, &hard)) {
    return BadArgs(env, "expected (id, resource, soft, hard)");
  }
  return Apply(env, id, false, [&](SchedErr* e) { return SetRlimit(id, resource, soft, hard, e); });
}

Napi::Value JsBaseline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Baseline& b = ProcessBaseline();
  Napi::Object o = Napi::Object::New(env);
  o.Set("affinity", CpuArray(env, b.affinity));
  o.Set("policy", Napi::String::New(env, PolicyName(b.policy)));
  o.Set("priority", Napi::Number::New(env, b.priority));
  o.Set("nice", Napi::Number::New(env, b.nice));
  return o;
}

Napi::Value JsRegisterThread(const Napi::CallbackInfo& info) {
  EnvData* data = GetEnvData(info.Env());
  pid_t tid = static_cast<pid_t>(CurrentTid());
  if (data->registeredTid != 0 && data->registeredTid != tid) UnregisterThread(data->registeredTid);
  data->registeredTid = tid;
  RegisterThread(tid);
  return Napi::Number::New(info.Env(), tid);
}

Napi::Value JsSetThreadName(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) return BadArgs(info.Env(), "expected (name)");
  SchedErr e;
  if (!SetThreadName(info[0].As<Napi::String>().Utf8Value(), &e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value JsThreadStackSize(const Napi::CallbackInfo& info) {
  size_t bytes = 0;
  SchedErr e;
  if (!ThreadStackSize(&bytes, &e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), static_cast<double>(bytes));
}

}  // namespace

void RegisterThread(pid_t tid) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().insert(tid);
}

void UnregisterThread(pid_t tid) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry().erase(tid);
}

bool IsOurThread(pid_t tid) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Registry().count(tid) > 0;
}

bool RunOnOurThread(pid_t tid, SchedErr* e, const std::function<bool()>& op) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  if (Registry().count(tid) == 0) {
    e->err = ESRCH;
    e->syscall = "registry";
    return false;
  }
  return op();
}

const Baseline& ProcessBaseline() {
  // Function-local static: initialised once, thread-safely, by the first caller (the first
  // addon load in this process, see InitSched), from the main thread's settings.
  static const Baseline baseline = [] {
    Baseline b;
    SchedErr e;
    pid_t main = getpid();
    bool reset = false;
    b.valid = GetAffinity(main, &b.affinity, &e) &&
              GetScheduler(main, &b.policy, &b.priority, &reset, &e) && GetNice(main, &b.nice, &e);
    return b;
  }();
  return baseline;
}

void InitSched(Napi::Env env, Napi::Object exports) {
  ProcessBaseline();
  exports.Set("cpuCount", Napi::Function::New<JsCpuCount>(env, "cpuCount"));
  exports.Set("onlineCpus", Napi::Function::New<JsOnlineCpus>(env, "onlineCpus"));
  exports.Set("gettid", Napi::Function::New<JsGettid>(env, "gettid"));
  exports.Set("currentCpu", Napi::Function::New<JsCurrentCpu>(env, "currentCpu"));
  exports.Set("getAffinity", Napi::Function::New<JsGetAffinity>(env, "getAffinity"));
  exports.Set("setAffinity", Napi::Function::New<JsSetAffinity>(env, "setAffinity"));
  exports.Set("getScheduler", Napi::Function::New<JsGetScheduler>(env, "getScheduler"));
  exports.Set("setScheduler", Napi::Function::New<JsSetScheduler>(env, "setScheduler"));
  exports.Set("getNice", Napi::Function::New<JsGetNice>(env, "getNice"));
  exports.Set("setNice", Napi::Function::New<JsSetNice>(env, "setNice"));
  exports.Set("priorityRange", Napi::Function::New<JsPriorityRange>(env, "priorityRange"));
  exports.Set("getRlimit", Napi::Function::New<JsGetRlimit>(env, "getRlimit"));
  exports.Set("setRlimit", Napi::Function::New<JsSetRlimit>(env, "setRlimit"));
  exports.Set("baseline", Napi::Function::New<JsBaseline>(env, "baseline"));
  exports.Set("registerThread", Napi::Function::New<JsRegisterThread>(env, "registerThread"));
  exports.Set("setThreadName", Napi::Function::New<JsSetThreadName>(env, "setThreadName"));
  exports.Set("threadStackSize", Napi::Function::New<JsThreadStackSize>(env, "threadStackSize"));
}

void TeardownSched(EnvData* data) {
  if (data->registeredTid != 0) UnregisterThread(data->registeredTid);
  data->registeredTid = 0;
}

Napi::Value SchedErrValue(Napi::Env env, const SchedErr& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("errno", Napi::Number::New(env, e.err));
  o.Set("syscall", Napi::String::New(env, e.syscall));
  return o;
}

}  // namespace coreproc
