// Parent-side preparation shared by every spawn path: program resolution and the stdio
// plan. Runs before any child exists, so it may allocate and fail freely.
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "spawn.h"
#include "sys.h"

namespace coreproc {

int DevNullFd() {
  // One process-wide CLOEXEC descriptor, dup2'ed into children: saves an open() in every
  // child that asks for 'null'. Racing first callers both open; the loser closes its copy.
  static std::atomic<int> cached{-1};
  int fd = cached.load(std::memory_order_acquire);
  if (fd >= 0) return fd;
  int opened = RetryEintr([] { return open("/dev/null", O_RDWR | O_CLOEXEC); });
  if (opened < 0) return -1;
  if (opened < 3) {  // never keep a source in the 0..2 target range
    int high = fcntl(opened, F_DUPFD_CLOEXEC, 3);
    close(opened);
    if (high < 0) return -1;
    opened = high;
  }
  int expected = -1;
  if (!cached.compare_exchange_strong(expected, opened, std::memory_order_acq_rel)) {
    close(opened);
    return expected;
  }
  return opened;
}

bool CwdIsUsable(const std::string& cwd) {
  struct stat st;
  if (stat(cwd.c_str(), &st) != 0) return false;
  return S_ISDIR(st.st_mode) && access(cwd.c_str(), X_OK) == 0;
}

bool ResolveProgram(const SpawnRequest& req, std::string* path, SpawnError* error) {
  if (req.file.find('/') != std::string::npos) {
    *path = req.file;
    return true;
  }
  bool sawEacces = false;
  size_t start = 0;
  const std::string& sp = req.searchPath;
  std::string candidate;
  while (start <= sp.size()) {
    size_t end = sp.find(':', start);
    if (end == std::string::npos) end = sp.size();
    // An empty PATH entry means the current directory, as in execvp.
    candidate.assign(sp, start, end - start);
    if (candidate.empty()) candidate = ".";
    candidate += '/';
    candidate += req.file;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0) {
      if (S_ISREG(st.st_mode) && access(candidate.c_str(), X_OK) == 0) {
        *path = candidate;
        return true;
      }
      sawEacces = true;
    } else if (errno == EACCES) {
      sawEacces = true;
    }
    start = end + 1;
  }
  error->err = sawEacces ? EACCES : ENOENT;
  error->syscall = "execve";
  error->stage = "resolve";
  error->path = req.file;
  return false;
}

// pipe2(O_CLOEXEC) where it exists; macOS has no pipe2, so set the flags right after (a
// concurrent fork in another thread could see them without CLOEXEC, as in libuv there).
static int PipeCloexec(int p[2]) {
#ifdef __linux__
  return pipe2(p, O_CLOEXEC);
#else
  if (pipe(p) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    if (fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0) {
      int e = errno;
      close(p[0]);
      close(p[1]);
      errno = e;
      return -1;
    }
  }
  return 0;
#endif
}

static int SocketpairCloexec(int p[2]) {
#ifdef SOCK_CLOEXEC
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p);
#else
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) != 0) return -1;
  for (int i = 0; i < 2; i++) fcntl(p[i], F_SETFD, FD_CLOEXEC);
  return 0;
#endif
}

// The caller's pipeSize, set before the child can write a byte. Above
// /proc/sys/fs/pipe-max-size the kernel wants CAP_SYS_RESOURCE (EPERM), and a user over its
// pipe-user-pages-hard budget gets EPERM too: the path names the limit to look at.
static bool SetPipeSize(int fd, int size, SpawnError* error) {
#ifdef F_SETPIPE_SZ
  if (fcntl(fd, F_SETPIPE_SZ, size) >= 0) return true;
  *error = {errno, "fcntl(F_SETPIPE_SZ)", "pipe-size", "/proc/sys/fs/pipe-max-size"};
#else
  (void)fd;
  (void)size;
  *error = {ENOTSUP, "fcntl(F_SETPIPE_SZ)", "pipe-size", ""};
#endif
  return false;
}

static int EnsureHigh(int fd, UniqueFd* owned) {
  if (fd >= 3) return fd;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (high >= 0) owned->Reset(high);
  return high;
}

static bool PrepareExtraFds(const SpawnRequest& req, StdioPlan* plan, SpawnError* error) {
  const int count = static_cast<int>(req.extraFds.size());
  plan->extraSource.assign(req.extraFds.size(), -1);
  plan->extraOwned.resize(req.extraFds.size());
  bool sawClosed = false;
  for (int i = 0; i < count; i++) {
    int fd = req.extraFds[i];
    if (fd < 0) {
      sawClosed = true;
      continue;
    }
    if (sawClosed) plan->extraHoles = true;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3 + count);
    if (high < 0) {
      *error = {errno, "fcntl", "stdio", ""};
      return false;
    }
    plan->extraOwned[i].Reset(high);
    plan->extraSource[i] = high;
  }
  return true;
}

