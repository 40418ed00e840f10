/**
 * OutputTail: the newest N bytes of a spec's output, whatever it writes. A build that prints
 * a gigabyte of logs keeps the end, which is where the error usually is.
 */

/**
 * Keeps the newest `limit` bytes appended to it.
 * @example
 * const tail = new OutputTail(4);
 * tail.append(Buffer.from('hello'));
 * tail.text(); // 'ello'
 */
export class OutputTail {
  readonly limit: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #dropped = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes appended and since dropped to stay within the limit. */
  get dropped(): number {
    return this.#dropped;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= this.limit) {
      // A copy, not a view: a view would pin the reader's whole chunk (up to 1 MiB) in memory.
      this.#dropped += this.#bytes + chunk.length - this.limit;
      this.#chunks =
        this.limit === 0 ? [] : [Buffer.from(chunk.subarray(chunk.length - this.limit))];
      this.#bytes = this.limit;
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    while (this.#bytes > this.limit) {
      const first = this.#chunks[0] as Buffer;
      const excess = this.#bytes - this.limit;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#bytes -= first.length;
        this.#dropped += first.length;
      } else {
        this.#chunks[0] = Buffer.from(first.subarray(excess));
        this.#bytes -= excess;
        this.#dropped += excess;
      }
    }
  }

  /**
   * The kept bytes as UTF-8. When the cut fell inside a multi-byte character its leftover
   * continuation bytes are dropped, so the text does not start with U+FFFD.
   */
  text(): string {
    const buf = Buffer.concat(this.#chunks, this.#bytes);
    let start = 0;
    if (this.#dropped > 0) {
      // At most 3 continuation bytes (10xxxxxx) follow a UTF-8 lead byte.
      while (start < 3 && start < buf.length && ((buf[start] as number) & 0xc0) === 0x80) start++;
    }
    return buf.toString('utf8', start);
  }
}
