// Stable memory of one canister: 64 KiB pages in a file whose length is the
// memory's size, cached in memory. A message runs in a transaction that records
// the pages it touches; as the file always holds the committed state, a trap
// (or any query) is undone by dropping those pages from the cache.
//
// A commit first writes the touched pages, the new size and the canister's
// small state files to a journal, then applies it and removes it. A journal
// left by a crash is replayed on open if complete and dropped if not, so the
// committed state is never torn. (No fsync: this guards against the process
// dying, not the machine losing power.)
import {
  closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { writeAtomic } from '../common/write_atomic.ts';

export const PAGE = 65536;
/** The IC's stable memory limit (500 GiB). */
const MAX_STABLE_PAGES = (500 * 1024 * 1024 * 1024) / PAGE;
/** Clean pages kept in memory before the oldest are dropped (they are in the file). */
const CACHE_PAGES = 8192;
const JOURNAL_MAGIC = 'icboot-journal-1';
const JOURNAL_END = 'icboot-journal-end';

/** Small files committed atomically with the pages, by name in the canister directory. */
export type Sidecars = Record<string, string>;

interface Journal {
  /** The memory was emptied first (reinstall, uninstall). */
  cleared: boolean;
  sizePages: number;
  pages: number[];
  sidecars: Sidecars;
}

export class StableMemory {
  private readonly cache = new Map<number, Uint8Array>();
  private touched: Set<number> | null = null;
  private sizeAtBegin = 0;
  /** Set when the running transaction cleared the memory: the file no longer counts. */
  private cleared = false;
  private filePages: number;
  sizePages: number;
  private readonly fd: number;
  private readonly journalPath: string;

  constructor(private readonly path: string) {
    this.journalPath = `${path}.journal`;
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.replayJournal();
    this.filePages = Math.ceil(fstatSync(this.fd).size / PAGE);
    this.sizePages = this.filePages;
  }

  close(): void {
    closeSync(this.fd);
  }

  get sizeBytes(): number {
    return this.sizePages * PAGE;
  }

  begin(): void {
    if (this.touched) throw new Error('stable memory transaction already open');
    this.touched = new Set();
    this.sizeAtBegin = this.sizePages;
    this.cleared = false;
  }

  rollback(): void {
    if (!this.touched) return;
    for (const index of this.touched) this.cache.delete(index);
    this.sizePages = this.sizeAtBegin;
    this.touched = null;
    this.cleared = false;
  }

  /** Makes the transaction durable together with `sidecars`, then ends it. */
  commit(sidecars: Sidecars = {}): void {
    const touched = this.touched;
    if (!touched) throw new Error('no stable memory transaction to commit');
    const journal: Journal = {
      cleared: this.cleared, sizePages: this.sizePages, pages: [...touched].filter((i) => i < this.sizePages), sidecars,
    };
    this.writeJournal(journal);
    if (this.cleared) {
      // Pages not rewritten after a clear read as zero: forget their cached bytes.
      for (const index of [...this.cache.keys()]) if (!touched.has(index)) this.cache.delete(index);
    }
    this.apply(journal, (i) => this.cache.get(i) ?? new Uint8Array(PAGE));
    rmSync(this.journalPath, { force: true });
    for (const index of touched) if (index >= this.sizePages) this.cache.delete(index);
    this.touched = null;
    this.cleared = false;
  }

  /** Empties the memory as part of the running transaction (reinstall, uninstall). */
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
      if (this.touched?.has(index) || index >= this.filePages) continue;
      this.cache.delete(index);
      if (this.cache.size < CACHE_PAGES) return;
    }
  }

  /** Journal layout: header line (JSON), the pages in order, end marker. */
  private writeJournal(j: Journal): void {
    const header = Buffer.from(`${JSON.stringify({ magic: JOURNAL_MAGIC, ...j })}\n`);
    const fd = openSync(`${this.journalPath}.tmp`, 'w');
    try {
      writeSync(fd, header);
      for (const index of j.pages) writeSync(fd, this.cache.get(index) ?? new Uint8Array(PAGE));
      writeSync(fd, Buffer.from(JOURNAL_END));
    } finally {
      closeSync(fd);
    }
    renameSync(`${this.journalPath}.tmp`, this.journalPath);
  }

  private apply(j: Journal, pageOf: (index: number) => Uint8Array): void {
    if (j.cleared) ftruncateSync(this.fd, 0);
    ftruncateSync(this.fd, j.sizePages * PAGE);
    for (const index of j.pages) writeSync(this.fd, pageOf(index), 0, PAGE, index * PAGE);
    this.filePages = j.sizePages;
    const dir = dirname(this.path);
    for (const [name, data] of Object.entries(j.sidecars)) writeAtomic(join(dir, name), data);
  }

  private replayJournal(): void {
    rmSync(`${this.journalPath}.tmp`, { force: true });
    if (!existsSync(this.journalPath)) return;
    const bytes = readFileSync(this.journalPath);
    const nl = bytes.indexOf(10);
    const end = Buffer.from(JOURNAL_END);
    let j: Journal | null = null;
    try {
      const header = JSON.parse(bytes.subarray(0, nl).toString()) as Journal & { magic: string };
      const complete = bytes.length === nl + 1 + header.pages.length * PAGE + end.length
        && bytes.subarray(bytes.length - end.length).equals(end);
      if (header.magic === JOURNAL_MAGIC && complete) j = header;
    } catch {
      j = null;
    }
    if (j) {
      const pages = new Map(j.pages.map((index, k) => [index, bytes.subarray(nl + 1 + k * PAGE, nl + 1 + (k + 1) * PAGE)]));
      this.apply(j, (i) => pages.get(i)!);
    }
    rmSync(this.journalPath, { force: true });
  }
}
