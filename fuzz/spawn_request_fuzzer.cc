// libFuzzer harness over the addon's spawn-request decoding (native/decode.h): the fuzz bytes
// become a tree of JS-like values, DecodeSpawnRequest runs on it exactly as the addon runs it
// on Napi values, and an accepted request must satisfy every invariant the spawn code relies
// on (ranges, stdio kinds, no NUL in C strings) and match the input it came from. The same
// bytes also go through DecodeChildReport, the error-pipe read-back. Built and run by
// `npm run fuzz` (scripts/fuzz.js); `-DFUZZ_MAKE_CORPUS` instead builds a generator of the
// seed corpus in fuzz/corpus/.
//
// Input format. Every byte string decodes to some tree: reads past the end give 0 (which is
// undefined, or a count of 0), and containers deeper than kMaxDepth or past kMaxNodes read
// as undefined. A value starts with a tag byte; kind = tag & 7, arg = tag >> 3 (0..31):
//   0 undefined          1 null          2 boolean (arg & 1)
//   3 number: arg < 28 kNumbers[arg]; 28 int8; 29 int32 LE; 30 double LE; 31 uint32 LE
//   4 string: arg < 31 kWords[arg]; 31 a length byte, then that many bytes
//   5 array: a count byte; with arg & 1 a uint32 LE length (the rest are holes); the values
//   6 object: a count byte, then count pairs of (key byte: kKeys[byte % kKeyCount], value)
//   7 small integer: arg - 4 (-4..27)
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memory>
#include <string>
#include <vector>

#include "decode.h"

namespace {

using coreproc::SpawnError;
using coreproc::SpawnRequest;
using coreproc::StdioKind;

constexpr int kMaxDepth = 6;
constexpr size_t kMaxNodes = 4096;
constexpr uint32_t kNone = UINT32_MAX;  // a missing value: reads as undefined

// Boundary values of every range the decoder checks, so mutations reach them in one step.
// clang-format off
const double kNumbers[28] = {
    0, 1, -1, 2, 3, 4, 19, 20, -20, -21, 64, 65, 1000, 1001,
    2147483647, 2147483648, 1048575, 1048576, 4294967294, 4294967295,
    9007199254740992, 9007199254740994, 4294967297, 0.5, -0.0, NAN, INFINITY, -INFINITY};
// clang-format on

struct Word {
  const char* text;
  size_t len;
};
#define WORD(s) \
  { s, sizeof(s) - 1 }
const Word kWords[31] = {WORD(""),
                         WORD("x"),
                         WORD("/bin/sh"),
                         WORD("sh"),
                         WORD("-c"),
                         WORD("/tmp"),
                         WORD("PATH=/usr/bin:/bin"),
                         WORD("/usr/local/bin:/usr/bin:/bin"),
                         WORD("a\0b"),
                         WORD("other"),
                         WORD("batch"),
                         WORD("idle"),
                         WORD("fifo"),
                         WORD("rr"),
                         WORD("deadline"),
                         WORD("nofile"),
                         WORD("nproc"),
                         WORD("core"),
                         WORD("cpu"),
                         WORD("as"),
                         WORD("data"),
                         WORD("fsize"),
                         WORD("memlock"),
                         WORD("rtprio"),
                         WORD("stack"),
                         WORD("nice"),
                         WORD("rttime"),
                         WORD("msgqueue"),
                         WORD("sigpending"),
                         WORD("locks"),
                         WORD("rss")};
#undef WORD

const char* const kKeys[] = {
    "file", "searchPath", "argv", "env", "cwd", "stdio", "pgid", "setsid", "forceClone", "cgroupFd",
    "deathSignal", "affinity", "scheduler", "nice", "rlimits", "uid", "gid", "inheritScheduling",
    "policy", "priority", "resetOnFork", "fd", "append", "unknownKey",
    // sandbox and limits (issue 16), appended so the earlier keys keep their bytes' meaning
    "sandbox", "seccomp", "deny", "ttyIoctls", "namespaceClone", "landlock", "write", "read",
    "network", "limitCgroupFds",
    // bulk output (issue 18)
    "pipeSize"};
constexpr size_t kKeyCount = sizeof kKeys / sizeof kKeys[0];

enum Kind : uint8_t { kUndefined, kNull, kBool, kNumber, kString, kArray, kObject };

struct Node {
  Kind kind = kUndefined;
  bool flag = false;
  double number = 0;
  const char* str = nullptr;
  size_t len = 0;
  uint32_t count = 0;   // values present (array) or entries (object)
  uint32_t length = 0;  // array: its JS length, >= count
  uint32_t first = 0;   // index of the first child in Tree::kids (and Tree::keys)
};

[[noreturn]] void Fail(const char* what, int line) {
  fprintf(stderr, "spawn_request_fuzzer: invariant failed (line %d): %s\n", line, what);
  __builtin_trap();
}
#define CHECK(cond) ((cond) ? (void)0 : Fail(#cond, __LINE__))

class Tree {
 public:
  Tree(const uint8_t* data, size_t size) : p_(data), end_(data + size) {
    nodes_.reserve(64);
    root_ = Parse(0);
  }
  uint32_t root() const { return root_; }
  const Node& node(uint32_t i) const { return nodes_[i]; }
  uint32_t kid(uint32_t i) const { return kids_[i]; }
  uint8_t key(uint32_t i) const { return keys_[i]; }

