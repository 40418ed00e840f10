// Linux spawn: glibc posix_spawn when the request fits its attributes, else our own
// clone(CLONE_VM|CLONE_VFORK) child. Both take the same parent-side plan and both fail
// synchronously with the real errno; neither ever copies the parent's page tables.
#ifdef __linux__

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// gcc says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define CORE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORE_ASAN 1
#endif
#endif
#if defined(CORE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

#include "child_linux.h"
#include "clone3_linux.h"
#include "decode.h"
#include "realtime.h"
#include "sandbox.h"
#include "sched.h"
#include "spawn.h"
#include "sys.h"

extern char** environ;

namespace coreproc {

namespace {

// NUL-terminated pointer arrays over strings that outlive the spawn call.
struct CStringArray {
  std::vector<char*> ptrs;
  explicit CStringArray(const std::vector<std::string>& v) {
    ptrs.reserve(v.size() + 1);
    for (const std::string& s : v) ptrs.push_back(const_cast<char*>(s.c_str()));
    ptrs.push_back(nullptr);
  }
  char* const* Data() { return ptrs.data(); }
};

// Blocks every signal, glibc's internal ones included, on the calling thread for the life of
// the object: a handler must never run in a CLONE_VM child that shares our stack and heap.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked() {
    unsigned long all = ~0UL;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved_, sizeof(unsigned long));
  }
  ~AllSignalsBlocked() {
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved_, nullptr, sizeof(unsigned long));
  }

 private:
  unsigned long saved_ = 0;
};

// posix_spawn is the fast path only on glibc: it needs posix_spawn_file_actions_addclosefrom_np
// (glibc 2.34) to keep inherited descriptors out of the child, and glibc's vfork-based spawn
// to report exec errors synchronously. musl (Alpine) has neither, so every spawn there takes
// the clone child, which does both itself; so does glibc before 2.34 (see GetSpawnExtensions).
#if defined(__GLIBC__)
// The shipped glibc prebuilds link against glibc 2.28 (RHEL 8, Debian 10, Ubuntu 20.04), which
// has neither extension, so they are looked up at run time. dlvsym, not dlsym or a weak
// reference: glibc versions its symbols, and naming the version binds the exact ABI this
// prototype was written for. A weak reference linked against 2.28 carries no version at all
// (the loader then picks one by its own rules), and dlsym takes whatever version is newest.
template <typename Fn>
Fn LookupGlibc(const char* name, const char* version) {
  return reinterpret_cast<Fn>(dlvsym(RTLD_DEFAULT, name, version));
}
#endif  // __GLIBC__

}  // namespace

const SpawnExtensions& GetSpawnExtensions() {
  static const SpawnExtensions ext = [] {
    SpawnExtensions e;
#if defined(__GLIBC__)
    // Tests and users on new glibc can prove the old-glibc path: the clone child everywhere.
    const char* off = getenv("CORE_PROCESS_NO_SPAWN_EXTENSIONS");
    if (off != nullptr && off[0] != '\0' && strcmp(off, "0") != 0) return e;
    e.addclosefrom = LookupGlibc<decltype(e.addclosefrom)>(
        "posix_spawn_file_actions_addclosefrom_np", "GLIBC_2.34");
    e.addchdir =
        LookupGlibc<decltype(e.addchdir)>("posix_spawn_file_actions_addchdir_np", "GLIBC_2.29");
#endif
    return e;
  }();
  return ext;
}

