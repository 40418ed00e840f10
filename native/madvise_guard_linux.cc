// Lets V8 discard pages of a process whose memory is locked (lockMemory), on every Node line.
//
// V8's v8::base::OS::DiscardSystemPages is madvise(MADV_DONTNEED) followed by
// CHECK_EQ(0, ret) (Node 20 to 26 alike: V8 11.3, 12.4, 13.6, 14.6), and Linux refuses
// MADV_DONTNEED (and MADV_FREE) on a VM_LOCKED mapping with EINVAL (mm/madvise.c,
// madvise_dontneed_free_valid_vma), so any discard of a locked page kills the process with
// "Check failed: 0 == ret" (SIGTRAP). V8 discards: guard pages of executable chunks and the
// code range at isolate start (CodeRange::InitReservation), code pages it frees, free memory
// its sweeper releases in memory-reducing GCs, and, since Node 24 attaches a CppHeap to every
// isolate, free memory of cppgc pages in every forced GC (gc() with --expose-gc, memory
// pressure, the last-resort GC before OOM). Those pages lie anywhere in the address space,
// so no set of munlock()ed ranges can cover them.
//
// The kernel has the right call since Linux 5.18: MADV_DONTNEED_LOCKED drops the pages of a
// locked range and keeps the range locked (a later touch faults in a fresh zero page, which is
// locked again). So Node's own madvise import (the GOT slot of the object that holds V8 and
// exports N-API: the node executable, or libnode) is pointed at GuardedMadvise, which turns
// that one refusal into MADV_DONTNEED_LOCKED. Older kernels get munlock + the original advice
// + mlock2(MLOCK_ONFAULT) over the same range while mlockall is in force: the same effect in
// three calls. Every other call, result and errno passes through untouched, and no other
// object (other addons, libc's own allocator) is changed.
#ifdef __linux__

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "realtime.h"

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

namespace coreproc {

namespace {

using MadviseFn = int (*)(void*, size_t, int);

// The system call itself: a `madvise` symbol here could resolve to the patched slot (an
// executable that takes madvise's address makes its PLT entry the canonical one).
int Madvise(void* addr, size_t len, int advice) {
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}

#if defined(__x86_64__)
constexpr uint32_t kJumpSlot = R_X86_64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_X86_64_GLOB_DAT;
#elif defined(__aarch64__)
constexpr uint32_t kJumpSlot = R_AARCH64_JUMP_SLOT;
constexpr uint32_t kGlobDat = R_AARCH64_GLOB_DAT;
#else
constexpr uint32_t kJumpSlot = UINT32_MAX;  // no guard: lockMemory refuses (lib/sched/memory.ts)
constexpr uint32_t kGlobDat = UINT32_MAX;
#endif

std::atomic<bool> g_dontneedLocked{false};
std::atomic<bool> g_mlockAll{false};

int GuardedMadvise(void* addr, size_t len, int advice) {
  int r = Madvise(addr, len, advice);
  if (r == 0 || (advice != MADV_DONTNEED && advice != MADV_FREE)) return r;
  int err = errno;
  if (err != EINVAL) return r;
  if (g_dontneedLocked.load(std::memory_order_relaxed)) {
    if (Madvise(addr, len, MADV_DONTNEED_LOCKED) == 0) return 0;
  } else if (g_mlockAll.load(std::memory_order_relaxed) && munlock(addr, len) == 0) {
    // Before Linux 5.18: unlock, discard, and lock again on fault, so the range stays locked
    // (VmLck unchanged) without faulting in the pages V8 just gave up.
    r = Madvise(addr, len, advice);
    err = errno;
#ifdef SYS_mlock2
    syscall(SYS_mlock2, addr, len, MLOCK_ONFAULT);
#else
    mlock(addr, len);  // no mlock2 (before 4.4): faults the range back in, but keeps it locked
#endif
    if (r == 0) return 0;
  }
  errno = err;
  return -1;
}

// The load address range of `obj` contains `p`.
bool Contains(const dl_phdr_info* obj, uintptr_t p) {
  for (int i = 0; i < obj->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = obj->dlpi_phdr[i];
    uintptr_t start = obj->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && p >= start && p - start < ph.p_memsz) return true;
  }
  return false;
}

// glibc rewrites the dynamic section's addresses to run-time ones, musl leaves them as link-time
// ones: an address below the load bias is a link-time one.
uintptr_t DynAddr(const dl_phdr_info* obj, ElfW(Addr) v) {
  return v < obj->dlpi_addr ? obj->dlpi_addr + v : v;
}

struct Patch {
  uintptr_t node = 0;  // an address inside the object to patch
  int slots = 0;
  int error = 0;
};

// Points one GOT slot at GuardedMadvise. Slots under RELRO are read-only once relocated: made
// writable for the store and read-only again.
void PatchSlot(const dl_phdr_info* obj, uintptr_t slot, Patch* patch) {
  bool readOnly = false;
  for (int i = 0; i < obj->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = obj->dlpi_phdr[i];
    uintptr_t start = obj->dlpi_addr + ph.p_vaddr;
    if (slot < start || slot - start >= ph.p_memsz) continue;
    if (ph.p_type == PT_GNU_RELRO || (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) == 0)) {
      readOnly = true;
    }
  }
  uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  uintptr_t first = slot & ~(page - 1);
  void* at = reinterpret_cast<void*>(first);
  size_t span = ((slot + sizeof(MadviseFn) + page - 1) & ~(page - 1)) - first;
  if (readOnly && mprotect(at, span, PROT_READ | PROT_WRITE) != 0) {
    patch->error = errno;
    return;
  }
  // One aligned pointer store: a thread calling madvise meanwhile sees the old or new target.
  __atomic_store_n(reinterpret_cast<MadviseFn*>(slot), &GuardedMadvise, __ATOMIC_SEQ_CST);
  patch->slots++;
  if (readOnly && mprotect(at, span, PROT_READ) != 0) patch->error = errno;
}

