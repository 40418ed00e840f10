// The code that runs in the clone(CLONE_VM|CLONE_VFORK) child between clone and execve.
// It shares our memory and our thread's TLS, so it may only make async-signal-safe calls,
// never allocate, and never return: it execs or reports {stage, errno} and _exits.
#pragma once

#include <sys/types.h>

namespace coreproc {

// Stage numbers sent through the error pipe; kept stable because they cross a process.
enum ChildStage : int {
  kStageSignals = 1,
  kStageSetsid = 2,
  kStageSetpgid = 3,
  kStageDup2 = 4,
  kStageCloseFds = 5,
  kStageChdir = 6,
  kStageExec = 7,
  kStageAffinity = 8,
  kStageScheduler = 9,
  kStageNice = 10,
  kStageRlimit = 11,
  kStageSetgid = 12,
  kStageSetgroups = 13,
  kStageSetuid = 14,
  kStageCgroup = 15,
  kStageDeathSignal = 16,
  kStageDeadline = 17,  // sched_setattr(SCHED_DEADLINE); reported as stage "scheduler"
  // Sandbox stages (issue 16) start at 40, leaving room for other child steps below.
  kStageUserns = 40,
  kStageLoopback = 41,
  kStageNoNewPrivs = 42,
  kStageLandlock = 43,
  kStageSeccomp = 44,
  kStageLimitCgroup = 45,
  kStagePrivateTmp = 46,
  kStageMountReadonly = 47,
  kStageMountProc = 48,  // pidNamespace: the fresh /proc
};

// The kernel's struct rlimit64, for the raw prlimit64 syscall.
struct ChildRlimit {
  int resource;
  unsigned long long cur;
  unsigned long long max;
};

const char* ChildStageName(int stage);
const char* ChildStageSyscall(int stage);

// Everything the child needs, computed before clone so the child only reads it.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;         // nullptr: stay
  int source[3];           // dup2 into 0..2; -1 leaves the fd as is
  const int* extraSource;  // dup2 into 3.. after the CLOEXEC sweep; -1 stays closed
  int extraCount;
  int pgid;  // -1 keep, 0 new group, >0 join
  bool setsid;
  int errorFd;      // CLOEXEC write end of the report pipe
  int cgroupFd;     // -1: stay in our cgroup; else join this cgroup v2 directory first
  int deathSignal;  // 0: none; else PR_SET_PDEATHSIG, with parentPid to close the race
  pid_t parentPid;

  // Scheduling, limits and ids, in the order they are applied (ids last: after setuid the
  // child could no longer raise a limit or a priority).
  // A setting the caller asked for must succeed; a reset to the process baseline (see
  // sched.h) is best effort: an unprivileged thread at nice 10 cannot lower its child's nice.
  bool affinityStrict;
  bool schedulerStrict;
  bool niceStrict;
  const unsigned long* affinityMask;  // nullptr: leave as inherited
  size_t affinityBytes;
  bool setScheduler;
  int policy;  // may carry SCHED_RESET_ON_FORK
  int priority;
  bool setNice;
  int nice;
  const ChildRlimit* rlimits;
  int rlimitCount;
  bool setGid;
  unsigned int gid;
  bool setGroups;  // replace supplementary groups with {gid} (or none) when dropping root
  bool setUid;
  unsigned int uid;
  // Non-null: the struct sched_attr (realtime.h KernelSchedAttr) for sched_setattr, used
  // instead of sched_setscheduler when setScheduler is set (policy 'deadline').
  const void* schedAttr;

  // Sandbox, built by PrepareSandbox (sandbox_linux.cc) before clone. The namespaces come
  // from the clone flags; the child writes its own single-line id maps (the vfork parent is
  // suspended until exec, so it cannot), brings lo up, then restricts itself.
  bool userns;
  const char* uidMap;  // "<uid> <uid> 1"
  const char* gidMap;
  const void* loIfreq;  // struct ifreq for SIOCSIFFLAGS on lo; nullptr: leave it down
  bool noNewPrivs;
  int landlockFd;           // -1: none
  const void* seccompProg;  // struct sock_fprog; nullptr: none. Installed last before exec
  bool privateTmp;  // make our mounts private, then a fresh tmpfs on /tmp (CLONE_NEWNS given)
  const unsigned char* tmpRule;  // 12-byte landlock_path_beneath_attr for it; nullptr: none
  // Landlock ABI < 3: everything read-only but these roots (sandbox.h SandboxPlan).
  bool mountReadonly;
  const char* const* roRoots;
  int* roRootFds;  // the child's scratch space for open_tree fds, one per root
  int roRootCount;
  bool dropSysAdmin;

  // Resource-limit cgroups (one per v1 controller hierarchy), joined first like cgroupFd.
  const int* limitCgroupFds;
  int limitCgroupCount;

  // PID namespace (issue 29): this child is its PID 1 and execs path = our init, which needs
  // errorFd (to report the program's exec failure) and statusFd across exec. getppid() is 0
  // in the namespace, so the death-signal race is closed through errorFd instead.
  bool pidNamespace;
  int statusFd;
  int initFd;      // O_PATH descriptor of the init, exec'd with execveat(AT_EMPTY_PATH)
  bool mountProc;  // a fresh proc on /proc (CLONE_NEWNS given)
};

// The child shares our memory, and with it AddressSanitizer's shadow: instrumented frames
// there would poison redzones on the private stack that nothing unpoisons (the child execs
// instead of returning), and V8 later reusing those addresses trips false reports. So the
// child-side code is built without address instrumentation.
#if defined(__clang__) || defined(__GNUC__)
#define CORE_CHILD_CODE __attribute__((no_sanitize_address))
#else
#define CORE_CHILD_CODE
#endif

// Entry point handed to clone(). Never returns.
CORE_CHILD_CODE int ChildMain(void* plan);

}  // namespace coreproc
