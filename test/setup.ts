// Runs in every test worker before the tests. Under `npm run test:asan` the worker starts
// with the sanitizer runtime preloaded; the programs the tests spawn (ps, sh, sleep) must not
// inherit it, or they run instrumented too (ps deadlocks that way), so drop it from our env.
// Node subprocesses that load the sanitizer addon need it back: see sanitizerEnv().
if (process.env.CORE_PROCESS_ADDON && process.env.LD_PRELOAD) {
  process.env.CORE_PROCESS_SANITIZER_PRELOAD = process.env.LD_PRELOAD;
  delete process.env.LD_PRELOAD;
}
