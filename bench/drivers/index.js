// Registry of the implementation drivers. Every driver exposes the same small interface:
//   load()                                  import the library; throws (with a reason) if absent
//   spawnTrue(program)                      spawn with stdio null/ignore, resolve on exit (code 0)
//   spawnSleep(program, args, { stdio })    → { pid, ready, exited, kill(sig), streams(),
//                                              destroyStreams() }
//   pipeBytes(program, args, { lines })     stream the child's stdout, resolve with the byte count
//   waitTimeout(handle, ms)                 (core and cp only) wait that rejects after `ms`
import core from './core.js';
import cp from './cp.js';
import execa from './execa.js';
import nanoSpawn from './nano-spawn.js';
import tinyexec from './tinyexec.js';

export const ALL_DRIVERS = [core, cp, execa, tinyexec, nanoSpawn];

export function driverByName(name) {
  const d = ALL_DRIVERS.find((x) => x.name === name);
  if (!d) throw new Error(`unknown driver ${name}`);
  return d;
}
