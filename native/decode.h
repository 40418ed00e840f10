// Decoding of the JS spawn request into SpawnRequest, written once against a small value
// concept so the addon (an adaptor over Napi::Value, addon.cc) and the libFuzzer harness (a
// tree built from fuzz bytes, fuzz/spawn_request_fuzzer.cc) run the same code. lib/process
// validates with good messages first; this layer only has to make a misuse of the private
// binding a TypeError instead of undefined behaviour, a wrapped integer or an abort.
//
// The concept V (all const; a precondition violated is a bug the fuzzer's adaptor traps on):
//   bool IsUndefined(), IsString(), IsNumber(), IsArray(), IsObject()  (an array is an object)
//   bool Truthy()                  JS ToBoolean
//   std::string StringValue()      IsString() only; UTF-8 with any NUL bytes kept
//   double NumberValue()           IsNumber() only
//   uint32_t Length()              IsArray() only
//   V At(uint32_t i)               IsArray() only; a hole or i >= Length() is undefined
//   V Get(const char* key)         IsObject() only; a missing key is undefined
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <utility>
#include <vector>

#include "sched.h"
#include "spawn.h"

namespace coreproc {

// Bounds of the integer fields, shared with the fuzzer's invariant checks.
constexpr int64_t kMaxInt32 = 2147483647;
constexpr int64_t kMaxCpu = (int64_t{1} << 20) - 1;
constexpr int64_t kMaxId = 4294967294;            // uid_t/gid_t; 2^32-1 is "no change"
constexpr int64_t kMaxRlimit = int64_t{1} << 53;  // JS numbers stay exact up to 2^53
constexpr int64_t kMaxSignal = 64;                // SIGRTMAX on Linux
// A JS array's length is untrusted (new Array(2**32 - 1) is all holes): never reserve more.
constexpr uint32_t kMaxReserve = 1024;

namespace decode_detail {

// An integral number in lo..hi. The range test runs on the double and is false for NaN, so
// the cast only ever sees a value that fits (casting an out-of-range double is undefined).
// Every bound used is at most 2^53 in magnitude, so converting it to double is exact.
template <class V>
bool IntIn(const V& v, int64_t lo, int64_t hi, int64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.NumberValue();
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi))) return false;
  int64_t i = static_cast<int64_t>(d);
  if (static_cast<double>(i) != d) return false;
  *out = i;
  return true;
}

// Absent keeps *out as it is; present must be an integral number in lo..hi (int range).
template <class V>
bool OptionalInt(const V& v, int64_t lo, int64_t hi, int* out) {
  if (v.IsUndefined()) return true;
  int64_t i;
  if (!IntIn(v, lo, hi, &i)) return false;
  *out = static_cast<int>(i);
  return true;
}

// Strings become C strings for exec, open and chdir: an embedded NUL would silently cut them.
inline bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

enum class StrResult { Ok, NotString, HasNul };

template <class V>
StrResult CString(const V& v, std::string* out) {
  if (!v.IsString()) return StrResult::NotString;
  *out = v.StringValue();
  return HasNul(*out) ? StrResult::HasNul : StrResult::Ok;
}

template <class V>
StrResult StringArray(const V& v, std::vector<std::string>* out) {
  if (!v.IsArray()) return StrResult::NotString;
  uint32_t n = v.Length();
  out->reserve(n < kMaxReserve ? n : kMaxReserve);
  for (uint32_t i = 0; i < n; i++) {
    std::string s;
    StrResult r = CString(v.At(i), &s);
    if (r != StrResult::Ok) return r;
    out->push_back(std::move(s));
  }
  return StrResult::Ok;
}

// A number 0..3 (inherit, null, pipe, socketpair) or 6 (same as stdout), { fd } or
// { file, append? }.
template <class V>
bool Stdio(const V& v, StdioSpec* spec) {
  if (v.IsNumber()) {
    int64_t k;
    if (!IntIn(v, 0, 6, &k) || k == 4 || k == 5) return false;
    spec->kind = static_cast<StdioKind>(k);
    return true;
  }
  if (!v.IsObject()) return false;
  V fd = v.Get("fd");
  if (!fd.IsUndefined()) {
    int64_t n;
    if (!IntIn(fd, 0, kMaxInt32, &n)) return false;
    spec->kind = StdioKind::Fd;
    spec->fd = static_cast<int>(n);
    return true;
  }
  if (CString(v.Get("file"), &spec->path) != StrResult::Ok) return false;
  spec->kind = StdioKind::File;
  spec->append = v.Get("append").Truthy();
  return true;
}

