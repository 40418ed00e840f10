// A reader for the child's stdout/stderr pipes that keeps up with the kernel. net.Socket calls
// into JS once per 64 KiB read; here one wake-up drains what the socket holds (up to 8 MiB) into
// Buffers sized by FIONREAD and read directly into (Node allocates them uninitialized, so
// there is no copy and no zero-fill), and hands them to JS in one call. Back-pressure: JS
// stops the poll handle when its stream buffer is full and restarts it from _read().
//
// The second mode, readerStartInto, reads into one caller-owned buffer (the `onread` stdio of
// lib/process, net.Socket's idiom): each read() lands on pages that are already mapped, and JS
// is called once per read with the count. A fresh Buffer per read costs a page fault and a
// kernel zero-fill per 4 KiB, which on this VM is the whole gap to a C read() loop (issue 18).
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "callback.h"
#include "env.h"

namespace coreproc {

struct Reader {
  EnvData* data = nullptr;
  uint32_t id = 0;
  UniqueFd fd;
  uv_poll_t* poll = nullptr;
  bool polling = false;
  bool grown = false;
  int growChecks = 0;
  bool grow = true;     // false: the caller chose the pipe size (pipeSize), keep it
  bool closed = false;  // CloseReader ran (possibly from inside a JS callback)
  Napi::FunctionReference onData;
  // readerStartInto: the caller's buffer, held so its memory stays put while we read into it.
  bool into = false;
  Napi::Reference<Napi::Value> buffer;
  uint8_t* bufData = nullptr;
  size_t bufLen = 0;
};

namespace {

constexpr size_t kMaxChunk = 256 * 1024;
constexpr size_t kMaxPerWake = 8 * 1024 * 1024;  // then yield to the loop
constexpr int kMaxReadsPerWake = 256;

Reader* Find(const Napi::CallbackInfo& info) {
  EnvData* data = GetEnvData(info.Env());
  auto it = data->readers.find(info[0].As<Napi::Number>().Uint32Value());
  return it == data->readers.end() ? nullptr : it->second;
}

void OnReaderClosed(uv_handle_t* handle) {
  Reader* r = static_cast<Reader*>(handle->data);
  delete reinterpret_cast<uv_poll_t*>(handle);
  EnvData* data = r->data;
  delete r;  // closes the fd after its poll handle (pitfall 8)
  CloseDone(data);
}

void CloseReader(Reader* r) {
  r->data->readers.erase(r->id);
  r->closed = true;
  r->onData.Reset();
  r->buffer.Reset();
  uv_poll_stop(r->poll);
  r->data->pendingCloses++;
  uv_close(reinterpret_cast<uv_handle_t*>(r->poll), OnReaderClosed);
}

// A writer that fills the default 64 KiB pipe is a bulk writer: enlarge its pipe so each
// cross-CPU wake-up moves up to a megabyte, not 64 KiB (1 GiB, median of 6, unpinned: 1.1 ->
// 1.6 GB/s here). Only then, because pipe capacity counts against the user's
// pipe-user-pages limits. Beyond /proc/sys/fs/pipe-max-size (1 MiB) needs CAP_SYS_RESOURCE,
// which this sandbox's root lacks (EPERM): then 1 MiB it is.
void GrowPipe(Reader* r, int avail) {
#ifdef F_SETPIPE_SZ
  if (!r->grow || r->grown || avail < 64 * 1024) return;
  r->grown = true;
  if (fcntl(r->fd.Get(), F_SETPIPE_SZ, 4 * 1024 * 1024) < 0) {
    fcntl(r->fd.Get(), F_SETPIPE_SZ, 1024 * 1024);  // best effort: the pipe works either way
  }
#else
  (void)r;
  (void)avail;
#endif
}

// Reads one chunk. Returns bytes read (>0), 0 at EOF, or -errno (-EAGAIN: drained).
ssize_t ReadChunk(Napi::Env env, Reader* r, Napi::Value* chunk) {
  int fd = r->fd.Get();
  int avail = 0;
  if (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0) {
    GrowPipe(r, avail);
    size_t want = static_cast<size_t>(avail) < kMaxChunk ? static_cast<size_t>(avail) : kMaxChunk;
    void* data = nullptr;
    napi_value buf;
    if (napi_create_buffer(env, want, &data, &buf) != napi_ok) return -ENOMEM;
    ssize_t n = RetryEintr([&] { return read(fd, data, want); });
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) == want) {
      *chunk = Napi::Value(env, buf);
    } else if (n > 0) {  // someone else read in between: keep only what we got
      *chunk = Napi::Buffer<char>::Copy(env, static_cast<char*>(data), static_cast<size_t>(n));
    }
    return n;
  }
  // Nothing buffered: EOF, an error, or a spurious wake-up. A small read tells which.
  char small[4096];
  ssize_t n = RetryEintr([&] { return read(fd, small, sizeof small); });
  if (n < 0) return -errno;
  if (n > 0) *chunk = Napi::Buffer<char>::Copy(env, small, static_cast<size_t>(n));
  return n;
}

