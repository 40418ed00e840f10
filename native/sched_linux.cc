// Linux scheduling calls. Every id is a task id: a pid names the main thread of that process,
// a tid one thread; 0 is the calling thread. Affinity, policy and nice are per thread here.
#ifdef __linux__

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd.h"
#include "sched.h"

namespace coreproc {

namespace {

// glibc declares prlimit's resource as its own enum under _GNU_SOURCE; musl takes an int.
#if defined(__GLIBC__)
using RlimitResource = __rlimit_resource;
#else
using RlimitResource = int;
#endif

struct NamedValue {
  const char* name;
  int value;
};

const NamedValue kPolicies[] = {
    {"other", SCHED_OTHER},
    {"batch", SCHED_BATCH},
    {"idle", SCHED_IDLE},
    {"fifo", SCHED_FIFO},
    {"rr", SCHED_RR},
    // Only spawn's decode and priorityRange (0..0) meet it by name: sched_setscheduler cannot
    // set it, lib/sched routes it to sched_setattr (realtime.h).
    {"deadline", 6},
};

const NamedValue kRlimits[] = {
    {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},
    {"core", RLIMIT_CORE},
    {"cpu", RLIMIT_CPU},
    {"as", RLIMIT_AS},
    {"data", RLIMIT_DATA},
    {"fsize", RLIMIT_FSIZE},
    {"memlock", RLIMIT_MEMLOCK},
    {"rtprio", RLIMIT_RTPRIO},
    {"stack", RLIMIT_STACK},
    {"nice", RLIMIT_NICE},
    {"rttime", RLIMIT_RTTIME},
    {"msgqueue", RLIMIT_MSGQUEUE},
    {"sigpending", RLIMIT_SIGPENDING},
    {"locks", RLIMIT_LOCKS},
    {"rss", RLIMIT_RSS},
};

template <size_t N>
bool Lookup(const NamedValue (&table)[N], const std::string& name, int* value) {
  for (const NamedValue& entry : table) {
    if (name == entry.name) {
      *value = entry.value;
      return true;
    }
  }
  return false;
}

template <size_t N>
const char* NameOf(const NamedValue (&table)[N], int value) {
  for (const NamedValue& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

bool Fail(SchedErr* e, const char* syscall) {
  e->err = errno;
  e->syscall = syscall;
  return false;
}

// A dynamically sized cpu_set_t: machines with more than 1024 CPUs exist, and the kernel
// refuses a getaffinity buffer smaller than its own mask.
class CpuSet {
 public:
  explicit CpuSet(int cpus) : count_(cpus < 1 ? 1 : cpus), set_(CPU_ALLOC(count_)) {
    if (set_ != nullptr) CPU_ZERO_S(Size(), set_);
  }
  ~CpuSet() {
    if (set_ != nullptr) CPU_FREE(set_);
  }
  CpuSet(const CpuSet&) = delete;
  CpuSet& operator=(const CpuSet&) = delete;

  bool Ok() const { return set_ != nullptr; }
  size_t Size() const { return CPU_ALLOC_SIZE(count_); }
  cpu_set_t* Get() { return set_; }
  int Count() const { return count_; }

 private:
  int count_;
  cpu_set_t* set_;
};

int MaskCapacity() {
  int conf = CpuCount();
  return conf > 1024 ? conf : 1024;
}

}  // namespace

bool PolicyFromName(const std::string& name, int* policy) {
  return Lookup(kPolicies, name, policy);
}

const char* PolicyName(int policy) {
#ifdef SCHED_DEADLINE
  if (policy == SCHED_DEADLINE) return "deadline";
#endif
  return NameOf(kPolicies, policy);
}

bool IsRealtimePolicy(int policy) { return policy == SCHED_FIFO || policy == SCHED_RR; }

bool RlimitFromName(const std::string& name, int* resource) {
  return Lookup(kRlimits, name, resource);
}

const char* RlimitName(int resource) { return NameOf(kRlimits, resource); }

int CpuCount() {
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<int>(n) : 1;
}

CpuList OnlineCpus() {
  CpuList cpus;
  int fd = RetryEintr([] { return open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC); });
  if (fd >= 0) {
    UniqueFd owned(fd);
    char buf[4096];
    ssize_t n = RetryEintr([&] { return read(fd, buf, sizeof buf - 1); });
    if (n > 0) {
      buf[n] = '\0';
      // "0-3,5,7-8\n"
      const char* p = buf;
      while (*p >= '0' && *p <= '9') {
        char* end;
        long lo = strtol(p, &end, 10);
        long hi = lo;
        if (*end == '-') hi = strtol(end + 1, &end, 10);
        for (long c = lo; c <= hi; c++) cpus.push_back(static_cast<int>(c));
        p = *end == ',' ? end + 1 : end;
      }
    }
  }
  if (cpus.empty()) {  // no sysfs (some containers): trust sysconf
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < (n > 0 ? n : 1); c++) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

int64_t CurrentTid() { return static_cast<int64_t>(syscall(SYS_gettid)); }

bool CurrentCpu(int* cpu, SchedErr* e) {
  int c = sched_getcpu();
  if (c < 0) return Fail(e, "sched_getcpu");
  *cpu = c;
  return true;
}

bool GetAffinity(pid_t id, CpuList* cpus, SchedErr* e) {
  for (int capacity = MaskCapacity();; capacity *= 2) {
    CpuSet set(capacity);
    if (!set.Ok()) return Fail(e, "CPU_ALLOC");
    if (sched_getaffinity(id, set.Size(), set.Get()) != 0) {
      if (errno == EINVAL && capacity < (1 << 20)) continue;  // the kernel's mask is larger
      return Fail(e, "sched_getaffinity");
    }
    cpus->clear();
    for (int c = 0; c < set.Count(); c++) {
      if (CPU_ISSET_S(c, set.Size(), set.Get())) cpus->push_back(c);
    }
    return true;
  }
}

bool SetAffinity(pid_t id, const CpuList& cpus, SchedErr* e) {
  int highest = 0;
  for (int c : cpus) highest = c > highest ? c : highest;
  CpuSet set(highest + 1);
  if (!set.Ok()) return Fail(e, "CPU_ALLOC");
  for (int c : cpus) CPU_SET_S(c, set.Size(), set.Get());
  if (sched_setaffinity(id, set.Size(), set.Get()) != 0) return Fail(e, "sched_setaffinity");
  return true;
}

bool GetScheduler(pid_t id, int* policy, int* priority, bool* resetOnFork, SchedErr* e) {
  int p = sched_getscheduler(id);
  if (p < 0) return Fail(e, "sched_getscheduler");
  struct sched_param param {};
  if (sched_getparam(id, &param) != 0) return Fail(e, "sched_getparam");
  *policy = p & ~SCHED_RESET_ON_FORK;
  *resetOnFork = (p & SCHED_RESET_ON_FORK) != 0;
  *priority = param.sched_priority;
  return true;
}

bool SetScheduler(pid_t id, int policy, int priority, bool resetOnFork, SchedErr* e) {
  struct sched_param param {};
  param.sched_priority = priority;
  int flags = policy | (resetOnFork ? SCHED_RESET_ON_FORK : 0);
  if (sched_setscheduler(id, flags, &param) != 0) return Fail(e, "sched_setscheduler");
  return true;
}

bool GetNice(pid_t id, int* nice, SchedErr* e) {
  errno = 0;  // -1 is a valid nice value: only errno tells a failure
  int n = getpriority(PRIO_PROCESS, static_cast<id_t>(id));
  if (n == -1 && errno != 0) return Fail(e, "getpriority");
  *nice = n;
  return true;
}

bool SetNice(pid_t id, int nice, SchedErr* e) {
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(id), nice) != 0) return Fail(e, "setpriority");
  return true;
}

bool PriorityRange(int policy, int* min, int* max) {
  *min = sched_get_priority_min(policy);
  *max = sched_get_priority_max(policy);
  return *min >= 0 && *max >= 0;
}

bool GetRlimit(pid_t id, int resource, int64_t* soft, int64_t* hard, SchedErr* e) {
  struct rlimit old {};
  if (prlimit(id, static_cast<RlimitResource>(resource), nullptr, &old) != 0) {
    return Fail(e, "prlimit");
  }
  *soft = old.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(old.rlim_cur);
  *hard = old.rlim_max == RLIM_INFINITY ? -1 : static_cast<int64_t>(old.rlim_max);
  return true;
}

bool SetRlimit(pid_t id, int resource, int64_t soft, int64_t hard, SchedErr* e) {
  struct rlimit lim {};
  lim.rlim_cur = soft < 0 ? RLIM_INFINITY : static_cast<rlim_t>(soft);
  lim.rlim_max = hard < 0 ? RLIM_INFINITY : static_cast<rlim_t>(hard);
  if (prlimit(id, static_cast<RlimitResource>(resource), &lim, nullptr) != 0) {
    return Fail(e, "prlimit");
  }
  return true;
}

bool SetThreadName(const std::string& name, SchedErr* e) {
  char comm[16] = {};  // TASK_COMM_LEN; the kernel truncates, we do it first to be explicit
  name.copy(comm, sizeof comm - 1);
  if (prctl(PR_SET_NAME, comm, 0, 0, 0) != 0) return Fail(e, "prctl");
  return true;
}

bool ThreadStackSize(size_t* bytes, SchedErr* e) {
  pthread_attr_t attr;
  int err = pthread_getattr_np(pthread_self(), &attr);
  if (err != 0) {
    e->err = err;
    e->syscall = "pthread_getattr_np";
    return false;
  }
  err = pthread_attr_getstacksize(&attr, bytes);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    e->err = err;
    e->syscall = "pthread_attr_getstacksize";
    return false;
  }
  return true;
}

}  // namespace coreproc

#endif  // __linux__
