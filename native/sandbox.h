// Sandbox steps for the clone child (issue 16): everything the kernel needs (the seccomp BPF
// program, the Landlock ruleset, the user namespace maps, the ifreq that brings lo up) is
// built here in the parent before clone, so the child only makes plain syscalls on it.
#pragma once

#include <string>

#if defined(__linux__)
#include <linux/filter.h>
#include <net/if.h>

#include <vector>

#include "fd.h"
#include "spawn.h"
#endif

namespace coreproc {

// What this kernel offers, for lib/process to refuse (never downgrade) what it lacks.
// landlockAbi: the ABI version, or -errno (EOPNOTSUPP: built but disabled, ENOSYS: absent).
// seccompArch: "x86_64" | "aarch64" when we can build filters for the running ABI, else "".
int LandlockAbi();
const char* SeccompArch();
// The native number of a syscall name, or -1 when this architecture has no such call.
long SyscallNumber(const std::string& name);

#if defined(__linux__)
struct SandboxPlan {
  bool noNewPrivs = false;
  std::vector<sock_filter> filter;  // empty: no seccomp
  sock_fprog prog{};
  UniqueFd landlock;   // ruleset, restricted onto the child (CLOEXEC: gone at exec)
  int cloneFlags = 0;  // CLONE_NEWNET, with CLONE_NEWUSER when the child will not be root
  bool userns = false;
  char uidMap[32] = {};  // "<uid> <uid> 1", the single self-map the child writes itself
  char gidMap[32] = {};
  bool loopback = false;
  struct ifreq lo {};
  bool privateTmp = false;
  // With privateTmp and Landlock: the rule the child adds for its fresh /tmp (a rule made
  // here would name our /tmp, not the tmpfs mounted over it). Kernel layout, 12 packed bytes.
  unsigned char tmpRule[12] = {};
  // Landlock ABI 1-2 cannot deny truncate(2): the child remounts everything read-only but
  // the write roots (CLONE_NEWNS given). roots point into the request's writePaths; the child
  // fills rootFds with detached copies of them (open_tree) before the remount.
  bool mountReadonly = false;
  std::vector<const char*> roots;
  std::vector<int> rootFds;
  // A root child keeps CAP_SYS_ADMIN over its mount namespace: dropped from the bounding set,
  // or it could clear the read-only flag again (mount_setattr has no Landlock hook).
  bool dropSysAdmin = false;
  // pidNamespace with mountProc: a fresh proc on /proc, mounted from inside the namespace.
  bool mountProc = false;
};

// Builds the plan for req.sandbox and req.pidNamespace (the namespaces both need).
// Returns false with *error filled (stage "landlock" / "seccomp") and nothing left open.
bool PrepareSandbox(const SpawnRequest& req, SandboxPlan* plan, SpawnError* error);
#endif

}  // namespace coreproc
