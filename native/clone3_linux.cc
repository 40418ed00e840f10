// clone3(CLONE_INTO_CGROUP) for the clone child (see clone3_linux.h).
//
// Neither glibc (to 2.42) nor musl exports a clone3 wrapper, and the raw syscall cannot be
// made through syscall(): the child comes back on a fresh stack with nothing to return to
// (or, without one, on the suspended parent's stack, whose return address its next call
// would overwrite). So a few instructions per architecture do what clone(3)'s own assembly
// does: make the call, and in the child call fn(arg) on the new stack and exit if it ever
// returns (ChildMain never does: it execs or reports and _exits).
#ifdef __linux__

#include "clone3_linux.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

namespace coreproc {

namespace {

// struct clone_args of <linux/sched.h>, CLONE_ARGS_SIZE_VER2 (88 bytes, with `cgroup`, 5.7):
// spelled out because the headers a build sees may predate it.
struct KernelCloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
  uint64_t set_tid;
  uint64_t set_tid_size;
  uint64_t cgroup;
};
static_assert(sizeof(KernelCloneArgs) == 88, "CLONE_ARGS_SIZE_VER2");

constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;
constexpr int kCloneSignalMask = 0xff;  // CSIGNAL

}  // namespace

}  // namespace coreproc

#if defined(__x86_64__) || defined(__aarch64__)
#define CORE_HAVE_CLONE3_TRAMPOLINE 1

// long core_clone3_run(struct clone_args*, size_t, int (*fn)(void*), void* arg):
// the parent gets clone3's return value (pid or -errno); the child runs fn(arg) on the stack
// named in the args, then exit(fn's value). Syscall numbers: clone3 435 on both; exit 60
// (x86_64), 93 (aarch64).
extern "C" __attribute__((visibility("hidden"))) long core_clone3_run(void* args, size_t size,
                                                                      int (*fn)(void*), void* arg);

#if defined(__x86_64__)
// syscall clobbers rcx and r11 only, and the child starts with the parent's registers (rax 0),
// so fn and arg wait in r8/r9 (argument registers, ours to use). The kernel puts rsp at the
// top of the 16-byte aligned stack, as the call ABI wants before a call.
asm(R"(
  .pushsection .text
  .globl core_clone3_run
  .hidden core_clone3_run
  .type core_clone3_run, @function
  .p2align 4
core_clone3_run:
  .cfi_startproc
  movq %rdx, %r8
  movq %rcx, %r9
  movl $435, %eax
  syscall
  testq %rax, %rax
  jz 1f
  ret
1:
  .cfi_undefined rip
  xorl %ebp, %ebp
  movq %r9, %rdi
  callq *%r8
  movl %eax, %edi
  movl $60, %eax
  syscall
  hlt
  .cfi_endproc
  .size core_clone3_run, .-core_clone3_run
  .popsection
)");
#else
// svc preserves every register but x0; the child gets the parent's, with x0 = 0 and sp at
// the top of the new stack. fn and arg stay in x2/x3. `hint #34` is BTI's landing pad (a nop
// without BTI).
asm(R"(
  .pushsection .text
  .globl core_clone3_run
  .hidden core_clone3_run
  .type core_clone3_run, %function
  .p2align 2
core_clone3_run:
  .cfi_startproc
  hint #34
  mov x8, #435
  svc #0
  cbz x0, 1f
  ret
1:
  .cfi_undefined x30
  mov x29, xzr
  mov x30, xzr
  mov x0, x3
  blr x2
  mov x8, #93
  svc #0
  brk #1000
  .cfi_endproc
  .size core_clone3_run, .-core_clone3_run
  .popsection
)");
#endif
#endif  // x86_64 || aarch64

namespace coreproc {

namespace {

// Cleared for good once clone3 proves missing or refused: every later spawn goes straight to
// clone + cgroup.procs instead of failing a syscall first.
std::atomic<bool>& Usable() {
  static std::atomic<bool> usable{[] {
#if defined(CORE_HAVE_CLONE3_TRAMPOLINE)
    // Tests (and anyone doubting a kernel) can prove the cgroup.procs path on a new kernel.
    const char* off = getenv("CORE_PROCESS_NO_CLONE3");
    // x86_64 and aarch64 both run it: the aarch64 trampoline proven on Debian 12's arm64 kernel
    // (npm run test:vm, lane arm64-6.1: the contained smoke spawn is born in its cgroup).
    return off == nullptr || off[0] == '\0' || strcmp(off, "0") == 0;
#else
    return false;
#endif
  }()};
  return usable;
}

}  // namespace

bool CloneIntoCgroupAvailable() { return Usable().load(std::memory_order_relaxed); }

pid_t CloneIntoCgroup(int cloneFlags, ChildPlan* plan, void* stack, size_t stackSize, int* pidfd) {
#if defined(CORE_HAVE_CLONE3_TRAMPOLINE)
  if (plan->cgroupFd < 0 || !CloneIntoCgroupAvailable()) {
    errno = ENOSYS;
    return -1;
  }
  KernelCloneArgs args{};
  args.flags = static_cast<uint64_t>(static_cast<unsigned>(cloneFlags) &
                                     ~static_cast<unsigned>(kCloneSignalMask)) |
               kCloneIntoCgroup;
  args.exit_signal = static_cast<uint64_t>(cloneFlags & kCloneSignalMask);
  args.pidfd = reinterpret_cast<uintptr_t>(pidfd);
  args.stack = reinterpret_cast<uintptr_t>(stack);
  args.stack_size = stackSize;
  args.cgroup = static_cast<uint64_t>(plan->cgroupFd);
  const int cgroupFd = plan->cgroupFd;
  plan->cgroupFd = -1;  // the child must not join again; read by it only after clone3
  long rc = core_clone3_run(&args, sizeof args, ChildMain, plan);
  if (rc >= 0) return static_cast<pid_t>(rc);
  plan->cgroupFd = cgroupFd;
  int err = static_cast<int>(-rc);
  // ENOSYS: before 5.3; E2BIG/EINVAL: 5.3-5.6, which know neither the cgroup field nor the
  // flag; EPERM: seccomp profiles (Docker's before 20.10) that refuse clone3 outright. None
  // changes while we run. Other errors (EBADF: a v1 directory; EBUSY, EACCES, EAGAIN) belong
  // to this spawn; the caller's cgroup.procs path meets them again and reports its stage.
  // EPERM counts only without namespace flags, which may be refused on their own.
  const int plain = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | kCloneSignalMask;
  bool refused = err == EPERM && (cloneFlags & ~plain) == 0;
  if (err == ENOSYS || err == E2BIG || err == EINVAL || refused) {
    Usable().store(false, std::memory_order_relaxed);
  }
  errno = err;
  return -1;
#else
  (void)cloneFlags;
  (void)plan;
  (void)stack;
  (void)stackSize;
  (void)pidfd;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace coreproc

#endif  // __linux__