 private:
  uint8_t Byte() { return p_ < end_ ? *p_++ : 0; }
  template <class T>
  T Raw() {
    unsigned char b[sizeof(T)];
    for (unsigned char& c : b) c = Byte();
    T v;
    memcpy(&v, b, sizeof v);
    return v;
  }

  uint32_t Add(const Node& n) {
    nodes_.push_back(n);
    return static_cast<uint32_t>(nodes_.size() - 1);
  }

  uint32_t Parse(int depth) {
    uint8_t tag = Byte();
    unsigned arg = tag >> 3;
    Node n;
    switch (tag & 7) {
      case 0: break;
      case 1: n.kind = kNull; break;
      case 2:
        n.kind = kBool;
        n.flag = arg & 1;
        break;
      case 3:
        n.kind = kNumber;
        if (arg < 28) n.number = kNumbers[arg];
        if (arg == 28) n.number = static_cast<int8_t>(Byte());
        if (arg == 29) n.number = Raw<int32_t>();
        if (arg == 30) n.number = Raw<double>();
        if (arg == 31) n.number = Raw<uint32_t>();
        break;
      case 4:
        n.kind = kString;
        if (arg < 31) {
          n.str = kWords[arg].text;
          n.len = kWords[arg].len;
        } else {
          size_t want = Byte();
          size_t have = static_cast<size_t>(end_ - p_);
          n.len = want < have ? want : have;
          n.str = reinterpret_cast<const char*>(p_);
          p_ += n.len;
        }
        break;
      case 5:
      case 6: {
        if (depth >= kMaxDepth || nodes_.size() >= kMaxNodes) break;
        bool object = (tag & 7) == 6;
        uint32_t count = Byte();
        uint32_t length = count;
        if (!object && (arg & 1)) {
          uint32_t claimed = Raw<uint32_t>();
          if (claimed > length) length = claimed;
        }
        uint32_t children[256];
        uint8_t names[256];
        for (uint32_t i = 0; i < count; i++) {
          names[i] = object ? static_cast<uint8_t>(Byte() % kKeyCount) : 0;
          children[i] = Parse(depth + 1);
        }
        n.kind = object ? kObject : kArray;
        n.count = count;
        n.length = length;
        n.first = static_cast<uint32_t>(kids_.size());
        kids_.insert(kids_.end(), children, children + count);
        keys_.insert(keys_.end(), names, names + count);
        break;
      }
      case 7:
        n.kind = kNumber;
        n.number = static_cast<double>(arg) - 4;
        break;
    }
    return Add(n);
  }

