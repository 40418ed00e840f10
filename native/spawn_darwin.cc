// macOS spawn: posix_spawn with Apple's POSIX_SPAWN_CLOEXEC_DEFAULT, which closes every
// descriptor without a file action, so only 0..2 reach the child. There is no clone path:
// requests that need one answer ENOTSUP, which lib/process reports as Unsupported.
#ifdef __APPLE__

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "spawn.h"
#include "sys.h"

extern char** environ;

namespace coreproc {

// Both are in every macOS we support (10.15+); closing descriptors is POSIX_SPAWN_CLOEXEC_DEFAULT.
const SpawnExtensions& GetSpawnExtensions() {
  static const SpawnExtensions ext = [] {
    SpawnExtensions e;
    e.addchdir = posix_spawn_file_actions_addchdir_np;
    return e;
  }();
  return ext;
}

bool Spawn(const SpawnRequest& req, SpawnResult* out, SpawnError* error) {
  // No clone path here (see the top of this file), and XNU documents no spawn scheduler
  // attributes: every child-side setting answers Unsupported, naming the first one asked.
  const char* unsupported = req.forceClone                ? "clone"
                            : req.hasAffinity             ? "affinity"
                            : req.hasScheduler            ? "scheduler"
                            : req.hasNice                 ? "nice"
                            : !req.rlimits.empty()        ? "rlimit"
                            : req.cgroupFd >= 0           ? "cgroup"
                            : req.deathSignal != 0        ? "deathsignal"
                            : req.hasGid                  ? "setgid"
                            : req.hasUid                  ? "setuid"
                            : req.sandbox.any             ? "sandbox"
                            : !req.limitCgroupFds.empty() ? "limits"
                                                          : nullptr;
  if (unsupported != nullptr) {
    *error = {ENOTSUP, unsupported, unsupported, ""};
    return false;
  }
  std::string path;
  if (!ResolveProgram(req, &path, error)) return false;
  StdioPlan plan;
  if (!PrepareStdio(req, &plan, error)) return false;

  std::vector<char*> argv;
  for (const std::string& s : req.argv) argv.push_back(const_cast<char*>(s.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envv;
  for (const std::string& s : req.env) envv.push_back(const_cast<char*>(s.c_str()));
  envv.push_back(nullptr);

  sigset_t defaults;
  sigfillset(&defaults);
  PosixSpawnSetup setup;
  // With CLOEXEC_DEFAULT every descriptor without a file action closes: inherited 0..2 have
  // their dup2-onto-themselves action from the plan.
  int err = setup.Prepare(req, plan, defaults, POSIX_SPAWN_CLOEXEC_DEFAULT);
  if (err != 0) {
    *error = {err, "posix_spawn_file_actions", "spawn", ""};
    return false;
  }
  if (!setup.Run(req, path, argv.data(), req.inheritEnv ? environ : envv.data(), out, error)) {
    return false;
  }
  for (int i = 0; i < 3; i++) out->parentEnds[i] = std::move(plan.parentEnds[i]);
  return true;
}

}  // namespace coreproc

#endif  // __APPLE__
