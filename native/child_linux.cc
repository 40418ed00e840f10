// Child-side setup for the clone path. Rules (see NATIVE-NOTES §1, §7):
// - raw syscalls or async-signal-safe libc only; no malloc, no locks, no stdio;
// - all signals arrive blocked (the parent blocked them before clone); handlers are reset to
//   SIG_DFL before the mask is opened, so no parent handler can run on this shared memory;
// - errors go to the CLOEXEC pipe as two ints {stage, errno}; EOF there means exec worked.
#include "child_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

// The new mount API (5.2, mount_setattr 5.12: older than Landlock). <linux/mount.h> clashes
// with glibc's <sys/mount.h>, and musl lacks both: the kernel ABI is spelled out here.
#ifndef SYS_open_tree
#define SYS_open_tree 428
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace coreproc {

namespace {

// getdents64(2)'s record as the kernel writes it (linux_dirent64). glibc names it struct
// dirent64; musl has no such type, and its struct dirent merely happens to match.
struct KernelDirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[256];
};

}  // namespace

const char* ChildStageName(int stage) {
  switch (stage) {
    case kStageSignals: return "signals";
    case kStageSetsid: return "setsid";
    case kStageSetpgid: return "setpgid";
    case kStageDup2: return "dup2";
    case kStageCloseFds: return "closefds";
    case kStageChdir: return "chdir";
    case kStageExec: return "exec";
    case kStageAffinity: return "affinity";
    case kStageScheduler: return "scheduler";
    case kStageNice: return "nice";
    case kStageRlimit: return "rlimit";
    case kStageSetgid: return "setgid";
    case kStageSetgroups: return "setgroups";
    case kStageSetuid: return "setuid";
    case kStageCgroup: return "cgroup";
    case kStageDeathSignal: return "deathsignal";
    case kStageDeadline: return "scheduler";
    case kStageUserns: return "userns";
    case kStageLoopback: return "loopback";
    case kStageNoNewPrivs: return "nonewprivs";
    case kStageLandlock: return "landlock";
    case kStageSeccomp: return "seccomp";
    case kStageLimitCgroup: return "limits";
    case kStagePrivateTmp: return "privatetmp";
    case kStageMountReadonly: return "mountreadonly";
    case kStageMountProc: return "mountproc";
    default: return "unknown";
  }
}

const char* ChildStageSyscall(int stage) {
  switch (stage) {
    case kStageSignals: return "rt_sigaction";
    case kStageSetsid: return "setsid";
    case kStageSetpgid: return "setpgid";
    case kStageDup2: return "dup2";
    case kStageCloseFds: return "close_range";
    case kStageChdir: return "chdir";
    case kStageExec: return "execve";
    case kStageAffinity: return "sched_setaffinity";
    case kStageScheduler: return "sched_setscheduler";
    case kStageNice: return "setpriority";
    case kStageRlimit: return "prlimit64";
    case kStageSetgid: return "setgid";
    case kStageSetgroups: return "setgroups";
    case kStageSetuid: return "setuid";
    case kStageCgroup: return "write";
    case kStageDeathSignal: return "prctl";
    case kStageDeadline: return "sched_setattr";
    case kStageUserns: return "write";
    case kStageLoopback: return "ioctl";
    case kStageNoNewPrivs: return "prctl";
    case kStageLandlock: return "landlock_restrict_self";
    case kStageSeccomp: return "seccomp";
    case kStageLimitCgroup: return "limits";
    case kStagePrivateTmp: return "privatetmp";
    case kStageMountReadonly: return "mount_setattr";
    case kStageMountProc: return "mount";
    default: return "unknown";
  }
}

namespace {

struct KernelMountAttr {  // struct mount_attr, MOUNT_ATTR_SIZE_VER0
  uint64_t attrSet;
  uint64_t attrClr;
  uint64_t propagation;
  uint64_t usernsFd;
};
constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kAtRecursive = 0x8000;
constexpr unsigned kMoveMountEmptyPath = 0x4;
constexpr uint64_t kMountAttrRdonly = 0x1;
constexpr unsigned long kCapSysAdmin = 21;

// The kernel's view of struct sigaction: glibc's wrapper refuses its two internal signals
// (32, 33), and those must be reset too.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  unsigned long mask;
};