  const uint8_t* p_;
  const uint8_t* end_;
  std::vector<Node> nodes_;
  std::vector<uint32_t> kids_;
  std::vector<uint8_t> keys_;
  uint32_t root_;
};

// decode.h's value concept over the tree, with JS semantics, trapping on any use outside a
// method's precondition (the Napi adaptor would throw or misread there).
class FuzzValue {
 public:
  FuzzValue(const Tree* t, uint32_t i) : t_(t), i_(i) {}
  bool IsUndefined() const { return kind() == kUndefined; }
  bool IsString() const { return kind() == kString; }
  bool IsNumber() const { return kind() == kNumber; }
  bool IsArray() const { return kind() == kArray; }
  bool IsObject() const { return kind() == kObject || kind() == kArray; }
  bool Truthy() const {
    switch (kind()) {
      case kUndefined:
      case kNull: return false;
      case kBool: return node().flag;
      case kNumber: return node().number != 0 && !isnan(node().number);
      case kString: return node().len > 0;
      default: return true;
    }
  }
  std::string StringValue() const {
    CHECK(IsString());
    return std::string(node().str, node().len);
  }
  double NumberValue() const {
    CHECK(IsNumber());
    return node().number;
  }
  uint32_t Length() const {
    CHECK(IsArray());
    return node().length;
  }
  FuzzValue At(uint32_t i) const {
    CHECK(IsArray());
    return FuzzValue(t_, i < node().count ? t_->kid(node().first + i) : kNone);
  }
  FuzzValue Get(const char* key) const {
    CHECK(IsObject());
    if (kind() == kObject) {
      for (uint32_t k = 0; k < node().count; k++) {
        if (strcmp(kKeys[t_->key(node().first + k)], key) == 0) {
          return FuzzValue(t_, t_->kid(node().first + k));
        }
      }
    }
    return FuzzValue(t_, kNone);
  }

