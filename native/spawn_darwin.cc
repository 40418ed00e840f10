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

bool Spawn(const SpawnRequest& req, SpawnResult* out, SpawnError* error) {
  if (req.forceClone) {
    *error = {ENOTSUP, "clone", "spawn", ""};
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

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  int err = 0;
  for (int i = 0; i < 3 && err == 0; i++) {
    // With CLOEXEC_DEFAULT every stream, inherited ones too, needs an action to survive.
    err = posix_spawn_file_actions_adddup2(&fa, plan.source[i], i);
  }
  if (err == 0 && req.hasCwd) err = posix_spawn_file_actions_addchdir_np(&fa, req.cwd.c_str());
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_CLOEXEC_DEFAULT;
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  if (err == 0) err = posix_spawnattr_setsigmask(&attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(&attr, &all);
  if (req.setsid) {
    flags |= POSIX_SPAWN_SETSID;
  } else if (req.pgid >= 0) {
    flags |= POSIX_SPAWN_SETPGROUP;
    if (err == 0) err = posix_spawnattr_setpgroup(&attr, req.pgid);
  }
  if (err == 0) err = posix_spawnattr_setflags(&attr, flags);
  pid_t pid = -1;
  if (err == 0) {
    out->startNs = MonotonicNs();
    err = posix_spawn(&pid, path.c_str(), &fa, &attr, argv.data(),
                      req.inheritEnv ? environ : envv.data());
    if (err != 0) {
      bool cwdFault =
          req.hasCwd && (err == ENOENT || err == ENOTDIR || err == EACCES) && !CwdIsUsable(req.cwd);
      *error = cwdFault ? SpawnError{err, "chdir", "chdir", req.cwd}
                        : SpawnError{err, "posix_spawn", "exec", path};
    }
  } else {
    *error = {err, "posix_spawn_file_actions", "spawn", ""};
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return false;
  out->pid = pid;
  out->method = "posix_spawn";
  for (int i = 0; i < 3; i++) out->parentEnds[i] = std::move(plan.parentEnds[i]);
  return true;
}

}  // namespace coreproc

#endif  // __APPLE__
