/**
 * Registry: a named, ordered collection with an optional write lock. The one primitive under
 * the action, task and service tables. Iteration works on a snapshot, so a callback that
 * registers or deletes (a service registering actions while another is listed) never sees a
 * half-updated table: that is what "thread-safe by design" means on a single-threaded runtime.
 */
import { CoreError } from './errors.js';
import { globMatcher } from './glob.js';

export interface RegistrySetOptions {
  /** Overwrite an existing entry instead of refusing the duplicate. */
  replace?: boolean;
}

/**
 * @example
 * const services = new Registry<Service>('services');
 * services.set('brain', brainService);
 * services.lock(); // no more registration after startup
 */
export class Registry<T> {
  readonly #items = new Map<string, T>();
  #locked = false;

  /** @param label names the registry in error messages (`actions`, `services`). */
  constructor(readonly label = 'registry') {}

  /**
   * Adds an entry. Throws CoreError `Duplicate` for a taken name (unless `replace`), `Locked`
   * once locked: both are programming errors, not runtime outcomes.
   *
   * @example
   * registry.set('process.run', def);
   * registry.set('process.run', newer, { replace: true });
   */
  set(name: string, item: T, options: RegistrySetOptions = {}): this {
    this.#assertWritable('set', name);
    if (typeof name !== 'string' || name.length === 0) {
      throw new CoreError('InvalidInput', `${this.label}.set: name must be a non-empty string`, {
        registry: this.label,
        field: 'name',
      });
    }
    if (this.#items.has(name) && !options.replace) {
      throw new CoreError(
        'Duplicate',
        `${this.label}.set: '${name}' is already registered (pass { replace: true } to replace it)`,
        { registry: this.label, entry: name },
      );
    }
    this.#items.set(name, item);
    return this;
  }

  /**
   * @example
   * const def = registry.get('process.run'); // undefined when absent
   */
  get(name: string): T | undefined {
    return this.#items.get(name);
  }

  /**
   * @example
   * if (registry.has('brain')) ...
   */
  has(name: string): boolean {
    return this.#items.has(name);
  }

  /**
   * Removes an entry; false when there was none. Throws CoreError `Locked` once locked.
   *
   * @example
   * registry.delete('process.run');
   */
  delete(name: string): boolean {
    this.#assertWritable('delete', name);
    return this.#items.delete(name);
  }

  /**
   * Names in registration order, optionally filtered by a dotted glob.
   *
   * @example
   * registry.names();            // ['process.run', 'process.start', 'my.thing']
   * registry.names('process.*'); // ['process.run', 'process.start']
   */
  names(glob?: string): string[] {
    const names = [...this.#items.keys()];
    if (glob === undefined) return names;
    const match = globMatcher(glob);
    return names.filter(match);
  }

  /**
   * Entries whose name matches the glob, in registration order.
   *
   * @example
   * for (const def of registry.list('process.*')) console.log(def.description);
   */
  list(glob = '**'): T[] {
    const match = globMatcher(glob);
    return [...this.#items].filter(([name]) => match(name)).map(([, item]) => item);
  }

  /**
   * Calls `fn` for every entry in registration order, over a snapshot.
   *
   * @example
   * registry.each((name, def) => console.log(name, def.description));
   */
  each(fn: (name: string, item: T) => void): void {
    for (const [name, item] of [...this.#items]) fn(name, item);
  }

  /**
   * @example
   * registry.size; // 3
   */
  get size(): number {
    return this.#items.size;
  }

  /**
   * Refuses every later `set` and `delete`. There is no unlock: a lock is a promise to readers.
   *
   * @example
   * registry.lock();
   */
  lock(): this {
    this.#locked = true;
    return this;
  }

  /**
   * @example
   * if (!registry.locked) registry.set('late', item);
   */
  get locked(): boolean {
    return this.#locked;
  }

  #assertWritable(op: string, name: string): void {
    if (this.#locked) {
      throw new CoreError('Locked', `${this.label}.${op}: '${name}' refused, registry is locked`, {
        registry: this.label,
        entry: name,
      });
    }
  }
}