 private:
  Kind kind() const { return i_ == kNone ? kUndefined : node().kind; }
  const Node& node() const { return t_->node(i_); }
  const Tree* t_;
  uint32_t i_;
};

bool NoNul(const std::string& s) { return s.find('\0') == std::string::npos; }

// The input number a decoded int field came from must be that exact value (no wrap, no
// truncation); absent, the field keeps its default.
void SameNumber(const FuzzValue& in, int64_t decoded, int64_t absent) {
  if (in.IsUndefined()) {
    CHECK(decoded == absent);
  } else {
    CHECK(in.IsNumber() && in.NumberValue() == static_cast<double>(decoded));
  }
}

void SameStrings(const FuzzValue& in, const std::vector<std::string>& out) {
  CHECK(in.IsArray() && in.Length() == out.size());
  for (uint32_t i = 0; i < out.size(); i++) {
    CHECK(NoNul(out[i]));
    CHECK(in.At(i).StringValue() == out[i]);
  }
}

void CheckAccepted(const FuzzValue& r, const SpawnRequest& q) {
  CHECK(NoNul(q.file) && r.Get("file").StringValue() == q.file);
  CHECK(NoNul(q.searchPath));
  SameStrings(r.Get("argv"), q.argv);
  CHECK(q.inheritEnv == r.Get("env").IsUndefined());
  if (q.inheritEnv) {
    CHECK(q.env.empty());
  } else {
    SameStrings(r.Get("env"), q.env);
  }
  CHECK(NoNul(q.cwd));
  CHECK(q.hasCwd ? r.Get("cwd").StringValue() == q.cwd : q.cwd.empty());

  FuzzValue stdio = r.Get("stdio");
  for (uint32_t i = 0; i < 3; i++) {
    const coreproc::StdioSpec& s = q.stdio[i];
    int kind = static_cast<int>(s.kind);
    CHECK(kind >= 0 && kind <= 6);
    CHECK(s.kind != StdioKind::SameAsStdout || i == 2);  // `2>&1`: stderr only
    if (s.kind == StdioKind::Fd) {
      CHECK(s.fd >= 0 && s.fd <= coreproc::kMaxInt32);
      SameNumber(stdio.At(i).Get("fd"), s.fd, -1);
    } else {
      CHECK(s.fd == -1);
    }
    if (s.kind == StdioKind::File) {
      CHECK(NoNul(s.path) && stdio.At(i).Get("file").StringValue() == s.path);
      CHECK(s.append == stdio.At(i).Get("append").Truthy());
    } else {
      CHECK(s.path.empty() && !s.append);
    }
    if (kind <= 3 || s.kind == StdioKind::SameAsStdout) SameNumber(stdio.At(i), kind, 0);
  }

  CHECK(q.pgid >= -1 && q.pgid <= coreproc::kMaxInt32);
  SameNumber(r.Get("pgid"), q.pgid, -1);
  CHECK(q.cgroupFd >= -1 && q.cgroupFd <= coreproc::kMaxInt32);
  SameNumber(r.Get("cgroupFd"), q.cgroupFd, -1);
  CHECK(q.deathSignal >= 0 && q.deathSignal <= coreproc::kMaxSignal);
  SameNumber(r.Get("deathSignal"), q.deathSignal, 0);
  CHECK(q.pipeSize >= 0 && q.pipeSize <= coreproc::kMaxInt32);
  SameNumber(r.Get("pipeSize"), q.pipeSize, 0);

  CHECK(q.hasAffinity == !q.affinity.empty());
  for (int cpu : q.affinity) CHECK(cpu >= 0 && cpu <= coreproc::kMaxCpu);
  if (q.hasScheduler) {
    CHECK(strcmp(coreproc::PolicyName(q.policy), "unknown") != 0);
    CHECK(q.priority >= 0 && q.priority <= 1000);
  } else {
    CHECK(q.policy == 0 && q.priority == 0 && !q.resetOnFork);
  }
  CHECK(q.nice >= -20 && q.nice <= 19);
  CHECK(q.hasNice || q.nice == 0);
  if (q.hasNice) SameNumber(r.Get("nice"), q.nice, 0);
  for (const SpawnRequest::Rlimit& lim : q.rlimits) {
    CHECK(strcmp(coreproc::RlimitName(lim.resource), "unknown") != 0);
    CHECK(lim.soft >= -1 && lim.soft <= coreproc::kMaxRlimit);
    CHECK(lim.hard >= -1 && lim.hard <= coreproc::kMaxRlimit);
  }
  CHECK(q.hasUid ? q.uid <= coreproc::kMaxId : q.uid == 0);
  CHECK(q.hasGid ? q.gid <= coreproc::kMaxId : q.gid == 0);
  if (q.hasUid) SameNumber(r.Get("uid"), q.uid, 0);
  if (q.hasGid) SameNumber(r.Get("gid"), q.gid, 0);

  const coreproc::SandboxSpec& sb = q.sandbox;
  CHECK(sb.any == !r.Get("sandbox").IsUndefined());
  CHECK(sb.noNewPrivs == sb.any);
  CHECK(sb.network >= 0 && sb.network <= 2);
  CHECK(sb.seccomp || (sb.denySyscalls.empty() && !sb.denyTtyIoctls && !sb.denyNamespaceClone));
  CHECK(sb.denySyscalls.size() <= 4096);
  for (int nr : sb.denySyscalls) CHECK(nr >= 0 && nr <= 4095);
  CHECK(sb.landlock || (sb.writePaths.empty() && sb.readPaths.empty() && sb.readAll));
  CHECK(sb.readAll || sb.landlock);
  for (const std::string& p : sb.writePaths) CHECK(p.find('\0') == std::string::npos);
  for (const std::string& p : sb.readPaths) CHECK(p.find('\0') == std::string::npos);
  CHECK(q.limitCgroupFds.size() <= 8);
  for (int fd : q.limitCgroupFds) CHECK(fd >= 0 && fd <= coreproc::kMaxInt32);
}

void CheckChildReport(const uint8_t* data, size_t size) {
  const std::string cwd = "/cwd";
  const std::string path = "/bin/prog";
  SpawnError e;
  bool failed = coreproc::DecodeChildReport(data, size, cwd, path, &e);
  CHECK(failed == (size > 0));
  if (!failed) return;
  CHECK(e.err > 0 && e.err <= 4095);
  CHECK(e.syscall != nullptr && e.syscall[0] != '\0');
  CHECK(e.stage != nullptr && e.stage[0] != '\0');
  CHECK(e.resource != nullptr);
  CHECK(e.path.empty() || e.path == cwd || e.path == path);
  if (e.resource[0] != '\0') CHECK(strcmp(e.stage, "rlimit") == 0);
}

// Returns the decoder's verdict, after checking an accepted request.
const char* Run(const uint8_t* data, size_t size) {
  Tree tree(data, size);
  FuzzValue root(&tree, tree.root());
  SpawnRequest req;
  const char* bad = coreproc::DecodeSpawnRequest(root, &req);
  if (bad == nullptr) CheckAccepted(root, req);
  CheckChildReport(data, size);
  return bad;
}

}  // namespace