// { affinity?, scheduler?, nice?, rlimits?, uid?, gid?, inheritScheduling }.
template <class V>
const char* Sched(const V& r, SpawnRequest* req) {
  int64_t v;
  V affinity = r.Get("affinity");
  if (!affinity.IsUndefined()) {
    if (!affinity.IsArray()) return "bad affinity";
    uint32_t n = affinity.Length();
    if (n == 0) return "bad affinity";
    req->affinity.reserve(n < kMaxReserve ? n : kMaxReserve);
    for (uint32_t i = 0; i < n; i++) {
      if (!IntIn(affinity.At(i), 0, kMaxCpu, &v)) return "bad affinity";
      req->affinity.push_back(static_cast<int>(v));
    }
    req->hasAffinity = true;
  }
  V scheduler = r.Get("scheduler");
  if (!scheduler.IsUndefined()) {
    if (!scheduler.IsObject()) return "bad scheduler";
    V policy = scheduler.Get("policy");
    if (!policy.IsString() || !PolicyFromName(policy.StringValue(), &req->policy)) {
      return "bad scheduler.policy";
    }
    if (!IntIn(scheduler.Get("priority"), 0, 1000, &v)) return "bad scheduler.priority";
    req->priority = static_cast<int>(v);
    req->resetOnFork = scheduler.Get("resetOnFork").Truthy();
    req->hasScheduler = true;
    if (policy.StringValue() == "deadline") {
      // SCHED_DEADLINE: lib/sched checked runtime <= deadline <= period; the kernel re-checks.
      const int64_t kMaxNs = int64_t{1} << 53;
      if (!IntIn(scheduler.Get("runtimeNs"), 1024, kMaxNs, &v)) return "bad scheduler.runtimeNs";
      req->dlRuntimeNs = static_cast<uint64_t>(v);
      if (!IntIn(scheduler.Get("deadlineNs"), 1024, kMaxNs, &v)) {
        return "bad scheduler.deadlineNs";
      }
      req->dlDeadlineNs = static_cast<uint64_t>(v);
      if (!IntIn(scheduler.Get("periodNs"), 1024, kMaxNs, &v)) return "bad scheduler.periodNs";
      req->dlPeriodNs = static_cast<uint64_t>(v);
    }
  }
  V nice = r.Get("nice");
  if (!nice.IsUndefined()) {
#ifdef FUZZ_PLANTED_BUG
    // PLANTED BUG for `npm run fuzz -- --self-test` only: the nice range check is skipped
    // (still int-sized, so only the harness's invariant can catch it, not UBSan).
    if (!IntIn(nice, -kMaxInt32 - 1, kMaxInt32, &v)) return "bad nice";
#else
    if (!IntIn(nice, -20, 19, &v)) return "bad nice";
#endif
    req->nice = static_cast<int>(v);
    req->hasNice = true;
  }
  V rlimits = r.Get("rlimits");
  if (!rlimits.IsUndefined()) {
    if (!rlimits.IsArray()) return "bad rlimits";
    uint32_t n = rlimits.Length();
    req->rlimits.reserve(n < kMaxReserve ? n : kMaxReserve);
    for (uint32_t i = 0; i < n; i++) {
      V entry = rlimits.At(i);
      if (!entry.IsArray() || entry.Length() != 3) return "bad rlimits";
      SpawnRequest::Rlimit lim{};
      V name = entry.At(0);
      if (!name.IsString() || !RlimitFromName(name.StringValue(), &lim.resource)) {
        return "bad rlimits";
      }
      if (!IntIn(entry.At(1), -1, kMaxRlimit, &lim.soft) ||
          !IntIn(entry.At(2), -1, kMaxRlimit, &lim.hard)) {
        return "bad rlimits";
      }
      req->rlimits.push_back(lim);
    }
  }
  V uid = r.Get("uid");
  if (!uid.IsUndefined()) {
    if (!IntIn(uid, 0, kMaxId, &v)) return "bad uid";
    req->uid = static_cast<uid_t>(v);
    req->hasUid = true;
  }
  V gid = r.Get("gid");
  if (!gid.IsUndefined()) {
    if (!IntIn(gid, 0, kMaxId, &v)) return "bad gid";
    req->gid = static_cast<gid_t>(v);
    req->hasGid = true;
  }
  req->inheritScheduling = r.Get("inheritScheduling").Truthy();
  return nullptr;
}

