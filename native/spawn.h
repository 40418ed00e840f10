// The spawn request as the native layer sees it: already validated by lib/process, so the
// parent-side code below only re-checks what the kernel will tell it anyway.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "fd.h"

namespace coreproc {

// SameAsStdout (stderr only): the child's fd 2 is a dup of whatever fd 1 gets, as `2>&1`,
// so both streams land in one pipe in the order the child wrote them.
enum class StdioKind {
  Inherit = 0,
  Null = 1,
  Pipe = 2,
  Socketpair = 3,
  Fd = 4,
  File = 5,
  SameAsStdout = 6
};

struct StdioSpec {
  StdioKind kind = StdioKind::Inherit;
  int fd = -1;       // StdioKind::Fd
  std::string path;  // StdioKind::File
  bool append = false;
};

// What the child may do after exec (issue 16). lib/process validated it and resolved syscall
// names for this architecture; native code builds the kernel objects before clone.
struct SandboxSpec {
  bool any = false;         // any field below set: the clone path, and Unsupported on macOS
  bool noNewPrivs = false;  // PR_SET_NO_NEW_PRIVS (implied by every other field)
  bool seccomp = false;
  std::vector<int> denySyscalls;    // native numbers; each returns EPERM
  bool denyTtyIoctls = false;       // ioctl TIOCSTI/TIOCLINUX, compared on the low 32 bits
  bool denyNamespaceClone = false;  // clone with CLONE_NEW* flags: EPERM; clone3: ENOSYS
  bool landlock = false;
  std::vector<std::string> writePaths;
  bool readAll = true;  // false: only readPaths (plus writePaths) may be read
  std::vector<std::string> readPaths;
  int landlockAbi = 0;         // the ABI to build for (lib caps it for tests); 0: the kernel's
  bool mountReadonly = false;  // Landlock ABI < 3: everything but writePaths mounted read-only
  int network = 0;             // 0 host, 1 none (empty net namespace), 2 loopback (lo up inside)
  bool privateTmp = false;     // a mount namespace with a fresh tmpfs on /tmp
};

struct SpawnRequest {
  std::string file;  // as the caller wrote it; searched in searchPath when it has no '/'
  std::string searchPath;
  std::vector<std::string> argv;
  bool inheritEnv = true;  // true: the child gets our environ as it is now
  std::vector<std::string> env;
  bool hasCwd = false;
  std::string cwd;
  StdioSpec stdio[3];
  // Child fds 3, 4, ...: extraFds[i] is our descriptor that becomes fd 3+i, -1 leaves it
  // closed (node:child_process stdio entries beyond 2: extra pipes, the IPC channel, fds).
  std::vector<int> extraFds;
  int pgid = -1;  // -1 keep ours, 0 new group led by the child, >0 join that group
  bool setsid = false;
  bool wantPidfd = true;    // false: the no-pidfd fallback (old kernels, or forced)
  bool forceClone = false;  // tests and benchmarks: take the clone path even when not needed

  // Scheduling and limits, applied in the child before exec (lib/sched validated them).
  bool hasAffinity = false;
  std::vector<int> affinity;
  bool hasScheduler = false;
  int policy = 0;
  int priority = 0;
  bool resetOnFork = false;
  // policy 'deadline' (SCHED_DEADLINE, applied with sched_setattr): its parameters in ns.
  uint64_t dlRuntimeNs = 0;
  uint64_t dlDeadlineNs = 0;
  uint64_t dlPeriodNs = 0;
  bool hasNice = false;
  int nice = 0;
  struct Rlimit {
    int resource;
    int64_t soft;  // -1: unlimited
    int64_t hard;
  };
  std::vector<Rlimit> rlimits;
  bool hasUid = false;
  uid_t uid = 0;
  bool hasGid = false;
  gid_t gid = 0;
  // false: settings not asked for are reset to the process baseline where the calling
  // thread differs from it (see sched.h, Baseline).
  bool inheritScheduling = false;

  // Containment, both done by the child itself before exec (so nothing it forks escapes):
  // an O_DIRECTORY fd of a cgroup v2 directory to join (-1: none), and a signal the kernel
  // sends it when the spawning thread dies (0: none; PR_SET_PDEATHSIG).
  int cgroupFd = -1;
  int deathSignal = 0;

