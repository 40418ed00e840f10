// spawnSync's output loop, for lib/child_process: drains a child's output pipes and feeds
// its stdin from one blocking poll() loop on the calling thread, so spawnSync/execSync never
// need a JS event loop turn. The deadline and maxBuffer are checked here; when either is hit
// the JS callback runs synchronously (it kills the child) and draining continues to EOF, as
// Node's SyncProcessRunner does. Plain POSIX (poll, read, write, socketpair): the same code
// on Linux and macOS.
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fd.h"

namespace coreproc {

namespace {

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

// socketpair() -> [ours, theirs] (AF_UNIX stream, both CLOEXEC) or -errno. The IPC channel and
// extra stdio pipes of node:child_process are socketpairs; JS owns both descriptors.
Napi::Value Socketpair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int p[2];
#ifdef SOCK_CLOEXEC
  int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p);
#else
  int rc = socketpair(AF_UNIX, SOCK_STREAM, 0, p);
  if (rc == 0) {
    for (int fd : p) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
#endif
  if (rc != 0) return Napi::Number::New(env, -errno);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, p[0]));
  out.Set(1u, Napi::Number::New(env, p[1]));
  return out;
}

// setBlocking(fd) -> 0 or -errno: clears O_NONBLOCK on the open file description. A stream
// handed to a child as fd 0..2 must read and write blocking there, as libuv's child setup
// makes it (uv__process_child_init clears O_NONBLOCK on the child's stdio; the description is
// shared, so doing it here before the spawn is the same).
Napi::Value SetBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "setBlocking: expected (fd)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return Napi::Number::New(env, -errno);
  if ((flags & O_NONBLOCK) != 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return Napi::Number::New(env, -errno);
  }
  return Napi::Number::New(env, 0);
}

struct Sink {
  UniqueFd fd;
  std::string data;
};

