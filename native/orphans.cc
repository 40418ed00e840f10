// The process-wide reaper for children whose environment (a worker thread, usually) went
// away while they ran. Without it they would stay zombies until the whole process exits,
// because nobody else may reap them: we never waitpid(-1).
// The reaper's state is deliberately leaked: it must outlive static destruction at exit.
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <mutex>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

#include "env.h"

namespace coreproc {

namespace {

// Node unloads an addon when the last environment that loaded it goes away, e.g. a worker
// that was its only user. Our reaper threads run code from this file after that moment, so
// pin the library in memory for the life of the process before starting any of them.
void PinAddonInMemory() {
  static const bool pinned = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinAddonInMemory), &info) == 0 || !info.dli_fname) {
      return false;
    }
    // A second reference that is never dropped; RTLD_NODELETE makes that explicit.
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
  }();
  (void)pinned;
}

#ifdef __linux__
struct Reaper {
  std::mutex mu;
  std::vector<int> incoming;  // pidfds waiting to be added
  int epfd = -1;
  int wake = -1;
};

void ReaperLoop(Reaper* r) {
  // Only this thread touches the epoll set after start.
  for (;;) {
    struct epoll_event events[16];
    int n = epoll_wait(r->epfd, events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == r->wake) {
        uint64_t v;
        ssize_t got = read(r->wake, &v, sizeof v);
        (void)got;
        std::vector<int> add;
        {
          std::lock_guard<std::mutex> lock(r->mu);
          add.swap(r->incoming);
        }
        for (int pidfd : add) {
          struct epoll_event ev {};
          ev.events = EPOLLIN;
          ev.data.fd = pidfd;
          if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, pidfd, &ev) != 0) close(pidfd);
        }
        continue;
      }
      ExitInfo info;
      if (ReapPidfd(fd, false, &info) != 0) {
        epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
      }
    }
  }
}

Reaper* StartReaper() {
  auto* r = new Reaper;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->epfd < 0 || r->wake < 0) return nullptr;
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.fd = r->wake;
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->wake, &ev) != 0) return nullptr;
  // The reaper must not take signals meant for Node's threads.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread(ReaperLoop, r).detach();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return r;
}
#endif

}  // namespace

void AdoptOrphan(pid_t pid, int pidfd) {
  PinAddonInMemory();
#ifdef __linux__
  if (pidfd >= 0) {
    static Reaper* reaper = StartReaper();
    if (reaper != nullptr) {
      {
        std::lock_guard<std::mutex> lock(reaper->mu);
        reaper->incoming.push_back(pidfd);
      }
      uint64_t one = 1;
      ssize_t w = write(reaper->wake, &one, sizeof one);
      (void)w;
      return;
    }
    close(pidfd);
  }
#else
  (void)pidfd;
#endif
  // No pidfd: a blocking wait4 on a thread of its own (rare: fallback mode only).
  std::thread([pid] {
    ExitInfo info;
    ReapPid(pid, true, &info);
  }).detach();
}

}  // namespace coreproc