template <typename Rel>
void PatchRelocs(const dl_phdr_info* obj, const Rel* rel, size_t bytes, const ElfW(Sym) * syms,
                 const char* strs, Patch* patch) {
  for (size_t i = 0; i < bytes / sizeof(Rel); i++) {
#if __SIZEOF_POINTER__ == 8
    size_t sym = ELF64_R_SYM(rel[i].r_info);
    uint32_t type = static_cast<uint32_t>(ELF64_R_TYPE(rel[i].r_info));
#else
    size_t sym = ELF32_R_SYM(rel[i].r_info);
    uint32_t type = static_cast<uint32_t>(ELF32_R_TYPE(rel[i].r_info));
#endif
    // Only call slots (a PLT's JUMP_SLOT, -fno-plt's GLOB_DAT), never a pointer stored in data.
    if (sym == 0 || (type != kJumpSlot && type != kGlobDat)) continue;
    if (strcmp(strs + syms[sym].st_name, "madvise") != 0) continue;
    PatchSlot(obj, obj->dlpi_addr + rel[i].r_offset, patch);
  }
}

int PatchObject(dl_phdr_info* obj, size_t, void* data) {
  Patch* patch = static_cast<Patch*>(data);
  if (!Contains(obj, patch->node)) return 0;
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < obj->dlpi_phnum; i++) {
    if (obj->dlpi_phdr[i].p_type == PT_DYNAMIC) {
      dyn = reinterpret_cast<const ElfW(Dyn)*>(obj->dlpi_addr + obj->dlpi_phdr[i].p_vaddr);
    }
  }
  if (dyn == nullptr) return 1;
  const ElfW(Sym)* syms = nullptr;
  const char* strs = nullptr;
  uintptr_t jmprel = 0, rela = 0, rel = 0;
  size_t jmprelSize = 0, relaSize = 0, relSize = 0;
  ElfW(Sxword) pltrel = DT_RELA;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    switch (dyn->d_tag) {
      case DT_SYMTAB:
        syms = reinterpret_cast<const ElfW(Sym)*>(DynAddr(obj, dyn->d_un.d_ptr));
        break;
      case DT_STRTAB: strs = reinterpret_cast<const char*>(DynAddr(obj, dyn->d_un.d_ptr)); break;
      case DT_JMPREL: jmprel = DynAddr(obj, dyn->d_un.d_ptr); break;
      case DT_PLTRELSZ: jmprelSize = dyn->d_un.d_val; break;
      case DT_PLTREL: pltrel = static_cast<ElfW(Sxword)>(dyn->d_un.d_val); break;
      case DT_RELA: rela = DynAddr(obj, dyn->d_un.d_ptr); break;
      case DT_RELASZ: relaSize = dyn->d_un.d_val; break;
      case DT_REL: rel = DynAddr(obj, dyn->d_un.d_ptr); break;
      case DT_RELSZ: relSize = dyn->d_un.d_val; break;
      default: break;
    }
  }
  if (syms == nullptr || strs == nullptr) return 1;
  // Calls go through the PLT (JUMP_SLOT, in DT_JMPREL) or, built with -fno-plt, straight
  // through a GLOB_DAT slot (in DT_RELA / DT_REL).
  if (jmprel != 0 && pltrel == DT_RELA) {
    PatchRelocs(obj, reinterpret_cast<const ElfW(Rela)*>(jmprel), jmprelSize, syms, strs, patch);
  } else if (jmprel != 0) {
    PatchRelocs(obj, reinterpret_cast<const ElfW(Rel)*>(jmprel), jmprelSize, syms, strs, patch);
  }
  if (rela != 0)
    PatchRelocs(obj, reinterpret_cast<const ElfW(Rela)*>(rela), relaSize, syms, strs, patch);
  if (rel != 0)
    PatchRelocs(obj, reinterpret_cast<const ElfW(Rel)*>(rel), relSize, syms, strs, patch);
  return 1;
}

std::mutex g_guardMutex;
int g_guarded = -1;  // slots patched; -1: not tried yet
int g_guardErr = 0;

}  // namespace

int GuardMadvise(int* err) {
  std::lock_guard<std::mutex> guard(g_guardMutex);
  if (g_guarded < 0) {
    // madvise(addr, 0, advice) validates the advice and does nothing else: EINVAL before 5.18.
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t here = reinterpret_cast<uintptr_t>(&g_guarded) & ~static_cast<uintptr_t>(page - 1);
    g_dontneedLocked.store(Madvise(reinterpret_cast<void*>(here), 0, MADV_DONTNEED_LOCKED) == 0);
    Patch patch;
    // V8 lives where Node's N-API does: the node executable, or libnode.so.
    patch.node = reinterpret_cast<uintptr_t>(dlsym(RTLD_DEFAULT, "napi_module_register"));
    if (patch.node != 0) dl_iterate_phdr(PatchObject, &patch);
    g_guarded = patch.slots;
    g_guardErr = patch.error;
  }
  *err = g_guardErr;
  return g_guarded;
}

void SetMlockAllInForce(bool on) { g_mlockAll.store(on); }

bool MadviseDontneedLocked() { return g_dontneedLocked.load(); }

}  // namespace coreproc

#endif  // __linux__