// Reads what is there now, at most 1 MiB per wake-up so a child that never pauses cannot
// keep us from the deadline and maxBuffer checks; false at EOF or on an error (*err set).
bool Drain(Sink* s, int* err) {
  char buf[65536];
  for (int round = 0; round < 16; round++) {
    ssize_t n = read(s->fd.Get(), buf, sizeof buf);
    if (n > 0) {
      s->data.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    // ECONNRESET on a socketpair whose writer died is how EOF can look: not an error.
    if (errno != ECONNRESET) *err = errno;
    return false;
  }
  return true;
}

// collectSync(fds [in, out, err, fd3...] (-1 none, each taken over), input Buffer|undefined,
//             timeoutMs (-1 none), maxBuffer (-1 none), onLimit(reason))
//   -> { output: [null, Buffer|null, Buffer|null, ...], errno }
// Every fd from 1 up is drained to EOF, as Node's SyncProcessRunner collects every 'pipe'
// entry of stdio (fd 3 and up included) into output[i].
Napi::Value CollectSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsArray() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsFunction()) {
    Napi::TypeError::New(env, "collectSync: expected (fds, input, timeoutMs, maxBuffer, onLimit)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array fdArr = info[0].As<Napi::Array>();
  const uint32_t count = fdArr.Length();
  UniqueFd in(count > 0 ? fdArr.Get(0u).As<Napi::Number>().Int32Value() : -1);
  // sinks[k] is the child's fd k + 1.
  std::vector<Sink> sinks(count > 1 ? count - 1 : 0);
  std::vector<bool> hasOut(sinks.size());
  for (uint32_t k = 0; k < sinks.size(); k++) {
    sinks[k].fd.Reset(fdArr.Get(k + 1).As<Napi::Number>().Int32Value());
    hasOut[k] = sinks[k].fd.Valid();
  }
  const uint8_t* input = nullptr;
  size_t inputLen = 0;
  if (info[1].IsBuffer()) {
    auto b = info[1].As<Napi::Buffer<uint8_t>>();
    input = b.Data();
    inputLen = b.Length();
  }
  double timeoutMs = info[2].As<Napi::Number>().DoubleValue();
  double maxBuffer = info[3].As<Napi::Number>().DoubleValue();
  Napi::Function onLimit = info[4].As<Napi::Function>();

  int err = 0;
  if (in.Valid() && !SetNonBlocking(in.Get())) err = errno;
  for (Sink& s : sinks) {
    if (s.fd.Valid() && !SetNonBlocking(s.fd.Get()) && err == 0) err = errno;
  }
  // Nothing to write: the child sees EOF on stdin at once, as with Node's spawnSync.
  if (inputLen == 0) in.Reset();
  size_t written = 0;
  const int64_t deadline = timeoutMs >= 0 ? NowMs() + static_cast<int64_t>(timeoutMs) : -1;
  bool timeoutFired = false;
  bool limitFired = false;

  auto fire = [&](const char* reason) -> bool {
    onLimit.Call({Napi::String::New(env, reason)});
    return !env.IsExceptionPending();
  };
  auto anyOpen = [&]() {
    if (in.Valid()) return true;
    for (const Sink& s : sinks) {
      if (s.fd.Valid()) return true;
    }
    return false;
  };

  std::vector<struct pollfd> pfd(sinks.size() + 1);
  std::vector<size_t> which(sinks.size() + 1);  // 0: stdin, k + 1: sinks[k]
  while (err == 0 && anyOpen()) {
    size_t n = 0;
    if (in.Valid()) {
      pfd[n] = {in.Get(), POLLOUT, 0};
      which[n++] = 0;
    }
    for (size_t k = 0; k < sinks.size(); k++) {
      if (!sinks[k].fd.Valid()) continue;
      pfd[n] = {sinks[k].fd.Get(), POLLIN, 0};
      which[n++] = k + 1;
    }
    int wait = -1;
    if (deadline >= 0 && !timeoutFired) {
      int64_t left = deadline - NowMs();
      wait = left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : static_cast<int>(left);
    }
    int r = poll(pfd.data(), static_cast<nfds_t>(n), wait);
    if (r < 0) {
      if (errno == EINTR) continue;  // the deadline is recomputed from the clock above
      err = errno;
      break;
    }
    if (r == 0) {
      timeoutFired = true;
      if (!fire("timeout")) return env.Undefined();
      continue;
    }
    for (size_t k = 0; k < n; k++) {
      if (pfd[k].revents == 0) continue;
      if (which[k] == 0) {
        while (written < inputLen) {
          ssize_t w = write(in.Get(), input + written, inputLen - written);
          if (w > 0) {
            written += static_cast<size_t>(w);
            continue;
          }
          if (w < 0 && errno == EINTR) continue;
          if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
          // The child closed its stdin (EPIPE, ECONNRESET): it does not want the rest.
          written = inputLen;
        }
        if (written >= inputLen) in.Reset();
        continue;
      }
      Sink* s = &sinks[which[k] - 1];
      if (!Drain(s, &err)) s->fd.Reset();
      if (!limitFired && maxBuffer >= 0 && static_cast<double>(s->data.size()) > maxBuffer) {
        limitFired = true;
        if (!fire("maxBuffer")) return env.Undefined();
      }
    }
  }

  Napi::Array output = Napi::Array::New(env, sinks.size() + 1);
  output.Set(0u, env.Null());
  for (size_t k = 0; k < sinks.size(); k++) {
    Napi::Value v = env.Null();
    if (hasOut[k]) v = Napi::Buffer<char>::Copy(env, sinks[k].data.data(), sinks[k].data.size());
    output.Set(static_cast<uint32_t>(k + 1), v);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("output", output);
  out.Set("errno", Napi::Number::New(env, err));
  return out;
}

}  // namespace

void InitSyncCollect(Napi::Env env, Napi::Object exports) {
  exports.Set("socketpair", Napi::Function::New<Socketpair>(env, "socketpair"));
  exports.Set("collectSync", Napi::Function::New<CollectSync>(env, "collectSync"));
  exports.Set("setBlocking", Napi::Function::New<SetBlocking>(env, "setBlocking"));
}

}  // namespace coreproc
