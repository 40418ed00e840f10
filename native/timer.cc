// One-shot timers with sub-millisecond precision for wait({ timeout }). libuv timers have
// millisecond granularity and fire on the loop's cached clock, which makes a 50 ms wait
// up to ~1-2 ms late; a CLOCK_MONOTONIC timerfd watched by uv_poll fires within tens of
// microseconds. Other platforms use a uv_timer_t (millisecond precision).
#include <errno.h>
#include <string.h>

#include <memory>
#include <string>

#ifdef __linux__
#include <sys/timerfd.h>
#endif

#include "callback.h"
#include "env.h"

namespace coreproc {

struct Timer {
  EnvData* data = nullptr;
  uint32_t id = 0;
  UniqueFd fd;
  uv_handle_t* handle = nullptr;
  Napi::FunctionReference callback;
};

namespace {

void OnTimerClosed(uv_handle_t* handle) {
  Timer* t = static_cast<Timer*>(handle->data);
#ifdef __linux__
  delete reinterpret_cast<uv_poll_t*>(handle);
#else
  delete reinterpret_cast<uv_timer_t*>(handle);
#endif
  EnvData* data = t->data;
  delete t;  // closes the timerfd after its poll handle (pitfall 8)
  CloseDone(data);
}

void CloseTimer(Timer* t) {
  t->data->timers.erase(t->id);
  t->callback.Reset();
#ifdef __linux__
  uv_poll_stop(reinterpret_cast<uv_poll_t*>(t->handle));
#else
  uv_timer_stop(reinterpret_cast<uv_timer_t*>(t->handle));
#endif
  t->data->pendingCloses++;
  uv_close(t->handle, OnTimerClosed);
}

void Fire(Timer* t) {
  Napi::FunctionReference cb = std::move(t->callback);
  CloseTimer(t);
  if (cb.IsEmpty()) return;
  Napi::Env env = cb.Env();
  Napi::HandleScope scope(env);
  CallJs(env, cb, {});
}

#ifdef __linux__
void OnTimerfd(uv_poll_t* handle, int /*status*/, int /*events*/) {
  Timer* t = static_cast<Timer*>(handle->data);
  uint64_t expirations;
  ssize_t n = read(t->fd.Get(), &expirations, sizeof expirations);
  if (n < 0 && errno == EAGAIN) return;  // spurious wake-up
  Fire(t);
}
#else
void OnUvTimer(uv_timer_t* handle) { Fire(static_cast<Timer*>(handle->data)); }
#endif

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// lib/ refuses timeouts above 2^31-1 ms; the binding still bounds what it converts, since a
// double past INT64_MAX nanoseconds cast to int64_t is undefined behaviour.
constexpr double kMaxTimerMs = 1e12;  // about 31 years

// timerStart(ms, callback) -> id. The callback runs once, unless cancelled first.
Napi::Value TimerStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "timerStart: expected (ms, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  double ms = info[0].As<Napi::Number>().DoubleValue();
  if (!(ms >= 0)) ms = 0;  // NaN too
  if (ms > kMaxTimerMs) ms = kMaxTimerMs;
  std::unique_ptr<Timer> t(new Timer);
  t->data = data;
  t->id = data->nextTimerId++;
#ifdef __linux__
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "timerfd_create", errno);
  t->fd.Reset(fd);
  struct itimerspec spec;
  memset(&spec, 0, sizeof spec);
  int64_t ns = static_cast<int64_t>(ms * 1e6);
  if (ns == 0) ns = 1;  // a zero it_value disarms the timer
  spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000LL);
  spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000LL);
  if (timerfd_settime(fd, 0, &spec, nullptr) != 0) return ThrowErrno(env, "timerfd_settime", errno);
  auto* poll = new uv_poll_t;
  int rc = uv_poll_init(data->loop, poll, fd);
  if (rc != 0) {
    delete poll;  // never initialised: nothing for libuv to close
    return ThrowErrno(env, "uv_poll_init", -rc);
  }
  poll->data = t.get();
  t->handle = reinterpret_cast<uv_handle_t*>(poll);
  rc = uv_poll_start(poll, UV_READABLE, OnTimerfd);
#else
  auto* timer = new uv_timer_t;
  uv_timer_init(data->loop, timer);
  timer->data = t.get();
  t->handle = reinterpret_cast<uv_handle_t*>(timer);
  int rc = uv_timer_start(timer, OnUvTimer, static_cast<uint64_t>(ms + 0.999), 0);
#endif
  t->callback = Napi::Persistent(info[1].As<Napi::Function>());
  Timer* raw = t.release();  // owned by data->timers; CloseTimer frees it
  data->timers.emplace(raw->id, raw);
  if (rc != 0) {
    CloseTimer(raw);
    return ThrowErrno(env, "uv_poll_start", -rc);
  }
  return Napi::Number::New(env, raw->id);
}

Napi::Value TimerCancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto it = data->timers.find(id);
  if (it == data->timers.end()) return Napi::Boolean::New(env, false);
  CloseTimer(it->second);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitTimers(Napi::Env env, Napi::Object exports) {
  exports.Set("timerStart", Napi::Function::New<TimerStart>(env, "timerStart"));
  exports.Set("timerCancel", Napi::Function::New<TimerCancel>(env, "timerCancel"));
}

void TeardownTimers(EnvData* data) { CloseAll(data->timers, CloseTimer); }

}  // namespace coreproc