// { noNewPrivs, seccomp?: { deny: number[], ttyIoctls, namespaceClone },
//   landlock?: { write: string[], read?: string[], abi?, mountReadonly? }, network?: 0 | 1 | 2,
//   privateTmp? }.
template <class V>
const char* Sandbox(const V& v, SandboxSpec* s) {
  if (v.IsUndefined()) return nullptr;
  if (!v.IsObject()) return "bad sandbox";
  s->any = true;
  s->noNewPrivs = true;
  V seccomp = v.Get("seccomp");
  if (!seccomp.IsUndefined()) {
    if (!seccomp.IsObject()) return "bad sandbox.seccomp";
    V deny = seccomp.Get("deny");
    if (!deny.IsArray()) return "bad sandbox.seccomp.deny";
    uint32_t n = deny.Length();
    if (n > 4096) return "bad sandbox.seccomp.deny";
    s->denySyscalls.reserve(n < kMaxReserve ? n : kMaxReserve);
    for (uint32_t i = 0; i < n; i++) {
      int64_t nr;
      if (!IntIn(deny.At(i), 0, 4095, &nr)) return "bad sandbox.seccomp.deny";
      s->denySyscalls.push_back(static_cast<int>(nr));
    }
    s->denyTtyIoctls = seccomp.Get("ttyIoctls").Truthy();
    s->denyNamespaceClone = seccomp.Get("namespaceClone").Truthy();
    s->seccomp = true;
  }
  V landlock = v.Get("landlock");
  if (!landlock.IsUndefined()) {
    if (!landlock.IsObject()) return "bad sandbox.landlock";
    if (StringArray(landlock.Get("write"), &s->writePaths) != StrResult::Ok) {
      return "bad sandbox.landlock.write";
    }
    V read = landlock.Get("read");
    if (!read.IsUndefined()) {
      if (StringArray(read, &s->readPaths) != StrResult::Ok) return "bad sandbox.landlock.read";
      s->readAll = false;
    }
    if (!OptionalInt(landlock.Get("abi"), 0, 64, &s->landlockAbi))
      return "bad sandbox.landlock.abi";
    s->mountReadonly = landlock.Get("mountReadonly").Truthy();
    s->landlock = true;
  }
  if (!OptionalInt(v.Get("network"), 0, 2, &s->network)) return "bad sandbox.network";
  s->privateTmp = v.Get("privateTmp").Truthy();
  return nullptr;
}

}  // namespace decode_detail

