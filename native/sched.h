// CPU affinity, scheduling policy, nice and resource limits for a process or a native thread
// (Linux: any task id; 0 means the calling thread). Thin checked syscalls: validation with
// good messages lives in lib/sched, these only report the kernel's errno and the syscall.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace coreproc {

struct SchedErr {
  int err = 0;
  const char* syscall = "";
};

using CpuList = std::vector<int>;

// Policy names at the binding ('other', 'fifo'...) <-> this platform's constants.
bool PolicyFromName(const std::string& name, int* policy);
const char* PolicyName(int policy);
bool IsRealtimePolicy(int policy);
bool RlimitFromName(const std::string& name, int* resource);
const char* RlimitName(int resource);

int CpuCount();
CpuList OnlineCpus();
int64_t CurrentTid();
bool CurrentCpu(int* cpu, SchedErr* e);
bool GetAffinity(pid_t id, CpuList* cpus, SchedErr* e);
bool SetAffinity(pid_t id, const CpuList& cpus, SchedErr* e);
bool GetScheduler(pid_t id, int* policy, int* priority, bool* resetOnFork, SchedErr* e);
bool SetScheduler(pid_t id, int policy, int priority, bool resetOnFork, SchedErr* e);
bool GetNice(pid_t id, int* nice, SchedErr* e);
bool SetNice(pid_t id, int nice, SchedErr* e);
bool PriorityRange(int policy, int* min, int* max);
// -1 stands for RLIM_INFINITY in both directions.
bool GetRlimit(pid_t id, int resource, int64_t* soft, int64_t* hard, SchedErr* e);
bool SetRlimit(pid_t id, int resource, int64_t soft, int64_t hard, SchedErr* e);
bool SetThreadName(const std::string& name, SchedErr* e);
bool ThreadStackSize(size_t* bytes, SchedErr* e);

// What the process ran with when the addon first loaded (read from the main thread, whose
// tid is the pid). Children are reset to it unless they ask to inherit the calling thread's
// settings: a worker pinned to CPU 1 at realtime priority must not hand that to `ls`.
struct Baseline {
  bool valid = false;
  CpuList affinity;
  int policy = 0;
  int priority = 0;
  int nice = 0;
};
const Baseline& ProcessBaseline();

// Threads of ours, by tid, from registerThread() until their environment is torn down.
// RunOnOurThread holds the registry lock around `op`, so the thread cannot finish exiting
// (its teardown unregisters under the same lock) and its tid cannot be recycled meanwhile.
void RegisterThread(pid_t tid);
void UnregisterThread(pid_t tid);
bool IsOurThread(pid_t tid);
// Fails with ESRCH when tid is not a registered thread; otherwise returns op's result.
bool RunOnOurThread(pid_t tid, SchedErr* e, const std::function<bool()>& op);

}  // namespace coreproc
