// Parent-side preparation of the sandbox (see sandbox.h). Runs before clone, may allocate and
// open descriptors; the child (child_linux.cc, ApplySandbox) only uses what is built here.
#if defined(__linux__)

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "syscall_names.h"

namespace coreproc {

namespace {

// Debian's linux/landlock.h is older than the kernel (NATIVE-NOTES §8): the ABI's structs and
// bits are defined here. They are kernel ABI and never change meaning.
struct LandlockRulesetAttr {
  uint64_t handledAccessFs;
};
struct __attribute__((packed)) LandlockPathBeneathAttr {
  uint64_t allowedAccess;
  int32_t parentFd;
};
constexpr int kLandlockCreateRulesetVersion = 1;
constexpr int kLandlockRulePathBeneath = 1;
constexpr uint64_t kFsExecute = 1ULL << 0;
constexpr uint64_t kFsWriteFile = 1ULL << 1;
constexpr uint64_t kFsReadFile = 1ULL << 2;
constexpr uint64_t kFsReadDir = 1ULL << 3;
constexpr uint64_t kFsTruncate = 1ULL << 14;  // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;  // ABI 5
// Rights that apply to a file itself; a directory rule may hold the rest too.
constexpr uint64_t kFileRights =
    kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev;
constexpr uint64_t kReadRights = kFsExecute | kFsReadFile | kFsReadDir;

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#endif

// Every fs right the running ABI knows: bits 0..12 since ABI 1, REFER (13) since 2, TRUNCATE
// (14) since 3, IOCTL_DEV (15) since 5. Handling all of them is what makes a right not
// granted below a right denied.
uint64_t HandledFs(int abi) {
  uint64_t all = (1ULL << 13) - 1;
  if (abi >= 2) all |= 1ULL << 13;
  if (abi >= 3) all |= kFsTruncate;
  if (abi >= 5) all |= kFsIoctlDev;
  return all;
}

bool AddPathRule(int ruleset, const std::string& path, uint64_t access, uint64_t handled,
                 SpawnError* error) {
  UniqueFd fd(RetryEintr([&] { return open(path.c_str(), O_PATH | O_CLOEXEC); }));
  if (!fd.Valid()) {
    *error = {errno, "open", "landlock", path, ""};
    return false;
  }
  struct stat st;
  if (fstat(fd.Get(), &st) != 0) {
    *error = {errno, "fstat", "landlock", path, ""};
    return false;
  }
  LandlockPathBeneathAttr attr{};
  attr.allowedAccess = access & handled & (S_ISDIR(st.st_mode) ? ~0ULL : kFileRights);
  attr.parentFd = fd.Get();
  if (syscall(SYS_landlock_add_rule, ruleset, kLandlockRulePathBeneath, &attr, 0) != 0) {
    *error = {errno, "landlock_add_rule", "landlock", path, ""};
    return false;
  }
  return true;
}

// The ABI the ruleset is built for: the kernel's, or lower when lib asked (the test and
// diagnostic override CORE_PROCESS_LANDLOCK_ABI, read in lib/process/sandbox-fs.ts).
int UsedLandlockAbi(const SandboxSpec& s) {
  int abi = LandlockAbi();
  return s.landlockAbi > 0 && s.landlockAbi < abi ? s.landlockAbi : abi;
}

bool PrepareLandlock(const SandboxSpec& s, const std::string& initPath, SandboxPlan* plan,
                     SpawnError* error) {
  int abi = UsedLandlockAbi(s);
  // lib/process refuses below 1, and below 3 without the read-only mounts that confine
  // truncate; this is the re-check for the private binding.
  if (abi < 1 || (abi < 3 && !s.mountReadonly)) {
    *error = {abi < 0 ? -abi : EOPNOTSUPP, "landlock_create_ruleset", "landlock", "", ""};
    return false;
  }
  uint64_t handled = HandledFs(abi);
  LandlockRulesetAttr attr{handled};
  int fd = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0));
  if (fd < 0) {
    *error = {errno, "landlock_create_ruleset", "landlock", "", ""};
    return false;
  }
  plan->landlock.Reset(fd);
  if (s.readAll && !AddPathRule(fd, "/", kReadRights | kFsIoctlDev, handled, error)) return false;
  for (const std::string& p : s.readPaths) {
    if (!AddPathRule(fd, p, kReadRights | kFsIoctlDev, handled, error)) return false;
  }
  for (const std::string& p : s.writePaths) {
    if (!AddPathRule(fd, p, handled, handled, error)) return false;
  }
  // Our init runs the program in a PID namespace; it is static, so this one file is all it
  // needs to be executable under a narrowed read list.
  if (!s.readAll && !initPath.empty() &&
      !AddPathRule(fd, initPath, kFsExecute | kFsReadFile, handled, error)) {
    return false;
  }
  // Programs write to /dev/null all the time (sh's `>/dev/null`); it leads nowhere.
  return AddPathRule(fd, "/dev/null", kFsReadFile | kFsWriteFile | kFsTruncate, handled, error);
}

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#endif

constexpr uint32_t kRetErrnoEperm = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
constexpr uint32_t kRetEnosys = SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA);
// The low 32 bits of an argument (seccomp_data is in native byte order; both arches are LE).
constexpr uint32_t ArgLow(int i) {
  return static_cast<uint32_t>(offsetof(struct seccomp_data, args) + 8 * i);
}

void Stmt(std::vector<sock_filter>* f, uint16_t code, uint32_t k) {
  f->push_back(sock_filter{code, 0, 0, k});
}
void Jump(std::vector<sock_filter>* f, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  f->push_back(sock_filter{code, jt, jf, k});
}

