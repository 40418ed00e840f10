// Built into the sanitizer addon only (CMakeLists.txt, SANITIZE=ON), never into a release.
//
// The leak check runs here, at the exit of each process that loaded the addon, and nowhere
// else: `npm run test:asan` preloads the ASan runtime into every process of the run, the
// children the tests spawn included, and an at-exit check in those (sh, sort, unshare) only
// costs a stop-the-world scan per child and dies outright where it cannot ptrace, as in a
// pid namespace. So the runtime's own check is off (leak_check_at_exit=0) and this one is on.
//
// With CORE_PROCESS_LEAK_CANARY=1 the addon also leaks one block on load, on purpose, so the
// run can prove its leak check sees a leak the addon makes: a check that cannot fail proves
// nothing.
#include <sanitizer/lsan_interface.h>
#include <stdlib.h>
#include <string.h>

namespace {

// Volatile: the compiler may not drop the allocation, nor keep a copy of its address.
void* volatile gCanary = nullptr;

void LeakCheckAtExit() { __lsan_do_recoverable_leak_check(); }

__attribute__((constructor)) void SanitizerHooks() {
  atexit(LeakCheckAtExit);
  const char* v = getenv("CORE_PROCESS_LEAK_CANARY");
  if (v == nullptr || strcmp(v, "1") != 0) return;
  gCanary = malloc(4096);
  gCanary = nullptr;
}

}  // namespace