[[noreturn]] CORE_CHILD_CODE void Report(const ChildPlan* plan, int stage, int err,
                                         int detail = 0) {
  int msg[3] = {stage, err, detail};
  const char* p = reinterpret_cast<const char*>(msg);
  size_t left = sizeof msg;
  while (left > 0) {
    ssize_t n = write(plan->errorFd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  _exit(127);
}

CORE_CHILD_CODE void ResetSignalDispositions() {
  for (int sig = 1; sig < 65; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    KernelSigaction old{};
    if (syscall(SYS_rt_sigaction, sig, nullptr, &old, sizeof(unsigned long)) != 0) continue;
    if (old.handler == SIG_DFL) continue;
    KernelSigaction dfl{};
    dfl.handler = SIG_DFL;
    // Failure is impossible for a valid, catchable signal; nothing useful to report anyway.
    syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(unsigned long));
  }
}

// close_range(CLOEXEC) needs 5.11; before that, walk /proc/self/fd with getdents64 into a
// stack buffer (opendir would allocate).
CORE_CHILD_CODE bool MarkAllCloexec() {
  if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return true;
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  alignas(8) char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      const KernelDirent64* d = reinterpret_cast<const KernelDirent64*>(buf + off);
      off += d->d_reclen;
      int fd = 0;
      const char* c = d->d_name;
      if (*c < '0' || *c > '9') continue;
      for (; *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
      if (fd >= 3 && fd != dir) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }
  close(dir);
  return true;
}

// Raw syscalls throughout: glibc's set*id and setgroups broadcast to every thread of what
// it believes is this process (the parent's threads, since we share its memory), and the
// sched wrappers are not promised async-signal-safe. Each step reports its own stage.
CORE_CHILD_CODE void ApplySchedulingAndIds(const ChildPlan* plan) {
  if (plan->affinityMask != nullptr &&
      syscall(SYS_sched_setaffinity, 0, plan->affinityBytes, plan->affinityMask) != 0 &&
      plan->affinityStrict) {
    Report(plan, kStageAffinity, errno);
  }
#ifdef SYS_sched_setattr
  if (plan->setScheduler && plan->schedAttr != nullptr) {
    if (syscall(SYS_sched_setattr, 0, plan->schedAttr, 0u) != 0) {
      Report(plan, kStageDeadline, errno);
    }
  } else
#endif
      if (plan->setScheduler) {
    struct sched_param param;
    param.sched_priority = plan->priority;
    if (syscall(SYS_sched_setscheduler, 0, plan->policy, &param) != 0 && plan->schedulerStrict) {
      Report(plan, kStageScheduler, errno);
    }
  }
  if (plan->setNice && syscall(SYS_setpriority, PRIO_PROCESS, 0, plan->nice) != 0 &&
      plan->niceStrict) {
    Report(plan, kStageNice, errno);
  }
  for (int i = 0; i < plan->rlimitCount; i++) {
    const ChildRlimit& r = plan->rlimits[i];
    unsigned long long lim[2] = {r.cur, r.max};
    if (syscall(SYS_prlimit64, 0, r.resource, lim, nullptr) != 0) {
      Report(plan, kStageRlimit, errno, r.resource);
    }
  }
  if (plan->setGroups) {
    long rc =
        plan->setGid ? syscall(SYS_setgroups, 1, &plan->gid) : syscall(SYS_setgroups, 0, nullptr);
    if (rc != 0) Report(plan, kStageSetgroups, errno);
  }
  if (plan->setGid && syscall(SYS_setgid, plan->gid) != 0) Report(plan, kStageSetgid, errno);
  if (plan->setUid && syscall(SYS_setuid, plan->uid) != 0) Report(plan, kStageSetuid, errno);
}

// Joins the cgroup before anything else happens in the child, so every process it will ever
// fork starts inside too. Writing "0" to cgroup.procs moves the writer itself.
CORE_CHILD_CODE void JoinCgroup(const ChildPlan* plan, int dirFd, int stage) {
  int fd = openat(dirFd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
  if (fd < 0) Report(plan, stage, errno);
  ssize_t n;
  do {
    n = write(fd, "0", 1);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n != 1) Report(plan, stage, n < 0 ? err : EIO);
}

// PR_SET_PDEATHSIG fires when the thread that cloned us exits. If the parent is already gone
// (it died between clone and here), getppid() no longer names it: act as the kernel would
// have, with dispositions already reset so the signal does its default thing.
CORE_CHILD_CODE void ArmDeathSignal(const ChildPlan* plan) {
  if (prctl(PR_SET_PDEATHSIG, static_cast<unsigned long>(plan->deathSignal), 0, 0, 0) != 0) {
    Report(plan, kStageDeathSignal, errno);
  }
  // In a new PID namespace getppid() is 0 whatever happened; the parent holds the report
  // pipe's read end until we exec, so POLLERR on our write end says it is gone.
  bool gone;
  if (plan->pidNamespace) {
    struct pollfd p = {plan->errorFd, 0, 0};
    gone = poll(&p, 1, 0) > 0 && (p.revents & POLLERR) != 0;
  } else {
    gone = getppid() != plan->parentPid;
  }
  if (gone) {
    syscall(SYS_kill, syscall(SYS_getpid), plan->deathSignal);
    _exit(128 + plan->deathSignal);
  }
}

// Writes all of `text` to a /proc/self file in one write (the id map files take one write).
CORE_CHILD_CODE int WriteProcSelf(const char* file, const char* text) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t len = 0;
  while (text[len] != '\0') len++;
  ssize_t n;
  do {
    n = write(fd, text, len);
  } while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : (static_cast<size_t>(n) == len ? 0 : EIO);
  close(fd);
  return err;
}

// Landlock below ABI 3 does not handle truncate(2); a read-only mount refuses it (EROFS).
// Copies of the write roots are taken first (open_tree: detached, with their own flags and
// submounts as they are), everything is made read-only recursively, and the copies are put
// back on top of their paths, so only they stay writable.
CORE_CHILD_CODE void MountReadonlyButRoots(const ChildPlan* plan) {
  for (int i = 0; i < plan->roRootCount; i++) {
    int fd = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, plan->roRoots[i],
                                      kOpenTreeClone | O_CLOEXEC | kAtRecursive));
    if (fd < 0) Report(plan, kStageMountReadonly, errno, i);
    plan->roRootFds[i] = fd;
  }
  KernelMountAttr ro{};
  ro.attrSet = kMountAttrRdonly;
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", kAtRecursive, &ro, sizeof ro) != 0) {
    Report(plan, kStageMountReadonly, errno, -1);
  }
  for (int i = 0; i < plan->roRootCount; i++) {
    long rc = syscall(SYS_move_mount, plan->roRootFds[i], "", AT_FDCWD, plan->roRoots[i],
                      kMoveMountEmptyPath);
    int err = errno;
    close(plan->roRootFds[i]);
    if (rc != 0) Report(plan, kStageMountReadonly, err, i);
  }
  if (plan->dropSysAdmin && prctl(PR_CAPBSET_DROP, kCapSysAdmin, 0, 0, 0) != 0) {
    Report(plan, kStageMountReadonly, errno, -1);
  }
}