bool PrepareStdio(const SpawnRequest& req, StdioPlan* plan, SpawnError* error) {
  for (int i = 0; i < 3; i++) {
    const StdioSpec& s = req.stdio[i];
    int src = -1;
    switch (s.kind) {
      case StdioKind::SameAsStdout:
        // Only stderr may follow stdout, whose source is settled by now (i == 1 came first).
        if (i != 2) {
          *error = {EINVAL, "stdio", "stdio", ""};
          return false;
        }
        plan->source[2] = plan->source[1];
        continue;
      case StdioKind::Inherit:
        // Node marks its own 0..2 close-on-exec; "inherit" must clear that in the child
        // (a dup2 onto itself does, in posix_spawn and in our clone child alike).
        plan->source[i] = i;
        continue;
      case StdioKind::Null:
        src = DevNullFd();
        if (src < 0) {
          *error = {errno, "open", "stdio", "/dev/null"};
          return false;
        }
        break;
      case StdioKind::Pipe:
      case StdioKind::Socketpair: {
        // 'pipe' is a real pipe: the child keeps Unix semantics (SIGPIPE when the reader goes
        // away, /dev/stdout opens). 'socketpair' is what libuv gives child_process: on this
        // kernel it moves bulk data 2-4x faster (bench scenario 4), but a writer whose reader
        // left early gets ECONNRESET rather than SIGPIPE, and /dev/stdout fails with ENXIO.
        int p[2];
        bool isPipe = s.kind == StdioKind::Pipe;
        int rc = isPipe ? PipeCloexec(p) : SocketpairCloexec(p);
        if (rc != 0) {
          *error = {errno, isPipe ? "pipe2" : "socketpair", "stdio", ""};
          return false;
        }
        // stdin: the child reads, we write; stdout/stderr: the other way round.
        int childEnd = i == 0 ? p[0] : p[1];
        int ourEnd = i == 0 ? p[1] : p[0];
        plan->owned[i].Reset(childEnd);
        plan->parentEnds[i].Reset(ourEnd);
        src = childEnd;
        if (isPipe && req.pipeSize > 0 && !SetPipeSize(ourEnd, req.pipeSize, error)) return false;
        break;
      }
      case StdioKind::Fd:
        if (fcntl(s.fd, F_GETFD) < 0) {
          *error = {errno, "fcntl", "stdio", ""};
          return false;
        }
        src = s.fd;
        break;
      case StdioKind::File: {
        int flags = O_CLOEXEC | O_NOCTTY;
        flags |= i == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | (s.append ? O_APPEND : O_TRUNC));
        int fd = RetryEintr([&] { return open(s.path.c_str(), flags, 0666); });
        if (fd < 0) {
          *error = {errno, "open", "stdio", s.path};
          return false;
        }
        plan->owned[i].Reset(fd);
        src = fd;
        break;
      }
    }
    // A source in 0..2 could be overwritten by an earlier dup2 in the child; lift it.
    UniqueFd lifted;
    int high = EnsureHigh(src, &lifted);
    if (high < 0) {
      *error = {errno, "fcntl", "stdio", ""};
      return false;
    }
    if (lifted.Valid()) plan->owned[i] = std::move(lifted);
    plan->source[i] = high;
  }
  return PrepareExtraFds(req, plan, error);
}

PosixSpawnSetup::~PosixSpawnSetup() {
  if (actionsReady_) posix_spawn_file_actions_destroy(&actions);
  if (attrReady_) posix_spawnattr_destroy(&attr);
}

int PosixSpawnSetup::Prepare(const SpawnRequest& req, const StdioPlan& plan,
                             const sigset_t& defaults, short extraFlags) {
  int err = posix_spawn_file_actions_init(&actions);
  if (err != 0) return err;
  actionsReady_ = true;
  err = posix_spawnattr_init(&attr);
  if (err != 0) return err;
  attrReady_ = true;
  for (int i = 0; i < 3 && err == 0; i++) {
    if (plan.source[i] >= 0) err = posix_spawn_file_actions_adddup2(&actions, plan.source[i], i);
  }
  // After 0..2: every extra source sits above every target, so nothing is overwritten early.
  for (size_t i = 0; i < plan.extraSource.size() && err == 0; i++) {
    int src = plan.extraSource[i];
    if (src >= 0) err = posix_spawn_file_actions_adddup2(&actions, src, static_cast<int>(3 + i));
  }
  if (err == 0 && req.hasCwd) {
    // Callers send a cwd here only when the extension exists (NeedsClonePath); ENOSYS if not.
    auto addchdir = GetSpawnExtensions().addchdir;
    err = addchdir != nullptr ? addchdir(&actions, req.cwd.c_str()) : ENOSYS;
  }
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | extraFlags;
  sigset_t empty;
  sigemptyset(&empty);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &defaults);
  if (req.setsid) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (req.pgid >= 0) {
    flags |= POSIX_SPAWN_SETPGROUP;
    if (err == 0) err = posix_spawnattr_setpgroup(&attr, req.pgid);
  }
  if (err == 0) err = posix_spawnattr_setflags(&attr, flags);
  return err;
}

bool PosixSpawnSetup::Run(const SpawnRequest& req, const std::string& path, char* const* argv,
                          char* const* envp, SpawnResult* out, SpawnError* error) {
  pid_t pid = -1;
  out->startNs = MonotonicNs();
  int err = posix_spawn(&pid, path.c_str(), &actions, &attr, argv, envp);
  if (err != 0) {
    // One errno for chdir and exec alike; a cwd that cannot be entered is the likelier
    // culprit for these, and naming it is what the caller needs.
    if (req.hasCwd && (err == ENOENT || err == ENOTDIR || err == EACCES) && !CwdIsUsable(req.cwd)) {
      *error = {err, "chdir", "chdir", req.cwd};
    } else {
      *error = {err, "posix_spawn", "exec", path};
    }
    return false;
  }
  out->pid = pid;
  out->method = "posix_spawn";
  return true;
}

}  // namespace coreproc