namespace {

#if defined(__GLIBC__)
// glibc's sigfillset leaves out its two internal signals (32, 33), and posix_spawn then sets
// them to SIG_IGN in the child, an ignore that survives exec. Naming them in the
// set-to-default mask makes the child start with every disposition at default. sigaddset
// refuses them, so set the bits directly (bit n-1 of the first word is signal n).
void AddInternalSignals(sigset_t* set) {
  static_assert(sizeof(set->__val[0]) == 8, "64-bit sigset words");
  set->__val[0] |= (1UL << 31) | (1UL << 32);
}
#endif  // __GLIBC__

// What the child applies before exec: the caller's explicit settings, plus a reset to the
// process baseline for whatever the calling thread changed and the caller did not ask about.
struct SchedPlan {
  std::vector<unsigned long> mask;  // empty: leave the affinity as inherited
  bool scheduler = false;
  bool schedulerAsked = false;  // false: a best-effort reset, which only the clone child can do
  int policy = 0;
  int priority = 0;
  bool resetOnFork = false;
  bool deadline = false;  // policy SCHED_DEADLINE: applied with attr (sched_setattr)
  KernelSchedAttr attr{};
  bool nice = false;
  int niceValue = 0;
  std::vector<ChildRlimit> rlimits;
};

void SetMask(const std::vector<int>& cpus, std::vector<unsigned long>* mask) {
  const int bits = static_cast<int>(8 * sizeof(unsigned long));
  int highest = 0;
  for (int c : cpus) highest = c > highest ? c : highest;
  mask->assign(static_cast<size_t>(highest / bits + 1), 0UL);
  for (int c : cpus) (*mask)[static_cast<size_t>(c / bits)] |= 1UL << (c % bits);
}

void PlanScheduling(const SpawnRequest& req, SchedPlan* plan) {
  if (req.hasAffinity) SetMask(req.affinity, &plan->mask);
  if (req.hasScheduler) {
    plan->scheduler = true;
    plan->schedulerAsked = true;
    plan->policy = req.policy;
    plan->priority = req.priority;
    plan->resetOnFork = req.resetOnFork;
    if (req.policy == DeadlinePolicy()) {
      plan->deadline = true;
      plan->attr.size = sizeof plan->attr;
      plan->attr.sched_policy = static_cast<uint32_t>(req.policy);
      plan->attr.sched_flags = req.resetOnFork ? kSchedFlagResetOnFork : 0;
      plan->attr.sched_runtime = req.dlRuntimeNs;
      plan->attr.sched_deadline = req.dlDeadlineNs;
      plan->attr.sched_period = req.dlPeriodNs;
    }
  }
  if (req.hasNice) {
    plan->nice = true;
    plan->niceValue = req.nice;
  }
  for (const SpawnRequest::Rlimit& r : req.rlimits) {
    ChildRlimit c;
    c.resource = r.resource;
    c.cur = r.soft < 0 ? RLIM_INFINITY : static_cast<unsigned long long>(r.soft);
    c.max = r.hard < 0 ? RLIM_INFINITY : static_cast<unsigned long long>(r.hard);
    plan->rlimits.push_back(c);
  }
  const Baseline& base = ProcessBaseline();
  if (req.inheritScheduling && !req.hasScheduler) {
    // Realtime threads of createThread run with SCHED_RESET_ON_FORK, so the kernel would hand
    // the child SCHED_OTHER; a caller asking to inherit gets the thread's policy put back.
    SchedErr e;
    int policy, priority;
    bool reset;
    if (GetScheduler(0, &policy, &priority, &reset, &e) && reset && IsRealtimePolicy(policy)) {
      plan->scheduler = true;
      plan->policy = policy;
      plan->priority = priority;
    }
  }
  if (req.inheritScheduling || !base.valid) return;
  // Three cheap reads of the calling thread; a reset costs nothing when nothing differs.
  SchedErr e;
  CpuList current;
  if (!req.hasAffinity && GetAffinity(0, &current, &e) && current != base.affinity) {
    SetMask(base.affinity, &plan->mask);
  }
  int policy, priority;
  bool reset;
  if (!req.hasScheduler && GetScheduler(0, &policy, &priority, &reset, &e) &&
      (policy != base.policy || priority != base.priority)) {
    plan->scheduler = true;
    plan->policy = base.policy;
    plan->priority = base.priority;
  }
  int nice;
  if (!req.hasNice && GetNice(0, &nice, &e) && nice != base.nice) {
    plan->nice = true;
    plan->niceValue = base.nice;
  }
}

#if defined(__GLIBC__)
// glibc's posix_spawn sets a policy only for other/fifo/rr (its setschedpolicy refuses batch,
// idle and SCHED_RESET_ON_FORK) and has no attribute for affinity, nice, limits or ids. Its
// failures are fatal to the spawn, so a best-effort reset cannot go through it either.
bool PosixSpawnCanSchedule(const SchedPlan& plan) {
  if (!plan.scheduler) return true;
  if (!plan.schedulerAsked) return false;
  bool known = plan.policy == SCHED_OTHER || plan.policy == SCHED_FIFO || plan.policy == SCHED_RR;
  return known && !plan.resetOnFork;
}

bool SpawnPosix(const SpawnRequest& req, const std::string& path, StdioPlan& plan,
                const SchedPlan& sched, char* const* argv, char* const* envp, SpawnResult* out,
                SpawnError* error) {
  sigset_t defaults;
  sigfillset(&defaults);
  AddInternalSignals(&defaults);
  PosixSpawnSetup setup;
  int err = setup.Prepare(req, plan, defaults, sched.scheduler ? POSIX_SPAWN_SETSCHEDULER : 0);
  // Closes even descriptors the parent inherited without CLOEXEC (after the dup2s).
  if (err == 0) {
    int firstFree = 3 + static_cast<int>(plan.extraSource.size());
    err = GetSpawnExtensions().addclosefrom(&setup.actions, firstFree);
  }
  if (err == 0 && sched.scheduler) {
    struct sched_param param {};
    param.sched_priority = sched.priority;
    err = posix_spawnattr_setschedpolicy(&setup.attr, sched.policy);
    if (err == 0) err = posix_spawnattr_setschedparam(&setup.attr, &param);
  }
  if (err != 0) {
    *error = {err, "posix_spawn_file_actions", "spawn", ""};
    return false;
  }
  if (!setup.Run(req, path, argv, envp, out, error)) {
    // posix_spawn returns one errno for every step; EPERM/EINVAL with a policy requested is
    // the scheduler refusing (exec itself gives EACCES or ENOEXEC for a bad program).
    bool schedErr = error->err == EPERM || error->err == EINVAL;
    if (sched.scheduler && schedErr && strcmp(error->stage, "exec") == 0) {
      *error = {error->err, "sched_setscheduler", "scheduler", ""};
    }
    return false;
  }
  if (req.wantPidfd) {
    // The child is ours and unreaped, so its pid cannot have been recycled yet.
    int fd = PidfdOpen(out->pid);
    if (fd >= 0) out->pidfd.Reset(fd);
  }
  return true;
}

#endif  // __GLIBC__

bool SpawnClone(const SpawnRequest& req, const std::string& path, StdioPlan& plan,
                const SchedPlan& sched, char* const* argv, char* const* envp, SpawnResult* out,
                SpawnError* error) {
  SandboxPlan sandbox;
  if (!PrepareSandbox(req, &sandbox, error)) return false;

  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    *error = {errno, "pipe2", "spawn", ""};
    return false;
  }
  UniqueFd reportRead(report[0]);
  UniqueFd reportWrite(report[1]);