#ifndef FUZZ_MAKE_CORPUS

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Run(data, size);
  return 0;
}

#else  // FUZZ_MAKE_CORPUS: `node scripts/fuzz.js --make-corpus` writes fuzz/corpus/ with it

namespace {

// Writes the format above; Num picks the shortest encoding that gives back the same double.
class Encoder {
 public:
  Encoder& Undef() { return Tag(0, 0); }
  Encoder& Bool(bool b) { return Tag(2, b ? 1 : 0); }
  Encoder& Num(double d) {
    for (unsigned i = 0; i < 28; i++) {
      if (memcmp(&kNumbers[i], &d, sizeof d) == 0) return Tag(3, i);
    }
    if (d >= -4 && d <= 27 && d == static_cast<int>(d)) return Tag(7, static_cast<int>(d) + 4);
    if (d >= -128 && d <= 127 && d == static_cast<int>(d)) {
      Tag(3, 28);
      return Byte(static_cast<uint8_t>(static_cast<int8_t>(d)));
    }
    if (d >= INT32_MIN && d <= INT32_MAX && d == static_cast<int32_t>(d)) {
      Tag(3, 29);
      return Raw(static_cast<int32_t>(d));
    }
    Tag(3, 30);
    return Raw(d);
  }
  Encoder& Str(const std::string& s) {
    for (unsigned i = 0; i < 31; i++) {
      if (s == std::string(kWords[i].text, kWords[i].len)) return Tag(4, i);
    }
    if (s.size() > 255) Die("string too long for the format");
    Tag(4, 31);
    Byte(static_cast<uint8_t>(s.size()));
    out.append(s);
    return *this;
  }
  Encoder& Arr(uint32_t count) {
    Tag(5, 0);
    return Byte(static_cast<uint8_t>(count));
  }
  // An array of `length` with only its first `count` values present.
  Encoder& Sparse(uint32_t count, uint32_t length) {
    Tag(5, 1);
    Byte(static_cast<uint8_t>(count));
    return Raw(length);
  }
  Encoder& Obj(uint32_t count) {
    Tag(6, 0);
    return Byte(static_cast<uint8_t>(count));
  }
  Encoder& Key(const char* k) {
    for (size_t i = 0; i < kKeyCount; i++) {
      if (strcmp(kKeys[i], k) == 0) return Byte(static_cast<uint8_t>(i));
    }
    Die(k);
  }
  std::string out;

 private:
  [[noreturn]] static void Die(const char* why) {
    fprintf(stderr, "make-corpus: %s\n", why);
    exit(1);
  }
  Encoder& Tag(unsigned kind, unsigned arg) { return Byte(static_cast<uint8_t>(kind | arg << 3)); }
  Encoder& Byte(uint8_t b) {
    out.push_back(static_cast<char>(b));
    return *this;
  }
  template <class T>
  Encoder& Raw(T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
};

// The fields lib/process always sends, for a request of `extra` more fields.
Encoder Realistic(uint32_t extra, int out, int err) {
  Encoder e;
  e.Obj(8 + extra);
  e.Key("file").Str("/bin/sh");
  e.Key("searchPath").Str("/usr/local/bin:/usr/bin:/bin");
  e.Key("argv").Arr(3).Str("sh").Str("-c").Str("exit 0");
  e.Key("stdio").Arr(3).Num(0).Num(out).Num(err);
  e.Key("pgid").Num(0);
  e.Key("setsid").Bool(false);
  e.Key("forceClone").Bool(false);
  e.Key("inheritScheduling").Bool(false);
  return e;
}

struct Seed {
  const char* name;
  Encoder enc;
  const char* expect;  // the decoder's verdict: nullptr accepted, else its message
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  std::vector<Seed> seeds;
  seeds.push_back({"realistic", Realistic(0, 2, 2), nullptr});

