/**
 * A byte ring buffer for captured output: keeps the newest `capacity` bytes, drops the
 * oldest, and counts what it dropped so a reader knows the output is partial.
 */
export class OutputRing {
  readonly capacity: number;
  #buf: Buffer;
  #start = 0;
  #length = 0;
  #dropped = 0;
  #total = 0;

  /**
   * @example
   * const ring = new OutputRing(4);
   * ring.append(Buffer.from('abcdef'));
   * ring.read().toString(); // 'cdef'; ring.dropped === 2
   */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) {
      throw new RangeError(`OutputRing: capacity ${capacity} must be a positive integer of bytes`);
    }
    this.capacity = capacity;
    // Grown on demand: most processes print little, and zero-filling 1 MiB per stream per
    // process cost more than the spawn itself (bench 11).
    this.#buf = Buffer.allocUnsafe(0);
  }

  /** Bytes dropped from the front so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes ever appended. */
  get total(): number {
    return this.#total;
  }

  get length(): number {
    return this.#length;
  }

  append(chunk: Buffer): void {
    this.#total += chunk.length;
    this.#reserve(Math.min(this.capacity, this.#length + chunk.length));
    let data = chunk;
    if (data.length >= this.capacity) {
      this.#dropped += this.#length + data.length - this.capacity;
      data = data.subarray(data.length - this.capacity);
      data.copy(this.#buf, 0);
      this.#start = 0;
      this.#length = this.capacity;
      return;
    }
    const overflow = this.#length + data.length - this.capacity;
    if (overflow > 0) {
      this.#start = (this.#start + overflow) % this.capacity;
      this.#length -= overflow;
      this.#dropped += overflow;
    }
    const end = (this.#start + this.#length) % this.capacity;
    const first = Math.min(data.length, this.capacity - end);
    data.copy(this.#buf, end, 0, first);
    if (first < data.length) data.copy(this.#buf, 0, first);
    this.#length += data.length;
  }

  // Until the ring is full the data is contiguous from #start = 0, so growing is one copy.
  #reserve(bytes: number): void {
    if (this.#buf.length >= bytes) return;
    const size = Math.min(this.capacity, Math.max(bytes, this.#buf.length * 2, 4096));
    const next = Buffer.allocUnsafe(size);
    this.read().copy(next, 0);
    this.#buf = next;
    this.#start = 0;
  }

  /** The buffered bytes, oldest first, as a new Buffer. */
  read(): Buffer {
    const end = this.#start + this.#length;
    if (end <= this.capacity) return Buffer.from(this.#buf.subarray(this.#start, end));
    return Buffer.concat([
      this.#buf.subarray(this.#start),
      this.#buf.subarray(0, end - this.capacity),
    ]);
  }
}