  // PID namespace: the clone child execs our init with the pipes' numbers and the program
  // (native/init_linux.c: init <report fd> <status fd> <death signal> <path> <argv...>).
  UniqueFd statusRead, statusWrite, initFd;
  std::vector<char*> initArgv;
  char fdText[3][16];
  if (req.pidNamespace) {
    // Opened here and exec'd through the descriptor (execveat): a private /tmp or the
    // read-only remount the child makes cannot hide it. Both fds sit above the extra-fd
    // targets, which the child's dup2s would otherwise overwrite.
    const int floor = 3 + static_cast<int>(plan.extraSource.size());
    int status[2];
    if (pipe2(status, O_CLOEXEC) != 0) {
      *error = {errno, "pipe2", "spawn", ""};
      return false;
    }
    statusRead.Reset(status[0]);
    UniqueFd low(status[1]);
    statusWrite.Reset(fcntl(low.Get(), F_DUPFD_CLOEXEC, floor));
    UniqueFd initLow(RetryEintr([&] { return open(req.initPath.c_str(), O_PATH | O_CLOEXEC); }));
    if (!initLow.Valid()) {
      *error = {errno, "open", "spawn", req.initPath};
      return false;
    }
    initFd.Reset(fcntl(initLow.Get(), F_DUPFD_CLOEXEC, floor));
    if (!statusWrite.Valid() || !initFd.Valid()) {
      *error = {errno, "fcntl", "spawn", ""};
      return false;
    }
    snprintf(fdText[0], sizeof fdText[0], "%d", reportWrite.Get());
    snprintf(fdText[1], sizeof fdText[1], "%d", statusWrite.Get());
    snprintf(fdText[2], sizeof fdText[2], "%d", req.deathSignal);
    initArgv = {const_cast<char*>(req.initPath.c_str()), fdText[0], fdText[1], fdText[2],
                const_cast<char*>(path.c_str())};
    for (char* const* a = argv; *a != nullptr; a++) initArgv.push_back(*a);
    initArgv.push_back(nullptr);
  }