// Takes a Uint8Array (a Buffer is one) as the buffer to read into. False when v is not one or
// is empty: reading 0 bytes would look like EOF.
bool SetBuffer(Reader* r, Napi::Value v) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array u8 = v.As<Napi::Uint8Array>();
  if (u8.ElementLength() == 0) return false;
  r->bufData = u8.Data();
  r->bufLen = u8.ElementLength();
  r->buffer = Napi::Reference<Napi::Value>::New(v, 1);
  return true;
}

void StopPolling(Reader* r) {
  if (r->polling) {
    uv_poll_stop(r->poll);
    r->polling = false;
  }
}

// Calls onRead(n) and applies its answer: false pauses, a Uint8Array becomes the buffer for
// the next read, anything else continues. A JS exception (the lib's wrapper catches the
// caller's own) goes to 'uncaughtException' and stops this wake-up. Returns true to go on.
bool DeliverInto(Napi::Env env, Reader* r, double n) {
  Napi::HandleScope scope(env);  // one per call: a wake-up may make hundreds
  napi_value arg = Napi::Number::New(env, n);
  napi_value result;
  napi_status st =
      napi_make_callback(env, nullptr, env.Global(), r->onData.Value(), 1, &arg, &result);
  if (st != napi_ok) {
    bool pending = false;
    napi_value error;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &error) == napi_ok) {
      napi_valuetype type;
      if (napi_typeof(env, error, &type) == napi_ok && type != napi_undefined) {
        napi_fatal_exception(env, error);
      }
    }
    return false;
  }
  if (r->closed) return false;  // the callback closed us: r stays valid until the uv close
  Napi::Value answer(env, result);
  if (answer.IsBoolean() && !answer.As<Napi::Boolean>().Value()) {
    StopPolling(r);
    return false;
  }
  if (answer.IsTypedArray() && !SetBuffer(r, answer)) {
    // The lib checks the buffer the caller gave; this is the binding's own guard.
    napi_value e = Napi::Number::New(env, -EINVAL);
    napi_make_callback(env, nullptr, env.Global(), r->onData.Value(), 1, &e, &result);
    return false;
  }
  return r->polling && !r->closed;
}

// readerStartInto mode: read() straight into the caller's buffer until the pipe is drained,
// the caller pauses, or a wake-up's budget is spent (then the loop gets its turn).
void OnReadableInto(uv_poll_t* handle, int status) {
  Reader* r = static_cast<Reader*>(handle->data);
  Napi::Env env = r->onData.Env();
  if (status < 0) {
    DeliverInto(env, r, status);
    return;
  }
  size_t total = 0;
  // Bounded in bytes and in calls (a 1-byte buffer must not hold the loop for 8 M calls).
  for (int reads = 0; total < kMaxPerWake && reads < kMaxReadsPerWake; reads++) {
    int fd = r->fd.Get();
    ssize_t n = RetryEintr([&] { return read(fd, r->bufData, r->bufLen); });
    if (n < 0 && errno == EAGAIN) return;  // drained
    if (n < 0) {
      DeliverInto(env, r, -errno);
      return;
    }
    if (n == 0) {
      DeliverInto(env, r, 0);  // EOF: JS closes us
      return;
    }
    // A bulk writer (it filled our buffer and more is waiting) gets a bigger pipe, as in the
    // stream mode; asked a few times at most, so a trickle costs no extra syscall per read.
    if (r->grow && !r->grown && r->growChecks < 8 && static_cast<size_t>(n) == r->bufLen) {
      r->growChecks++;
      int avail = 0;
      if (ioctl(fd, FIONREAD, &avail) == 0) GrowPipe(r, avail + static_cast<int>(n));
    }
    total += static_cast<size_t>(n);
    if (!DeliverInto(env, r, static_cast<double>(n))) return;
  }
}

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  Reader* r = static_cast<Reader*>(handle->data);
  if (r->into) {
    OnReadableInto(handle, status);
    return;
  }
  Napi::Env env = r->onData.Env();
  Napi::HandleScope scope(env);
  Napi::Array chunks = Napi::Array::New(env);
  uint32_t count = 0;
  size_t total = 0;
  bool eof = false;
  int err = status < 0 ? -status : 0;
  while (err == 0 && total < kMaxPerWake) {
    Napi::Value chunk;
    ssize_t n = ReadChunk(env, r, &chunk);
    if (n > 0) {
      chunks.Set(count++, chunk);
      total += static_cast<size_t>(n);
    } else if (n == 0) {
      eof = true;
    } else if (n != -EAGAIN) {
      err = static_cast<int>(-n);
    }
    if (n <= 0) break;
  }
  if (count == 0 && !eof && err == 0) return;  // spurious wake-up
  CallJs(env, r->onData, {chunks, Napi::Boolean::New(env, eof), Napi::Number::New(env, err)});
}

