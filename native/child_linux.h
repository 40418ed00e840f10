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
};

const char* ChildStageName(int stage);
const char* ChildStageSyscall(int stage);

// Everything the child needs, computed before clone so the child only reads it.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: stay
  int source[3];    // dup2 into 0..2; -1 leaves the fd as is
  int pgid;         // -1 keep, 0 new group, >0 join
  bool setsid;
  int errorFd;  // CLOEXEC write end of the report pipe
};

// Entry point handed to clone(). Never returns.
int ChildMain(void* plan);

}  // namespace coreproc