  ChildPlan cp{};
  cp.path = req.pidNamespace ? req.initPath.c_str() : path.c_str();
  cp.argv = req.pidNamespace ? initArgv.data() : argv;
  cp.envp = envp;
  cp.cwd = req.hasCwd ? req.cwd.c_str() : nullptr;
  for (int i = 0; i < 3; i++) cp.source[i] = plan.source[i];
  cp.extraSource = plan.extraSource.data();
  cp.extraCount = static_cast<int>(plan.extraSource.size());
  cp.pgid = req.pgid;
  cp.setsid = req.setsid;
  cp.errorFd = reportWrite.Get();
  cp.cgroupFd = req.cgroupFd;
  cp.deathSignal = req.deathSignal;
  cp.parentPid = getpid();
  if (!sched.mask.empty()) {
    cp.affinityMask = sched.mask.data();
    cp.affinityBytes = sched.mask.size() * sizeof(unsigned long);
  }
  cp.affinityStrict = req.hasAffinity;
  cp.schedulerStrict = req.hasScheduler;
  cp.niceStrict = req.hasNice;
  cp.setScheduler = sched.scheduler;
  cp.policy = sched.policy | (sched.resetOnFork ? SCHED_RESET_ON_FORK : 0);
  cp.schedAttr = sched.deadline ? &sched.attr : nullptr;
  cp.priority = sched.priority;
  cp.setNice = sched.nice;
  cp.nice = sched.niceValue;
  cp.rlimits = sched.rlimits.data();
  cp.rlimitCount = static_cast<int>(sched.rlimits.size());
  cp.setGid = req.hasGid;
  cp.gid = req.gid;
  cp.setUid = req.hasUid;
  cp.uid = req.uid;
  // Dropping root must not keep root's supplementary groups.
  cp.setGroups = (req.hasUid || req.hasGid) && geteuid() == 0;
  cp.userns = sandbox.userns;
  cp.uidMap = sandbox.uidMap;
  cp.gidMap = sandbox.gidMap;
  cp.loIfreq = sandbox.loopback ? &sandbox.lo : nullptr;
  cp.noNewPrivs = sandbox.noNewPrivs;
  cp.landlockFd = sandbox.landlock.Valid() ? sandbox.landlock.Get() : -1;
  cp.seccompProg = sandbox.filter.empty() ? nullptr : &sandbox.prog;
  cp.privateTmp = sandbox.privateTmp;
  cp.tmpRule = sandbox.privateTmp && sandbox.landlock.Valid() ? sandbox.tmpRule : nullptr;
  cp.mountReadonly = sandbox.mountReadonly;
  cp.roRoots = sandbox.roots.data();
  cp.roRootFds = sandbox.rootFds.data();
  cp.roRootCount = static_cast<int>(sandbox.roots.size());
  cp.dropSysAdmin = sandbox.dropSysAdmin;
  cp.limitCgroupFds = req.limitCgroupFds.data();
  cp.limitCgroupCount = static_cast<int>(req.limitCgroupFds.size());
  cp.pidNamespace = req.pidNamespace;
  cp.statusFd = statusWrite.Get();
  cp.initFd = initFd.Get();
  cp.mountProc = sandbox.mountProc;

  // A private stack: the child must not scribble on the frames we return through.
  const size_t stackSize = 64 * 1024;
  void* stack = mmap(nullptr, stackSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    *error = {errno, "mmap", "spawn", ""};
    return false;
  }
  char* top = static_cast<char*>(stack) + stackSize;

