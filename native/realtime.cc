// The realtime bindings (lib/sched/realtime.ts, lib/sched/memory.ts, lib/sched/deadline.ts).
// The sleep bindings run in a loop on a realtime thread: they create no JS objects beyond the
// returned number (a Smi below 2^31 ns, so nothing on the heap) and take no lock; only a
// failure builds an { errno, syscall } object.
#include "realtime.h"

#include <errno.h>
#include <time.h>

#include <cmath>

#include "env.h"

namespace coreproc {

namespace {

Napi::Value ErrValue(Napi::Env env, const SchedErr& e) { return SchedErrValue(env, e); }

Napi::Value BadArgs(Napi::Env env, const char* what) {
  Napi::TypeError::New(env, std::string("native realtime: ") + what).ThrowAsJavaScriptException();
  return env.Undefined();
}

int64_t Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

// A nanosecond value as a bigint (exact) or a number (an integer below 2^53).
bool ReadNs(const Napi::Value& v, int64_t* out) {
  if (v.IsBigInt()) {
    bool lossless = false;
    int64_t n = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless || n < 0) return false;
    *out = n;
    return true;
  }
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d > 9007199254740992.0 || d != std::floor(d)) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

// monotonicNs() -> bigint: CLOCK_MONOTONIC, the clock sleepUntil's deadlines are on.
Napi::Value JsMonotonicNs(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), Now());
}

// sleepUntil(deadlineNs: bigint | number) -> lateness ns | { errno, syscall }
Napi::Value JsSleepUntil(const Napi::CallbackInfo& info) {
  int64_t deadline;
  if (!ReadNs(info[0], &deadline)) return BadArgs(info.Env(), "expected (deadlineNs >= 0)");
  int64_t late;
  SchedErr e;
  if (!SleepUntilNs(deadline, &late, &e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), static_cast<double>(late));
}

// sleepPeriod(state: BigInt64Array [next, interval, ticks, skipMissed, missed]) -> lateness
// ns | { errno }. Sleeps until state[0], then advances it by state[1] and counts the tick;
// with skipMissed, deadlines already past on waking are skipped (and counted in state[4]), as
// cyclictest does. The periodic() loop keeps its deadline here so the JS side never creates
// a BigInt per tick.
Napi::Value JsSleepPeriod(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) return BadArgs(env, "expected (BigInt64Array state)");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_bigint64_array || ta.ElementLength() < 5) {
    return BadArgs(env, "expected (BigInt64Array state of 5)");
  }
  int64_t* state =
      reinterpret_cast<int64_t*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  int64_t late;
  SchedErr e;
  if (!SleepUntilNs(state[0], &late, &e)) return ErrValue(env, e);
  state[0] += state[1];
  state[2] += 1;
  if (state[3] != 0 && state[1] > 0) {
    int64_t now = Now();
    while (state[0] <= now) {
      state[0] += state[1];
      state[4] += 1;
    }
  }
  return Napi::Number::New(env, static_cast<double>(late));
}

// lockMemory(onFault) -> 0 | { errno, syscall }: { ENOTSUP, "madvise" } when V8's discards
// cannot be guarded (madvise_guard_linux.cc), before anything is locked.
Napi::Value JsLockMemory(const Napi::CallbackInfo& info) {
  SchedErr e;
  if (!LockAllMemory(info[0].ToBoolean().Value(), &e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), 0);
}

// unlockMemory() -> 0 | { errno, syscall }
Napi::Value JsUnlockMemory(const Napi::CallbackInfo& info) {
  SchedErr e;
  if (!UnlockAllMemory(&e)) return ErrValue(info.Env(), e);
  return Napi::Number::New(info.Env(), 0);
}

// prefaultStack(bytes) -> bytes touched on the calling thread's stack.
Napi::Value JsPrefaultStack(const Napi::CallbackInfo& info) {
  int64_t bytes;
  if (!ReadNs(info[0], &bytes)) return BadArgs(info.Env(), "expected (bytes >= 0)");
  return Napi::Number::New(info.Env(), static_cast<double>(PrefaultStack(bytes)));
}

// setDeadline(id, runtimeNs, deadlineNs, periodNs, resetOnFork, ourThread) -> 0 | { errno }
Napi::Value JsSetDeadline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id, runtime, deadline, period;
  if (!ReadNs(info[0], &id) || id > 0x7fffffff || !ReadNs(info[1], &runtime) ||
      !ReadNs(info[2], &deadline) || !ReadNs(info[3], &period)) {
    return BadArgs(env, "expected (id, runtimeNs, deadlineNs, periodNs, resetOnFork, ourThread)");
  }
  DeadlineParams p;
  p.runtimeNs = static_cast<uint64_t>(runtime);
  p.deadlineNs = static_cast<uint64_t>(deadline);
  p.periodNs = static_cast<uint64_t>(period);
  p.flags = info[4].ToBoolean().Value() ? kSchedFlagResetOnFork : 0;
  pid_t tid = static_cast<pid_t>(id);
  SchedErr e;
  bool ourThread = info[5].ToBoolean().Value() && tid != 0;
  bool ok = ourThread ? RunOnOurThread(tid, &e, [&] { return SetDeadline(tid, p, &e); })
                      : SetDeadline(tid, p, &e);
  return ok ? Napi::Number::New(env, 0) : ErrValue(env, e);
}

// getDeadline(id) -> { policy, runtimeNs, deadlineNs, periodNs, resetOnFork } | { errno }
Napi::Value JsGetDeadline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t id;
  if (!ReadNs(info[0], &id) || id > 0x7fffffff) return BadArgs(env, "expected (id)");
  int policy;
  DeadlineParams p;
  SchedErr e;
  if (!GetSchedAttr(static_cast<pid_t>(id), &policy, &p, &e)) return ErrValue(env, e);
  Napi::Object o = Napi::Object::New(env);
  o.Set("deadline", Napi::Boolean::New(env, policy == DeadlinePolicy()));
  o.Set("runtimeNs", Napi::Number::New(env, static_cast<double>(p.runtimeNs)));
  o.Set("deadlineNs", Napi::Number::New(env, static_cast<double>(p.deadlineNs)));
  o.Set("periodNs", Napi::Number::New(env, static_cast<double>(p.periodNs)));
  o.Set("resetOnFork", Napi::Boolean::New(env, (p.flags & kSchedFlagResetOnFork) != 0));
  return o;
}

}  // namespace

void InitRealtime(Napi::Env env, Napi::Object exports) {
  exports.Set("monotonicNs", Napi::Function::New<JsMonotonicNs>(env, "monotonicNs"));
  exports.Set("sleepUntil", Napi::Function::New<JsSleepUntil>(env, "sleepUntil"));
  exports.Set("sleepPeriod", Napi::Function::New<JsSleepPeriod>(env, "sleepPeriod"));
  exports.Set("lockMemory", Napi::Function::New<JsLockMemory>(env, "lockMemory"));
  exports.Set("unlockMemory", Napi::Function::New<JsUnlockMemory>(env, "unlockMemory"));
  exports.Set("prefaultStack", Napi::Function::New<JsPrefaultStack>(env, "prefaultStack"));
  exports.Set("setDeadline", Napi::Function::New<JsSetDeadline>(env, "setDeadline"));
  exports.Set("getDeadline", Napi::Function::New<JsGetDeadline>(env, "getDeadline"));
}

}  // namespace coreproc