bool PrepareSeccomp(const SandboxSpec& s, SandboxPlan* plan, SpawnError* error) {
#if defined(__x86_64__) || defined(__aarch64__)
  std::vector<sock_filter>& f = plan->filter;
  // A call made through another ABI (i386 int 0x80, x32, arm compat) has other numbers: a
  // deny list for ours would not cover it, so such calls kill the process (SIGSYS).
  Stmt(&f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0);
  Stmt(&f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  Stmt(&f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
  // x32 shares AUDIT_ARCH_X86_64 and flags its numbers with bit 30.
  Jump(&f, BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, 0, 1);
  Stmt(&f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
  for (int nr : s.denySyscalls) {
    Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1);
    Stmt(&f, BPF_RET | BPF_K, kRetErrnoEperm);
  }
  if (s.denyTtyIoctls) {
    // The kernel compares the command as an unsigned int: TIOCSTI | 1 << 32 is TIOCSTI to it,
    // so the filter must look at the low 32 bits only (which a 32-bit BPF load gives).
    Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 5);
    Stmt(&f, BPF_LD | BPF_W | BPF_ABS, ArgLow(1));
    Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, 0x5412 /* TIOCSTI */, 0, 1);
    Stmt(&f, BPF_RET | BPF_K, kRetErrnoEperm);
    Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, 0x541C /* TIOCLINUX */, 0, 1);
    Stmt(&f, BPF_RET | BPF_K, kRetErrnoEperm);
    Stmt(&f, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  }
  if (s.denyNamespaceClone) {
    // unshare/setns alone would leave clone(CLONE_NEWUSER | ...) open. clone3 passes its flags
    // in memory the filter cannot read: ENOSYS makes libc fall back to clone.
    constexpr uint32_t kNewNsFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;
    Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
    Stmt(&f, BPF_RET | BPF_K, kRetEnosys);
    Jump(&f, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3);
    Stmt(&f, BPF_LD | BPF_W | BPF_ABS, ArgLow(0));
    Jump(&f, BPF_JMP | BPF_JSET | BPF_K, kNewNsFlags, 0, 1);
    Stmt(&f, BPF_RET | BPF_K, kRetErrnoEperm);
  }
  Stmt(&f, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  if (f.size() > BPF_MAXINSNS) {
    *error = {E2BIG, "seccomp", "seccomp", "", ""};
    return false;
  }
  plan->prog.len = static_cast<unsigned short>(f.size());
  plan->prog.filter = f.data();
  return true;
#else
  (void)s;
  (void)plan;
  *error = {ENOTSUP, "seccomp", "seccomp", "", ""};
  return false;
#endif
}

bool PrepareSandboxSteps(const SpawnRequest& req, SandboxPlan* plan, SpawnError* error) {
  const SandboxSpec& s = req.sandbox;
  if (s.landlock && !PrepareLandlock(s, req.initPath, plan, error)) return false;
  if (s.seccomp && !PrepareSeccomp(s, plan, error)) return false;
  if (s.landlock && s.mountReadonly) {
    plan->mountReadonly = true;
    plan->cloneFlags |= CLONE_NEWNS;
    for (const std::string& p : s.writePaths) plan->roots.push_back(p.c_str());
    plan->rootFds.assign(plan->roots.size(), -1);
    plan->dropSysAdmin = geteuid() == 0;
  }
  if (s.privateTmp) {
    plan->privateTmp = true;
    plan->cloneFlags |= CLONE_NEWNS;
    if (plan->landlock.Valid()) {
      LandlockPathBeneathAttr attr{};
      attr.allowedAccess = HandledFs(UsedLandlockAbi(s));
      attr.parentFd = -1;  // the child opens its /tmp and fills this in
      static_assert(sizeof attr == sizeof plan->tmpRule, "path_beneath layout");
      memcpy(plan->tmpRule, &attr, sizeof attr);
    }
  }
  if (s.network != 0) {
    plan->cloneFlags |= CLONE_NEWNET;
    if (s.network == 2) {
      plan->loopback = true;
      memcpy(plan->lo.ifr_name, "lo", 3);
      plan->lo.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    }
  }
  return true;
}

}  // namespace

int LandlockAbi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, kLandlockCreateRulesetVersion);
  return abi < 0 ? -errno : static_cast<int>(abi);
}

const char* SeccompArch() {
#if defined(__x86_64__)
  return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 ? "x86_64" : "";
#elif defined(__aarch64__)
  return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 ? "aarch64" : "";
#else
  return "";
#endif
}

long SyscallNumber(const std::string& name) {
  for (const SyscallName& s : kSyscallNames) {
    if (name == s.name) return s.nr;
  }
  return -1;
}

bool PrepareSandbox(const SpawnRequest& req, SandboxPlan* plan, SpawnError* error) {
  const SandboxSpec& s = req.sandbox;
  if (req.pidNamespace) {
    plan->cloneFlags |= CLONE_NEWPID;
    if (req.mountProc) {
      plan->mountProc = true;
      plan->cloneFlags |= CLONE_NEWNS;
    }
  }
  if (s.any) {
    plan->noNewPrivs = true;  // implied by every sandbox option
    if (!PrepareSandboxSteps(req, plan, error)) return false;
  }
  // The namespaces are made by clone, while the child still has our credentials: root
  // needs nothing more (and a later uid switch happens inside them). Anyone else gets them
  // through a user namespace of its own that maps only its own ids, never uid 0.
  if (plan->cloneFlags != 0 && geteuid() != 0) {
    plan->cloneFlags |= CLONE_NEWUSER;
    plan->userns = true;
    snprintf(plan->uidMap, sizeof plan->uidMap, "%u %u 1", geteuid(), geteuid());
    snprintf(plan->gidMap, sizeof plan->gidMap, "%u %u 1", getegid(), getegid());
  }
  return true;
}
}  // namespace coreproc

#endif  // __linux__