  Encoder sched = Realistic(8, 2, 1);
  sched.Key("env").Arr(1).Str("PATH=/usr/bin:/bin");
  sched.Key("cwd").Str("/tmp");
  sched.Key("affinity").Arr(2).Num(0).Num(1);
  sched.Key("scheduler").Obj(3);
  sched.Key("policy").Str("fifo").Key("priority").Num(10).Key("resetOnFork").Bool(true);
  sched.Key("nice").Num(5);
  sched.Key("rlimits").Arr(2);
  sched.Arr(3).Str("nofile").Num(1024).Num(4096);
  sched.Arr(3).Str("core").Num(-1).Num(-1);
  sched.Key("uid").Num(1000);
  sched.Key("gid").Num(1000);
  seeds.push_back({"scheduling", sched, nullptr});

  Encoder contained;
  contained.Obj(10);
  contained.Key("file").Str("x");
  contained.Key("searchPath").Str("/usr/local/bin:/usr/bin:/bin");
  contained.Key("argv").Arr(1).Str("x");
  contained.Key("stdio").Arr(3).Num(1);
  contained.Obj(1).Key("fd").Num(3);
  contained.Obj(2).Key("file").Str("/tmp/out.log").Key("append").Bool(true);
  contained.Key("pgid").Num(-1);
  contained.Key("setsid").Bool(true);
  contained.Key("forceClone").Bool(true);
  contained.Key("cgroupFd").Num(3);
  contained.Key("deathSignal").Num(9);
  contained.Key("inheritScheduling").Bool(true);
  seeds.push_back({"containment", contained, nullptr});

  // Regression: a sparse argv of 2^32-1 holes once made the addon reserve 128 GiB and abort.
  Encoder sparse;
  sparse.Obj(3).Key("file").Str("x").Key("argv").Sparse(1, 4294967295u).Str("x");
  sparse.Key("stdio").Arr(3).Num(0).Num(0).Num(0);
  seeds.push_back({"sparse-argv", sparse, "argv must be an array of strings"});

  // Regression: {fd: 2^32 + 1} once wrapped to our stdout.
  Encoder wrap;
  wrap.Obj(3).Key("file").Str("x").Key("argv").Arr(0);
  wrap.Key("stdio").Arr(3).Num(0).Obj(1).Key("fd").Num(4294967297.0).Num(0);
  seeds.push_back({"wrapping-fd", wrap, "bad stdio entry"});

  // A clone child's report: {stage exec, ENOENT, 0}.
  Encoder report;
  int msg[3] = {7, 2, 0};
  report.out.assign(reinterpret_cast<const char*>(msg), sizeof msg);
  seeds.push_back({"child-report", report, "expected (request, onExit)"});

  for (const Seed& s : seeds) {
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(s.enc.out.data());
    const char* got = Run(bytes, s.enc.out.size());
    bool same = got == nullptr || s.expect == nullptr ? got == s.expect : !strcmp(got, s.expect);
    if (!same) {
      fprintf(stderr, "make-corpus: seed %s decoded to '%s', expected '%s'\n", s.name,
              got ? got : "(accepted)", s.expect ? s.expect : "(accepted)");
      return 1;
    }
    std::string file = std::string(argv[1]) + "/" + s.name;
    std::unique_ptr<FILE, int (*)(FILE*)> f(fopen(file.c_str(), "wb"), fclose);
    bool written = f != nullptr &&
                   fwrite(s.enc.out.data(), 1, s.enc.out.size(), f.get()) == s.enc.out.size() &&
                   fclose(f.release()) == 0;
    if (!written) {
      fprintf(stderr, "make-corpus: cannot write %s\n", file.c_str());
      return 1;
    }
    printf("%s: %zu bytes\n", file.c_str(), s.enc.out.size());
  }
  return 0;
}

#endif  // FUZZ_MAKE_CORPUS