// Sets fd non-blocking and starts polling it for r (which owns fd from the start, so every
// failure closes it). Returns the reader id, or -errno with r deleted.
int64_t StartReader(Napi::Env env, Reader* r, int fd, Napi::Value onData) {
  EnvData* data = GetEnvData(env);
  r->data = data;
  r->fd.Reset(fd);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    delete r;
    return -e;
  }
  r->poll = new uv_poll_t;
  int rc = uv_poll_init(data->loop, r->poll, fd);
  if (rc != 0) {
    delete r->poll;
    delete r;
    return rc;  // libuv errors are already negative errno
  }
  r->poll->data = r;
  r->id = data->nextTimerId++;
  r->onData = Napi::Persistent(onData.As<Napi::Function>());
  data->readers.emplace(r->id, r);
  uv_poll_start(r->poll, UV_READABLE, OnReadable);
  r->polling = true;
  return r->id;
}

// readerStart(fd, onData(chunks, eof, errno), grow = true) -> id. Takes ownership of fd.
// grow false: leave the pipe at the size the caller chose (spawn's pipeSize).
Napi::Value ReaderStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto* r = new Reader;
  r->grow = info.Length() < 3 || info[2].ToBoolean().Value();
  return Napi::Number::New(env, StartReader(env, r, fd, info[1]));
}

// readerStartInto(fd, buffer, onRead(n), grow = true) -> id. Takes ownership of fd. Each read
// lands in `buffer` (a Uint8Array) and calls onRead(n): n > 0 bytes, 0 EOF, -errno error.
// onRead answers false to pause, a Uint8Array to read into that from now on, else anything.
Napi::Value ReaderStartInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto* r = new Reader;
  r->into = true;
  r->grow = info.Length() < 4 || info[3].ToBoolean().Value();
  if (!SetBuffer(r, info[1])) {
    delete r;
    close(fd);  // ownership was ours from the call on, as in every other failure
    return Napi::Number::New(env, -EINVAL);
  }
  return Napi::Number::New(env, StartReader(env, r, fd, info[2]));
}

Napi::Value ReaderPause(const Napi::CallbackInfo& info) {
  Reader* r = Find(info);
  if (r != nullptr && r->polling) {
    uv_poll_stop(r->poll);
    r->polling = false;
  }
  return info.Env().Undefined();
}

Napi::Value ReaderResume(const Napi::CallbackInfo& info) {
  Reader* r = Find(info);
  if (r != nullptr && !r->polling) {
    uv_poll_start(r->poll, UV_READABLE, OnReadable);
    r->polling = true;
  }
  return info.Env().Undefined();
}

Napi::Value ReaderRef(const Napi::CallbackInfo& info) {
  Reader* r = Find(info);
  if (r != nullptr) {
    auto* h = reinterpret_cast<uv_handle_t*>(r->poll);
    info[1].ToBoolean().Value() ? uv_ref(h) : uv_unref(h);
  }
  return info.Env().Undefined();
}

// readerDetach(id) -> fd | -errno: stops reading and hands the descriptor over (pipeTo
// moves the rest off the JS thread). The caller owns the returned duplicate; ours closes
// after the poll handle, as always (pitfall 8).
Napi::Value ReaderDetach(const Napi::CallbackInfo& info) {
  Reader* r = Find(info);
  if (r == nullptr) return Napi::Number::New(info.Env(), -EBADF);
  int fd = fcntl(r->fd.Get(), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return Napi::Number::New(info.Env(), -errno);
  CloseReader(r);
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value ReaderClose(const Napi::CallbackInfo& info) {
  Reader* r = Find(info);
  if (r != nullptr) CloseReader(r);
  return info.Env().Undefined();
}

}  // namespace

void InitReaders(Napi::Env env, Napi::Object exports) {
  exports.Set("readerStart", Napi::Function::New<ReaderStart>(env, "readerStart"));
  exports.Set("readerStartInto", Napi::Function::New<ReaderStartInto>(env, "readerStartInto"));
  exports.Set("readerPause", Napi::Function::New<ReaderPause>(env, "readerPause"));
  exports.Set("readerResume", Napi::Function::New<ReaderResume>(env, "readerResume"));
  exports.Set("readerRef", Napi::Function::New<ReaderRef>(env, "readerRef"));
  exports.Set("readerClose", Napi::Function::New<ReaderClose>(env, "readerClose"));
  exports.Set("readerDetach", Napi::Function::New<ReaderDetach>(env, "readerDetach"));
}

void TeardownReaders(EnvData* data) { CloseAll(data->readers, CloseReader); }

}  // namespace coreproc