// request: { file, searchPath, argv, env?, cwd?, stdio: [3], pgid, setsid, forceClone,
// cgroupFd?, deathSignal?, pipeSize?, pidNamespace?, ...Sched above } into a default-constructed
// *out. Returns nullptr, or the TypeError message after "native spawn: ", which names the failing
// field. Fields the addon owns (wantPidfd, the forced clone path) are left to the caller.
template <class V>
const char* DecodeSpawnRequest(const V& r, SpawnRequest* out) {
  using decode_detail::StrResult;
  if (!r.IsObject()) return "expected (request, onExit)";
  switch (decode_detail::CString(r.Get("file"), &out->file)) {
    case StrResult::Ok: break;
    case StrResult::NotString: return "file must be a string";
    case StrResult::HasNul: return "file must not contain NUL bytes";
  }
  V searchPath = r.Get("searchPath");
  if (!searchPath.IsUndefined() &&
      decode_detail::CString(searchPath, &out->searchPath) != StrResult::Ok) {
    return "bad searchPath";
  }
  switch (decode_detail::StringArray(r.Get("argv"), &out->argv)) {
    case StrResult::Ok: break;
    case StrResult::NotString: return "argv must be an array of strings";
    case StrResult::HasNul: return "argv must not contain NUL bytes";
  }
  V env = r.Get("env");
  if (!env.IsUndefined()) {
    out->inheritEnv = false;
    switch (decode_detail::StringArray(env, &out->env)) {
      case StrResult::Ok: break;
      case StrResult::NotString: return "env must be strings";
      case StrResult::HasNul: return "env must not contain NUL bytes";
    }
  }
  V cwd = r.Get("cwd");
  if (!cwd.IsUndefined()) {
    if (decode_detail::CString(cwd, &out->cwd) != StrResult::Ok) return "bad cwd";
    out->hasCwd = true;
  }
  V stdio = r.Get("stdio");
  if (!stdio.IsArray() || stdio.Length() != 3) return "stdio must have 3 entries";
  for (uint32_t i = 0; i < 3; i++) {
    if (!decode_detail::Stdio(stdio.At(i), &out->stdio[i])) return "bad stdio entry";
    // `2>&1` only: stdin or stdout cannot follow a stream that is not settled before them.
    if (out->stdio[i].kind == StdioKind::SameAsStdout && i != 2) return "bad stdio entry";
  }
  V extra = r.Get("extraFds");
  if (!extra.IsUndefined()) {
    if (!extra.IsArray() || extra.Length() > 1024) return "extraFds must be an array";
    for (uint32_t i = 0; i < extra.Length(); i++) {
      int fd = -1;
      if (!decode_detail::OptionalInt(extra.At(i), -1, kMaxInt32, &fd)) return "bad extraFds entry";
      out->extraFds.push_back(fd);
    }
  }
  // Each used to go through Int32Value(), which wraps: a pgid of 2^32 + n joined group n.
  if (!decode_detail::OptionalInt(r.Get("pgid"), -1, kMaxInt32, &out->pgid)) return "bad pgid";
  out->setsid = r.Get("setsid").Truthy();
  out->forceClone = r.Get("forceClone").Truthy();
  if (!decode_detail::OptionalInt(r.Get("cgroupFd"), -1, kMaxInt32, &out->cgroupFd)) {
    return "bad cgroupFd";
  }
  if (!decode_detail::OptionalInt(r.Get("deathSignal"), 0, kMaxSignal, &out->deathSignal)) {
    return "bad deathSignal";
  }
  if (!decode_detail::OptionalInt(r.Get("pipeSize"), 0, kMaxInt32, &out->pipeSize)) {
    return "bad pipeSize";
  }
  const char* bad = decode_detail::Sandbox(r.Get("sandbox"), &out->sandbox);
  if (bad != nullptr) return bad;
  V pidns = r.Get("pidNamespace");  // { init: string, mountProc: boolean }
  if (!pidns.IsUndefined()) {
    if (!pidns.IsObject() ||
        decode_detail::CString(pidns.Get("init"), &out->initPath) != StrResult::Ok) {
      return "bad pidNamespace";
    }
    out->pidNamespace = true;
    out->mountProc = pidns.Get("mountProc").Truthy();
  }
  V limitFds = r.Get("limitCgroupFds");
  if (!limitFds.IsUndefined()) {
    if (!limitFds.IsArray() || limitFds.Length() > 8) return "bad limitCgroupFds";
    for (uint32_t i = 0; i < limitFds.Length(); i++) {
      int64_t fd;
      if (!decode_detail::IntIn(limitFds.At(i), 0, kMaxInt32, &fd)) return "bad limitCgroupFds";
      out->limitCgroupFds.push_back(static_cast<int>(fd));
    }
  }
  return decode_detail::Sched(r, out);
}

#ifdef __linux__
// The clone child's {stage, errno, detail} report (three native ints, child_linux.cc Report)
// as read back from the CLOEXEC error pipe: n is how many bytes arrived before EOF. Zero
// bytes means exec happened: returns false. Anything else means the child failed and has
// _exited: returns true with *error filled. A torn or oversized report, or an errno out of
// 1..4095, becomes EPROTO so JS never sees a failure without an error code.
bool DecodeChildReport(const unsigned char* bytes, size_t n, const std::string& cwd,
                       const std::string& path, SpawnError* error,
                       const std::vector<std::string>* roots = nullptr);
#endif

}  // namespace coreproc