// Namespaces (made by clone) get their content, before any uid switch takes the privilege
// to mount away (a root caller dropping to another uid has no user namespace).
CORE_CHILD_CODE void FillNamespaces(const ChildPlan* plan) {
  if (plan->userns) {
    // An unprivileged writer may set gid_map only after giving up setgroups.
    int err = WriteProcSelf("/proc/self/setgroups", "deny");
    if (err == 0) err = WriteProcSelf("/proc/self/uid_map", plan->uidMap);
    if (err == 0) err = WriteProcSelf("/proc/self/gid_map", plan->gidMap);
    if (err != 0) Report(plan, kStageUserns, err);
  }
  if (plan->privateTmp || plan->mountReadonly || plan->mountProc) {
    // Private first: with shared propagation (systemd's default) our mounts would appear on
    // the host too.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      Report(plan,
             plan->privateTmp      ? kStagePrivateTmp
             : plan->mountReadonly ? kStageMountReadonly
                                   : kStageMountProc,
             errno, -1);
    }
  }
  // Before the private /tmp, which must stay writable.
  if (plan->mountReadonly) MountReadonlyButRoots(plan);
  if (plan->privateTmp) {
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      Report(plan, kStagePrivateTmp, errno);
    }
    if (plan->tmpRule != nullptr) {
      // The parent's rules name the inode under the tmpfs; this one names the tmpfs itself.
      int fd = open("/tmp", O_PATH | O_CLOEXEC);
      if (fd < 0) Report(plan, kStagePrivateTmp, errno);
      alignas(8) unsigned char rule[12];
      for (int i = 0; i < 12; i++) rule[i] = plan->tmpRule[i];
      for (int i = 0; i < 4; i++) rule[8 + i] = reinterpret_cast<unsigned char*>(&fd)[i];
      long rc = syscall(SYS_landlock_add_rule, plan->landlockFd, 1, rule, 0);
      int err = errno;
      close(fd);
      if (rc != 0) Report(plan, kStageLandlock, err);
    }
  }
  // Mounted by PID 1 of the new namespace, so this proc shows that namespace's processes only.
  if (plan->mountProc &&
      mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Report(plan, kStageMountProc, errno);
  }
  if (plan->loIfreq != nullptr) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) Report(plan, kStageLoopback, errno);
    int rc = ioctl(s, SIOCSIFFLAGS, plan->loIfreq);
    int err = errno;
    close(s);
    if (rc != 0) Report(plan, kStageLoopback, err);
  }
}

