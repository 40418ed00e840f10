// Per-environment state: every Node environment (the main thread and each worker) has its
// own libuv loop, its own children's watchers and its own timers, and tears them down in
// its own async cleanup hook (NATIVE-NOTES §2, pitfall 8).
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "fd.h"
#include "sys.h"

namespace coreproc {

struct EnvData;

// One spawned child. Touched only on its environment's thread (JS calls and loop callbacks
// of that one loop), which is why the reap needs no lock: the async watcher and waitSync
// can never run at the same time. After teardown the orphan reaper owns pid and pidfd.
struct Child {
  EnvData* env = nullptr;  // null once the environment is gone
  pid_t pid = -1;
  UniqueFd pidfd;
  uv_poll_t* poll = nullptr;
  bool reaped = false;
  bool orphaned = false;
  bool refed = true;
  bool groupLeader = false;
  // Adopted, not spawned by us (adopt()): never reaped here, even when it happens to be our
  // child (node:child_process's), whose status belongs to whoever spawned it.
  bool foreign = false;
  int64_t startNs = 0;
  // PID namespace: our init (pid) writes the program's raw wait status here before it exits;
  // that status, not init's own, is the child's (native/init_linux.c).
  UniqueFd statusFd;
  ExitInfo info;
  Napi::FunctionReference onExit;
};

struct EnvData {
  uv_loop_t* loop = nullptr;
  bool usePidfd = true;  // false: SIGCHLD watcher + waitpid(pid, WNOHANG) per child
  bool forceClone = false;
  std::unordered_map<Child*, std::shared_ptr<Child>> live;
  uv_signal_t* sigchld = nullptr;
  int fallbackRefs = 0;
  std::unordered_map<uint32_t, struct Timer*> timers;
  std::unordered_map<uint32_t, struct Reader*> readers;
  uint32_t nextTimerId = 1;  // ids for timers and readers alike
  Napi::FunctionReference childCtor;
  napi_async_cleanup_hook_handle cleanupHandle = nullptr;
  int pendingCloses = 0;
  bool tearingDown = false;
  pid_t registeredTid = 0;  // this environment's thread, once registerThread() ran in it
};

EnvData* GetEnvData(Napi::Env env);

// Closes every entry of an id -> object map; `close` erases from the map, hence the copy.
template <typename T, typename Close>
void CloseAll(const std::unordered_map<uint32_t, T*>& map, Close close) {
  std::vector<T*> all;
  all.reserve(map.size());
  for (const auto& entry : map) all.push_back(entry.second);
  for (T* item : all) close(item);
}

// child.cc
Napi::Function DefineNativeChild(Napi::Env env, EnvData* data);
Napi::Value WrapChild(Napi::Env env, std::shared_ptr<Child> child);
// Before a spawn in fallback mode: the SIGCHLD watcher must exist before the child can exit.
bool EnsureSigchldWatcher(EnvData* data);
bool WatchChild(EnvData* data, const std::shared_ptr<Child>& child);
void TeardownChildren(EnvData* data);
void CloseSignalCounted(EnvData* data, uv_signal_t* handle);
// addon.cc: one pending close finished; completes teardown when it was the last.
void CloseDone(EnvData* data);

// timer.cc
void InitTimers(Napi::Env env, Napi::Object exports);
void TeardownTimers(EnvData* data);

// reader.cc
void InitReaders(Napi::Env env, Napi::Object exports);
void InitSandbox(Napi::Env env, Napi::Object exports);
// socketpair() and collectSync(): lib/child_process (sync_collect.cc).
void InitSyncCollect(Napi::Env env, Napi::Object exports);
void TeardownReaders(EnvData* data);

// splice.cc: pipeTo, moving a child's output to a descriptor off the JS thread.
void InitSplice(Napi::Env env, Napi::Object exports);
void TeardownSplice(EnvData* data);

// sched.cc
void InitSched(Napi::Env env, Napi::Object exports);
struct SchedErr;
// { errno, syscall }: how the sched and realtime bindings report a failed syscall to lib/sched.
Napi::Value SchedErrValue(Napi::Env env, const SchedErr& e);
// Unregisters this environment's thread: after this no setAffinity(tid, ourThread) reaches it.
void TeardownSched(EnvData* data);

// realtime.cc: sleepUntil, monotonicNs, memory locking, SCHED_DEADLINE.
void InitRealtime(Napi::Env env, Napi::Object exports);

// orphans.cc: children still running when their environment goes away are reaped here.
void AdoptOrphan(pid_t pid, int pidfd);

}  // namespace coreproc
