// Stable memory of one canister: 64 KiB pages kept in a file, cached in memory,
// written through at commit. Each message runs in a transaction that records the
// pages it touches; as the file always holds the committed state, a trap (or any
// query) is undone by dropping those pages from the cache. Transactions nest so that an upgrade
// (pre_upgrade, post_upgrade) or a reinstall (clear, init) commits as one.
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

export const PAGE = 65536;
/** The IC's stable memory limit (500 GiB). */
export const MAX_STABLE_PAGES = (500 * 1024 * 1024 * 1024) / PAGE;
/** Clean pages kept in memory before the oldest are dropped (they are in the file). */
const CACHE_PAGES = 8192;

export class StableMemory {
  private readonly cache = new Map<number, Uint8Array>();
  private touched: Set<number> | null = null;
  private sizeAtBegin = 0;
  private depth = 0;
  /** Set when the running transaction cleared the memory: the file no longer counts. */
  private cleared = false;
  private filePages: number;
  private readonly fd: number;

  constructor(path: string, public sizePages: number) {
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.filePages = Math.ceil(fstatSync(this.fd).size / PAGE);
  }

  close(): void {
    closeSync(this.fd);
  }

  get sizeBytes(): number {
    return this.sizePages * PAGE;
  }

  begin(): void {
    if (this.depth++ > 0) return;
    this.touched = new Set();
    this.sizeAtBegin = this.sizePages;
    this.cleared = false;
  }

  /** Undoes the whole outermost transaction, whatever the nesting. */
  rollback(): void {
    if (!this.touched) return;
    for (const index of this.touched) this.cache.delete(index);
    this.sizePages = this.sizeAtBegin;
    this.touched = null;
    this.cleared = false;
    this.depth = 0;
  }

  /** Ends a transaction; the outermost writes every touched page to the file. */
  commit(): void {
    if (!this.touched || --this.depth > 0) return;
    if (this.cleared) {
      ftruncateSync(this.fd, 0);
      this.filePages = 0;
      for (const index of [...this.cache.keys()]) if (!this.touched.has(index)) this.cache.delete(index);
    }
    for (const index of this.touched) {
      const page = this.cache.get(index) ?? new Uint8Array(PAGE);
      writeSync(this.fd, page, 0, PAGE, index * PAGE);
      if (index >= this.filePages) this.filePages = index + 1;
    }
    this.touched = null;
    this.cleared = false;
  }

  /** Empties the memory as part of the running transaction (reinstall). */
  clear(): void {
    if (!this.touched) throw new Error('stable memory cleared outside a transaction');
    this.cleared = true;
    this.sizePages = 0;
  }

  grow(pages: number): number {
    const old = this.sizePages;
    if (pages < 0 || old + pages > MAX_STABLE_PAGES) return -1;
    this.sizePages = old + pages;
    return old;
  }

  read(offset: number, dst: Uint8Array): void {
    this.check(offset, dst.length);
    let done = 0;
    while (done < dst.length) {
      const pos = offset + done;
      const index = Math.floor(pos / PAGE);
      const inPage = pos % PAGE;
      const n = Math.min(PAGE - inPage, dst.length - done);
      const page = this.page(index);
      if (page) dst.set(page.subarray(inPage, inPage + n), done);
      else dst.fill(0, done, done + n);
      done += n;
    }
  }

  write(offset: number, src: Uint8Array): void {
    this.check(offset, src.length);
    const touched = this.touched;
    if (!touched) throw new Error('stable memory written outside a message');
    let done = 0;
    while (done < src.length) {
      const pos = offset + done;
      const index = Math.floor(pos / PAGE);
      const inPage = pos % PAGE;
      const n = Math.min(PAGE - inPage, src.length - done);
      let page = this.page(index);
      touched.add(index);
      if (!page) {
        page = new Uint8Array(PAGE);
        this.cache.set(index, page);
      }
      page.set(src.subarray(done, done + n), inPage);
      done += n;
    }
  }

  private check(offset: number, length: number): void {
    if (offset + length > this.sizeBytes) {
      throw new RangeError(`stable memory access out of bounds: offset ${offset} + ${length} > ${this.sizeBytes}`);
    }
  }

  private page(index: number): Uint8Array | undefined {
    if (this.cleared && !this.touched?.has(index)) return undefined;
    const cached = this.cache.get(index);
    if (cached || index >= this.filePages) return cached;
    const page = new Uint8Array(PAGE);
    readSync(this.fd, page, 0, PAGE, index * PAGE);
    this.evict();
    this.cache.set(index, page);
    return page;
  }

  private evict(): void {
    if (this.cache.size < CACHE_PAGES) return;
    for (const index of this.cache.keys()) {
      // Pages written in the running message are not in the file yet.
      if (this.touched?.has(index)) continue;
      if (index >= this.filePages) continue;
      this.cache.delete(index);
      if (this.cache.size < CACHE_PAGES) return;
    }
  }
}
