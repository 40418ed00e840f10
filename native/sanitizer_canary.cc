// Built into the sanitizer addon only (CMakeLists.txt, SANITIZE=ON), never into a release.
// With CORE_PROCESS_LEAK_CANARY=1 the addon leaks one block on load, on purpose, so that
// `npm run test:asan` can prove its leak check sees a leak the addon makes: a leak check that
// cannot fail proves nothing.
#include <stdlib.h>
#include <string.h>

namespace {

// Volatile: the compiler may not drop the allocation, nor keep a copy of its address.
void* volatile gCanary = nullptr;

__attribute__((constructor)) void LeakCanary() {
  const char* v = getenv("CORE_PROCESS_LEAK_CANARY");
  if (v == nullptr || strcmp(v, "1") != 0) return;
  gCanary = malloc(4096);
  gCanary = nullptr;
}

}  // namespace
