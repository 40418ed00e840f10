// RAII ownership of file descriptors, and the EINTR discipline every caller shares.
// Why: every failure path in spawn must release what it opened; an owning type makes
// "nothing leaks" a property of the code shape rather than of each early return.
#pragma once

#include <errno.h>
#include <unistd.h>

namespace coreproc {

// Retries a syscall-style expression while it fails with EINTR. Never use it for close():
// on Linux the descriptor is released even when close() reports EINTR, so a retry could
// close a descriptor another thread has just been given.
template <typename F>
inline auto RetryEintr(F&& f) -> decltype(f()) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1) {
    if (fd_ >= 0) {
      int saved = errno;
      ::close(fd_);  // result deliberately ignored: see RetryEintr
      errno = saved;
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace coreproc