  pid_t pid;
  int pidfd = -1;
  bool intoCgroup = false;
  {
    AllSignalsBlocked blocked;
    out->startNs = MonotonicNs();
    bool wantPidfd = req.wantPidfd;
    int flags =
        CLONE_VM | CLONE_VFORK | SIGCHLD | (wantPidfd ? CLONE_PIDFD : 0) | sandbox.cloneFlags;
    // Straight into the cgroup where clone3 can; else the child joins it (ChildMain).
    pid = cp.cgroupFd >= 0 ? CloneIntoCgroup(flags, &cp, stack, stackSize, &pidfd) : -1;
    intoCgroup = pid >= 0;
    if (!intoCgroup) pid = clone(ChildMain, top, flags, &cp, &pidfd);
    if (pid < 0 && wantPidfd && errno == EINVAL) {  // CLONE_PIDFD predates pidfd_open by
      pidfd = -1;                                   // one release; be safe on odd kernels
      pid = clone(ChildMain, top, flags & ~CLONE_PIDFD, &cp, nullptr);
    }
  }
  int cloneErrno = errno;
#if defined(CORE_ASAN)
  // Belt and braces for the sanitizer build: clear any shadow state the child left on its
  // stack before the addresses go back to the system (see CORE_CHILD_CODE).
  __asan_unpoison_memory_region(stack, stackSize);
#endif
  munmap(stack, stackSize);
  if (pid < 0) {
    *error = {cloneErrno, "clone", "spawn", ""};
    return false;
  }
  UniqueFd ownedPidfd(pidfd);
  reportWrite.Reset();  // our copy; the child's closes at exec
  statusWrite.Reset();  // init's copy is the only writer: EOF without a status if it is killed

  // The report is 12 bytes written at once, or nothing (EOF at exec). A short read means the
  // child died mid-report: still a failed spawn, never a running child (DecodeChildReport).
  unsigned char msg[12];
  size_t got = 0;
  while (got < sizeof msg) {
    ssize_t n = read(reportRead.Get(), msg + got, sizeof msg - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (DecodeChildReport(msg, got, req.cwd, path, error, &req.sandbox.writePaths)) {
    // The child reported and _exited; reap it here so a failed spawn leaves no zombie.
    int status;
    RetryEintr([&] { return waitpid(pid, &status, 0); });
    return false;
  }

  out->pid = pid;
  out->method = intoCgroup ? "clone3" : "clone";
  out->statusFd = std::move(statusRead);
  if (ownedPidfd.Valid()) {
    out->pidfd = std::move(ownedPidfd);
  } else if (req.wantPidfd) {
    int fd = PidfdOpen(pid);
    if (fd >= 0) out->pidfd.Reset(fd);
  }
  return true;
}

#if defined(__GLIBC__)
// The explicit predicate: posix_spawn whenever its attributes express the whole request.
// A closed extra slot below an open one needs the clone child: posix_spawn's closefrom
// starts above the extras, so an inherited fd could stay in the hole. Without the glibc
// extensions (before 2.34) the clone child closes descriptors and changes directory itself.
bool NeedsClonePath(const SpawnRequest& req, const StdioPlan& plan, const SchedPlan& sched) {
  const SpawnExtensions& ext = GetSpawnExtensions();
  return req.forceClone || ext.addclosefrom == nullptr || (req.hasCwd && ext.addchdir == nullptr) ||
         !sched.mask.empty() || sched.nice || !sched.rlimits.empty() || req.hasUid || req.hasGid ||
         req.cgroupFd >= 0 || req.deathSignal != 0 || req.sandbox.any || req.pidNamespace ||
         !req.limitCgroupFds.empty() || plan.extraHoles || !PosixSpawnCanSchedule(sched);
}
#endif

}  // namespace

bool Spawn(const SpawnRequest& req, SpawnResult* out, SpawnError* error) {
  std::string path;
  if (!ResolveProgram(req, &path, error)) return false;
  StdioPlan plan;
  if (!PrepareStdio(req, &plan, error)) return false;

  CStringArray argv(req.argv);
  CStringArray env(req.env);  // empty, and unused, when inheriting environ
  char* const* envp = req.inheritEnv ? environ : env.Data();

  SchedPlan sched;
  PlanScheduling(req, &sched);

#if defined(__GLIBC__)
  bool ok = NeedsClonePath(req, plan, sched)
                ? SpawnClone(req, path, plan, sched, argv.Data(), envp, out, error)
                : SpawnPosix(req, path, plan, sched, argv.Data(), envp, out, error);
#else
  bool ok = SpawnClone(req, path, plan, sched, argv.Data(), envp, out, error);
#endif
  if (!ok) return false;
  for (int i = 0; i < 3; i++) out->parentEnds[i] = std::move(plan.parentEnds[i]);
  return true;  // plan.owned closes the child's ends here: EOF reaches us when the child exits
}

}  // namespace coreproc

#endif  // __linux__
