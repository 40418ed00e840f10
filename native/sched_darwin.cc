// macOS scheduling calls. XNU has no hard CPU pinning (THREAD_AFFINITY_POLICY is a hint and
// Apple Silicon refuses it), so affinity answers ENOTSUP. Realtime on the calling thread maps
// to THREAD_TIME_CONSTRAINT_POLICY; nice and rlimits work for processes, not threads.
#ifdef __APPLE__

#include <errno.h>
#include <mach/mach.h>
#include <mach/mach_time.h>
#include <mach/thread_policy.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sched.h"

namespace coreproc {

namespace {

bool Unsupported(SchedErr* e, const char* syscall) {
  e->err = ENOTSUP;
  e->syscall = syscall;
  return false;
}

bool Fail(SchedErr* e, const char* syscall) {
  e->err = errno;
  e->syscall = syscall;
  return false;
}

// Only this process (0 or our pid) can be addressed: macOS has no prlimit for another pid,
// and per-thread nice is not a thing there.
bool IsSelf(pid_t id) { return id == 0 || id == getpid(); }

struct NamedValue {
  const char* name;
  int value;
};

const NamedValue kPolicies[] = {{"other", SCHED_OTHER}, {"fifo", SCHED_FIFO}, {"rr", SCHED_RR}};

const NamedValue kRlimits[] = {
    {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},     {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},       {"as", RLIMIT_AS},           {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},   {"memlock", RLIMIT_MEMLOCK}, {"stack", RLIMIT_STACK},
    {"rss", RLIMIT_RSS},
};

}  // namespace

bool PolicyFromName(const std::string& name, int* policy) {
  for (const NamedValue& p : kPolicies) {
    if (name == p.name) {
      *policy = p.value;
      return true;
    }
  }
  return false;
}

const char* PolicyName(int policy) {
  for (const NamedValue& p : kPolicies) {
    if (p.value == policy) return p.name;
  }
  return "unknown";
}

bool IsRealtimePolicy(int policy) { return policy == SCHED_FIFO || policy == SCHED_RR; }

bool RlimitFromName(const std::string& name, int* resource) {
  for (const NamedValue& r : kRlimits) {
    if (name == r.name) {
      *resource = r.value;
      return true;
    }
  }
  return false;
}

const char* RlimitName(int resource) {
  for (const NamedValue& r : kRlimits) {
    if (r.value == resource) return r.name;
  }
  return "unknown";
}

int CpuCount() {
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<int>(n) : 1;
}

CpuList OnlineCpus() {
  CpuList cpus;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  for (long c = 0; c < (n > 0 ? n : 1); c++) cpus.push_back(static_cast<int>(c));
  return cpus;
}

int64_t CurrentTid() {
  uint64_t tid = 0;
  pthread_threadid_np(nullptr, &tid);
  return static_cast<int64_t>(tid);
}

bool CurrentCpu(int*, SchedErr* e) { return Unsupported(e, "sched_getcpu"); }
bool GetAffinity(pid_t, CpuList*, SchedErr* e) { return Unsupported(e, "sched_getaffinity"); }
bool SetAffinity(pid_t, const CpuList&, SchedErr* e) { return Unsupported(e, "sched_setaffinity"); }

bool GetScheduler(pid_t id, int* policy, int* priority, bool* resetOnFork, SchedErr* e) {
  if (id != 0) return Unsupported(e, "pthread_getschedparam");
  struct sched_param param {};
  int err = pthread_getschedparam(pthread_self(), policy, &param);
  if (err != 0) {
    e->err = err;
    e->syscall = "pthread_getschedparam";
    return false;
  }
  *priority = param.sched_priority;
  *resetOnFork = false;
  return true;
}

// Realtime: a time-constraint policy with a 1 ms period and up to half of it computing,
// the shape audio threads use (NATIVE-NOTES §5). Only the calling thread can be changed.
bool SetScheduler(pid_t id, int policy, int, bool, SchedErr* e) {
  if (id != 0) return Unsupported(e, "thread_policy_set");
  if (!IsRealtimePolicy(policy)) {
    thread_standard_policy_data_t standard{};
    kern_return_t kr = thread_policy_set(mach_thread_self(), THREAD_STANDARD_POLICY,
                                         reinterpret_cast<thread_policy_t>(&standard),
                                         THREAD_STANDARD_POLICY_COUNT);
    if (kr != KERN_SUCCESS) return Unsupported(e, "thread_policy_set");
    return true;
  }
  mach_timebase_info_data_t tb{};
  mach_timebase_info(&tb);
  const double msToAbs = 1e6 * static_cast<double>(tb.denom) / static_cast<double>(tb.numer);
  thread_time_constraint_policy_data_t rt{};
  rt.period = static_cast<uint32_t>(1.0 * msToAbs);
  rt.computation = static_cast<uint32_t>(0.5 * msToAbs);
  rt.constraint = static_cast<uint32_t>(1.0 * msToAbs);
  rt.preemptible = 1;
  kern_return_t kr = thread_policy_set(mach_thread_self(), THREAD_TIME_CONSTRAINT_POLICY,
                                       reinterpret_cast<thread_policy_t>(&rt),
                                       THREAD_TIME_CONSTRAINT_POLICY_COUNT);
  if (kr != KERN_SUCCESS) {
    e->err = EPERM;
    e->syscall = "thread_policy_set";
    return false;
  }
  return true;
}

bool GetNice(pid_t id, int* nice, SchedErr* e) {
  if (id == 0) return Unsupported(e, "getpriority");  // per-thread nice does not exist here
  errno = 0;
  int n = getpriority(PRIO_PROCESS, static_cast<id_t>(id));
  if (n == -1 && errno != 0) return Fail(e, "getpriority");
  *nice = n;
  return true;
}

bool SetNice(pid_t id, int nice, SchedErr* e) {
  if (id == 0) return Unsupported(e, "setpriority");
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(id), nice) != 0) return Fail(e, "setpriority");
  return true;
}

bool PriorityRange(int policy, int* min, int* max) {
  *min = sched_get_priority_min(policy);
  *max = sched_get_priority_max(policy);
  return *min >= 0 && *max >= 0;
}

bool GetRlimit(pid_t id, int resource, int64_t* soft, int64_t* hard, SchedErr* e) {
  if (!IsSelf(id)) return Unsupported(e, "getrlimit");
  struct rlimit lim {};
  if (getrlimit(resource, &lim) != 0) return Fail(e, "getrlimit");
  *soft = lim.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(lim.rlim_cur);
  *hard = lim.rlim_max == RLIM_INFINITY ? -1 : static_cast<int64_t>(lim.rlim_max);
  return true;
}

bool SetRlimit(pid_t id, int resource, int64_t soft, int64_t hard, SchedErr* e) {
  if (!IsSelf(id)) return Unsupported(e, "setrlimit");
  struct rlimit lim {};
  lim.rlim_cur = soft < 0 ? RLIM_INFINITY : static_cast<rlim_t>(soft);
  lim.rlim_max = hard < 0 ? RLIM_INFINITY : static_cast<rlim_t>(hard);
  if (setrlimit(resource, &lim) != 0) return Fail(e, "setrlimit");
  return true;
}

bool SetThreadName(const std::string& name, SchedErr* e) {
  int err = pthread_setname_np(name.substr(0, 63).c_str());
  if (err != 0) {
    e->err = err;
    e->syscall = "pthread_setname_np";
    return false;
  }
  return true;
}

bool ThreadStackSize(size_t* bytes, SchedErr*) {
  *bytes = pthread_get_stacksize_np(pthread_self());
  return true;
}

}  // namespace coreproc

#endif  // __APPLE__
