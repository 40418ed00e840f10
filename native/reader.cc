// A reader for the child's stdout/stderr pipes that keeps up with the kernel. net.Socket calls
// into JS once per 64 KiB read; here one wake-up drains what the socket holds (up to 8 MiB) into
// Buffers sized by FIONREAD and read directly into (Node allocates them uninitialized, so
// there is no copy and no zero-fill), and hands them to JS in one call. Back-pressure: JS
// stops the poll handle when its stream buffer is full and restarts it from _read().
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
  Napi::FunctionReference onData;
};

namespace {

constexpr size_t kMaxChunk = 256 * 1024;
constexpr size_t kMaxPerWake = 8 * 1024 * 1024;  // then yield to the loop

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
  r->onData.Reset();
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
  if (r->grown || avail < 64 * 1024) return;
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

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  Reader* r = static_cast<Reader*>(handle->data);
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

// readerStart(fd, onData(chunks, eof, errno)) -> id. Takes ownership of fd.
Napi::Value ReaderStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvData* data = GetEnvData(env);
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto* r = new Reader;
  r->data = data;
  r->fd.Reset(fd);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    delete r;
    return Napi::Number::New(env, -e);
  }
  r->poll = new uv_poll_t;
  int rc = uv_poll_init(data->loop, r->poll, fd);
  if (rc != 0) {
    delete r->poll;
    delete r;
    return Napi::Number::New(env, rc);  // libuv errors are already negative errno
  }
  r->poll->data = r;
  r->id = data->nextTimerId++;
  r->onData = Napi::Persistent(info[1].As<Napi::Function>());
  data->readers.emplace(r->id, r);
  uv_poll_start(r->poll, UV_READABLE, OnReadable);
  r->polling = true;
  return Napi::Number::New(env, r->id);
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

Napi::Value ReaderClose(const Napi::CallbackInfo& info) {
  Reader* r = Find(info);
  if (r != nullptr) CloseReader(r);
  return info.Env().Undefined();
}

}  // namespace

void InitReaders(Napi::Env env, Napi::Object exports) {
  exports.Set("readerStart", Napi::Function::New<ReaderStart>(env, "readerStart"));
  exports.Set("readerPause", Napi::Function::New<ReaderPause>(env, "readerPause"));
  exports.Set("readerResume", Napi::Function::New<ReaderResume>(env, "readerResume"));
  exports.Set("readerRef", Napi::Function::New<ReaderRef>(env, "readerRef"));
  exports.Set("readerClose", Napi::Function::New<ReaderClose>(env, "readerClose"));
}

void TeardownReaders(EnvData* data) { CloseAll(data->readers, CloseReader); }

}  // namespace coreproc
