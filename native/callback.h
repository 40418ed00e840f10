// Calling into JS from a libuv callback. node-addon-api's FunctionReference::MakeCallback,
// with C++ exceptions off, wraps a pending exception in a Napi::Error, which aborts the
// process (napi_define_properties fails) when the exception is a worker's termination.
// Here a thrown JS error becomes an ordinary 'uncaughtException', and termination is
// left to run its course.
#pragma once

#include <napi.h>

#include <initializer_list>

namespace coreproc {

inline void CallJs(Napi::Env env, const Napi::FunctionReference& fn,
                   std::initializer_list<napi_value> args) {
  napi_value result;
  napi_status status = napi_make_callback(env, nullptr, env.Global(), fn.Value(), args.size(),
                                          args.begin(), &result);
  if (status == napi_ok) return;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) != napi_ok) return;
  napi_valuetype type;
  // A terminating worker has no exception value to report; anything real goes to the
  // process's 'uncaughtException', as an exception thrown from a net.Socket callback does.
  if (napi_typeof(env, error, &type) == napi_ok && type != napi_undefined) {
    napi_fatal_exception(env, error);
  }
}

}  // namespace coreproc