// The restrictions that cannot be undone: no_new_privs, then Landlock (which requires it, or
// CAP_SYS_ADMIN). Seccomp waits until the very end (InstallSeccomp) so no setup step of ours
// runs under the filter.
CORE_CHILD_CODE void ApplySandbox(const ChildPlan* plan) {
  if (plan->noNewPrivs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    Report(plan, kStageNoNewPrivs, errno);
  }
  if (plan->landlockFd >= 0 && syscall(SYS_landlock_restrict_self, plan->landlockFd, 0) != 0) {
    Report(plan, kStageLandlock, errno);
  }
}

CORE_CHILD_CODE void InstallSeccomp(const ChildPlan* plan) {
  if (plan->seccompProg == nullptr) return;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, plan->seccompProg) != 0) {
    Report(plan, kStageSeccomp, errno);
  }
}

}  // namespace

CORE_CHILD_CODE int ChildMain(void* arg) {
  const ChildPlan* plan = static_cast<const ChildPlan*>(arg);
  if (plan->cgroupFd >= 0) JoinCgroup(plan, plan->cgroupFd, kStageCgroup);
  for (int i = 0; i < plan->limitCgroupCount; i++) {
    JoinCgroup(plan, plan->limitCgroupFds[i], kStageLimitCgroup);
  }
  ResetSignalDispositions();
  if (plan->deathSignal != 0) ArmDeathSignal(plan);

  if (plan->setsid) {
    if (setsid() < 0) Report(plan, kStageSetsid, errno);
  } else if (plan->pgid >= 0) {
    if (setpgid(0, plan->pgid) != 0) Report(plan, kStageSetpgid, errno);
  }

  for (int i = 0; i < 3; i++) {
    if (plan->source[i] < 0) continue;
    if (plan->source[i] == i) {
      // Inherited as is; dup2 onto itself would leave a CLOEXEC flag in place.
      if (fcntl(i, F_SETFD, 0) != 0) Report(plan, kStageDup2, errno);
      continue;
    }
    int r;
    do {
      r = dup2(plan->source[i], i);  // dup2 clears CLOEXEC on the target
    } while (r < 0 && (errno == EINTR || errno == EBUSY));
    if (r < 0) Report(plan, kStageDup2, errno);
  }

  if (!MarkAllCloexec()) Report(plan, kStageCloseFds, errno);

  // Extra fds after the sweep: dup2 clears CLOEXEC on each target, and every source is
  // above every target (spawn_common.cc), so none is overwritten before it is used.
  for (int i = 0; i < plan->extraCount; i++) {
    if (plan->extraSource[i] < 0) continue;
    int r;
    do {
      r = dup2(plan->extraSource[i], 3 + i);
    } while (r < 0 && (errno == EINTR || errno == EBUSY));
    if (r < 0) Report(plan, kStageDup2, errno);
  }

  FillNamespaces(plan);
  ApplySchedulingAndIds(plan);
  ApplySandbox(plan);

  // After the ids change, so the program's cwd is one its own user may enter.
  if (plan->cwd != nullptr && chdir(plan->cwd) != 0) Report(plan, kStageChdir, errno);

  sigset_t empty;
  sigemptyset(&empty);
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, sizeof(unsigned long)) != 0) {
    Report(plan, kStageSignals, errno);
  }

  // Our init gets the report and status pipes across exec (it passes their numbers on).
  if (plan->pidNamespace &&
      (fcntl(plan->errorFd, F_SETFD, 0) != 0 || fcntl(plan->statusFd, F_SETFD, 0) != 0)) {
    Report(plan, kStageExec, errno);
  }

  // Last before exec: nothing of ours runs under the filter but execve itself, and the
  // report pipe's write stays allowed by every filter we build.
  InstallSeccomp(plan);

  if (plan->pidNamespace) {
    syscall(SYS_execveat, plan->initFd, "", plan->argv, plan->envp, AT_EMPTY_PATH);
  } else {
    execve(plan->path, plan->argv, plan->envp);
  }
  Report(plan, kStageExec, errno);
}

}  // namespace coreproc