  // F_SETPIPE_SZ for every 'pipe' stream before the child exists (0: the kernel's default).
  int pipeSize = 0;
  SandboxSpec sandbox;
  // Resource-limit cgroups (v1 controllers, or v2 ones apart from the containment cgroup):
  // O_DIRECTORY fds the child joins, like cgroupFd, before anything else (issue 16).
  std::vector<int> limitCgroupFds;
  // A PID namespace of its own (issue 29): the clone child is its PID 1 and execs initPath
  // (native/init_linux.c), which forks the program as PID 2. mountProc: a mount namespace
  // with a fresh /proc, so the program sees only its own tree.
  bool pidNamespace = false;
  bool mountProc = false;
  std::string initPath;
};

// Which step failed, so callers can tell a missing cwd from a missing program.
struct SpawnError {
  int err = 0;
  const char* syscall = "";
  const char* stage = "";
  std::string path;
  const char* resource = "";  // stage "rlimit": which limit the kernel refused
};

struct SpawnResult {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd parentEnds[3];   // our end of each 'pipe' stream
  const char* method = "";  // "posix_spawn" | "clone"
  int64_t startNs = 0;
  // pidNamespace: the read end init writes the program's raw wait status to before it exits.
  UniqueFd statusFd;
};

// posix_spawn file actions that are extensions, looked up at run time so one prebuild loads on
// every libc it targets (glibc 2.28 has neither; see spawn_linux.cc). nullptr: absent, and a
// request that needs one takes the clone path, which does the same in the child.
struct SpawnExtensions {
  int (*addclosefrom)(posix_spawn_file_actions_t*, int) = nullptr;      // glibc 2.34
  int (*addchdir)(posix_spawn_file_actions_t*, const char*) = nullptr;  // glibc 2.29, macOS 10.15
};
// Resolved once, at the first call (the addon's Init makes that call, at load).
const SpawnExtensions& GetSpawnExtensions();

// Returns false with *error filled; on failure nothing is left open and no child survives.
bool Spawn(const SpawnRequest& req, SpawnResult* out, SpawnError* error);

// ---- shared by the platform files ----

// Parent-side stdio plan: for each target 0..2 the fd to dup2 there. A source equal to its
// target means "inherit" (keep it, clear CLOEXEC); every other source is >= 3 and CLOEXEC,
// so the dup2 order in the child cannot clobber a source and nothing else survives exec.
struct StdioPlan {
  int source[3] = {-1, -1, -1};
  UniqueFd owned[3];  // sources we opened or duplicated and close after the spawn
  UniqueFd parentEnds[3];
  // Extra fds: a CLOEXEC duplicate of each, lifted above every target (>= 3 + count) so no
  // dup2 in the child can overwrite a source it still needs; -1 for a closed slot.
  std::vector<int> extraSource;
  std::vector<UniqueFd> extraOwned;
  bool extraHoles = false;  // a closed slot below an open one (posix_spawn cannot express it)
};

bool PrepareStdio(const SpawnRequest& req, StdioPlan* plan, SpawnError* error);
// Resolves req.file against req.searchPath the way execvp would (EACCES wins over ENOENT).
bool ResolveProgram(const SpawnRequest& req, std::string* path, SpawnError* error);
// After a failure whose errno could come from chdir or exec, tells which one it was.
bool CwdIsUsable(const std::string& cwd);
int DevNullFd();

// posix_spawn file actions and attributes, destroyed with the object.
class PosixSpawnSetup {
 public:
  PosixSpawnSetup() = default;
  ~PosixSpawnSetup();
  PosixSpawnSetup(const PosixSpawnSetup&) = delete;
  PosixSpawnSetup& operator=(const PosixSpawnSetup&) = delete;

  // What every platform asks of posix_spawn: the dup2 plan, the cwd, an empty signal mask,
  // `defaults` set to SIG_DFL, and the group or session. Returns 0 or an errno.
  int Prepare(const SpawnRequest& req, const StdioPlan& plan, const sigset_t& defaults,
              short extraFlags);
  // Spawns; on failure fills *error, telling a bad cwd from a bad program.
  bool Run(const SpawnRequest& req, const std::string& path, char* const* argv, char* const* envp,
           SpawnResult* out, SpawnError* error);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;

 private:
  bool actionsReady_ = false;
  bool attrReady_ = false;
};

}  // namespace coreproc
