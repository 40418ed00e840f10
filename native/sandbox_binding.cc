// JS bindings for what the kernel offers the sandbox (lib/process/sandbox.ts refuses, with
// the reason, whatever is missing) and for resolving syscall names on this architecture.
// macOS has none of it: LandlockAbi is -ENOTSUP, no seccomp arch, no syscall numbers.
#include <errno.h>
#include <napi.h>

#include "sandbox.h"

namespace coreproc {

#if !defined(__linux__)
int LandlockAbi() { return -ENOTSUP; }
const char* SeccompArch() { return ""; }
long SyscallNumber(const std::string&) { return -1; }
#endif

namespace {

// sandboxInfo() -> { landlockAbi, seccompArch }
Napi::Value SandboxInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("landlockAbi", Napi::Number::New(env, LandlockAbi()));
  o.Set("seccompArch", Napi::String::New(env, SeccompArch()));
  return o;
}

// syscallNumber(name) -> number, -1 when this architecture has no such call
Napi::Value SyscallNumberBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "syscallNumber(name)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(SyscallNumber(info[0].As<Napi::String>())));
}

}  // namespace

void InitSandbox(Napi::Env env, Napi::Object exports) {
  exports.Set("sandboxInfo", Napi::Function::New<SandboxInfo>(env, "sandboxInfo"));
  exports.Set("syscallNumber", Napi::Function::New<SyscallNumberBinding>(env, "syscallNumber"));
}

}  // namespace coreproc
