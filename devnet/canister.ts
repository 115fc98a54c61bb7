// A canister on the devnet: its persisted settings, module, certified data and
// stable memory, and the live wasm instance. Installing, upgrading and restoring
// follow the IC: install runs canister_init(arg); upgrade runs pre_upgrade, then a
// fresh instance's post_upgrade(arg), keeping stable memory and dropping the heap.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { Principal } from '@dfinity/principal';
import { ReplicaRejectCode } from '@dfinity/agent';
import { CanisterInstance } from './instance.ts';
import type { Callback, Effects, Message, Outcome } from './message.ts';
import type { CanisterEnv } from './system_api.ts';
import { ChunkStore } from './chunk_store.ts';
import { writeAtomic } from '../common/write_atomic.ts';
import { StableMemory } from './stable.ts';
import { compileCanisterModule } from './wasm.ts';
import { RejectError } from './errors.ts';

export type CanisterStatus = 'running' | 'stopping' | 'stopped';
export type InstallMode = 'install' | 'reinstall' | 'upgrade';

interface Meta {
  controllers: string[];
  cycles: string;
  status: CanisterStatus;
  version: string;
  moduleHash: string | null;
  certifiedData: string;
  timer: string;
  /** The arg of the last install or upgrade, replayed into post_upgrade on restart. */
  installArg: string;
}

export class Canister implements CanisterEnv {
  private instance: CanisterInstance | null = null;
  private readonly stable: StableMemory;
  /** Bumped when code is installed, reinstalled or uninstalled: older callbacks no longer apply. */
  codeEpoch = 0;
  readonly chunkStore: ChunkStore;

  private constructor(readonly id: Principal, private readonly dir: string, private meta: Meta, private readonly logLine: (line: string) => void) {
    this.stable = new StableMemory(join(dir, 'stable.bin'));
    this.chunkStore = new ChunkStore(join(dir, 'chunks'));
  }

  static create(root: string, id: Principal, controllers: Principal[], cycles: bigint, log: (line: string) => void): Canister {
    const dir = join(root, id.toText());
    mkdirSync(dir, { recursive: true });
    const c = new Canister(id, dir, {
      controllers: controllers.map((p) => p.toText()),
      cycles: cycles.toString(),
      status: 'running',
      version: '0',
      moduleHash: null,
      certifiedData: '',
      timer: '0',
      installArg: '',
    }, log);
    c.save();
    return c;
  }

  /** Loads a persisted canister and brings its code back through post_upgrade. */
  static restore(root: string, id: Principal, time: bigint, log: (line: string) => void): Canister {
    const dir = join(root, id.toText());
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    const c = new Canister(id, dir, meta, log);
    if (meta.moduleHash) {
      const wasm = readFileSync(join(dir, moduleFile(meta.moduleHash)));
      c.load(new Uint8Array(wasm), hexToBytes(meta.installArg), id.toUint8Array(), time, 'upgrade', false);
    }
    return c;
  }

  // CanisterEnv
  isController(p: Uint8Array): boolean {
    const text = Principal.fromUint8Array(p).toText();
    return this.meta.controllers.includes(text);
  }
  version(): bigint {
    return BigInt(this.meta.version);
  }
  balance(): bigint {
    return BigInt(this.meta.cycles);
  }
  timer(): bigint {
    return BigInt(this.meta.timer);
  }
  log(line: string): void {
    this.logLine(`[Canister ${this.id.toText()}] ${line}`);
  }

  get controllers(): Principal[] {
    return this.meta.controllers.map((t) => Principal.fromText(t));
  }
  get status(): CanisterStatus {
    return this.meta.status;
  }
  get moduleHash(): Uint8Array | null {
    return this.meta.moduleHash ? hexToBytes(this.meta.moduleHash) : null;
  }
  get certifiedData(): Uint8Array {
    return hexToBytes(this.meta.certifiedData);
  }
  get stableBytes(): number {
    return this.stable.sizeBytes;
  }
  get heapBytes(): number {
    return this.instance?.heapBytes ?? 0;
  }
  get hasCode(): boolean {
    return this.instance !== null;
  }

  setControllers(controllers: Principal[]): void {
    this.meta.controllers = controllers.map((p) => p.toText());
    this.bumpVersion();
  }
  setStatus(status: CanisterStatus): void {
    this.meta.status = status;
    this.save();
  }
  addCycles(amount: bigint): void {
    this.meta.cycles = (this.balance() + amount).toString();
    this.save();
  }

  hasEntry(name: string): boolean {
    return this.instance?.hasEntry(name) ?? false;
  }

  /**
   * The export a `kind` message to `method` runs (a query may also run an
   * update method), or the reject the IC gives when the canister cannot run it.
   */
  entryFor(kind: 'query' | 'update', method: string): string {
    if (!this.instance) throw this.noWasm();
    const update = `canister_update ${method}`;
    const entry = (kind === 'query' ? [`canister_query ${method}`, update] : [update]).find((name) => this.hasEntry(name));
    if (!entry) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0536', `Error from Canister ${this.id.toText()}: Canister has no ${kind} method '${method}'.`);
    if (this.status !== 'running') throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0508', `Canister ${this.id.toText()} is not running`);
    return entry;
  }

  /**
   * Runs one message. Effects are applied only when the message succeeds and
   * `persist` is set; queries and inspect_message never persist.
   */
  execute(msg: Message, entry: string | Callback, persist: boolean): Outcome {
    if (!this.instance) throw this.noWasm();
    this.stable.begin();
    const outcome = this.instance.run(msg, entry, persist);
    if (outcome.ok && persist) this.commit(outcome.effects);
    else this.stable.rollback();
    return outcome;
  }

  /** Ends the open stable memory transaction, durably and together with the metadata. */
  private commit(e: Persisted = {}): void {
    if (e.certifiedData) this.meta.certifiedData = bytesToHex(e.certifiedData);
    if (e.timer !== undefined) this.meta.timer = e.timer.toString();
    this.meta.cycles = (this.balance() + (e.cyclesAccepted ?? 0n) - (e.cyclesBurned ?? 0n)).toString();
    this.stable.commit({ 'meta.json': this.metaJson() });
  }

  clearTimer(): void {
    this.meta.timer = '0';
    this.save();
  }

  /** install / reinstall / upgrade, atomically: on any trap nothing changes. */
  install(mode: InstallMode, wasm: Uint8Array, arg: Uint8Array, caller: Uint8Array, time: bigint): void {
    if (mode === 'install' && this.instance) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0514', `Canister ${this.id.toText()} cannot be installed because the canister is not empty. Try installing with mode='reinstall' instead.`);
    }
    if (mode === 'upgrade' && !this.instance) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0537', `Attempted to upgrade canister ${this.id.toText()}, but it contains no Wasm module.`);
    }
    this.load(wasm, arg, caller, time, mode, true);
  }

  uninstall(): void {
    this.instance = null;
    this.codeEpoch++;
    this.stable.begin();
    this.stable.clear();
    this.meta.moduleHash = null;
    this.meta.certifiedData = '';
    this.meta.timer = '0';
    this.meta.version = (this.version() + 1n).toString();
    this.commit();
  }

  private load(wasm: Uint8Array, arg: Uint8Array, caller: Uint8Array, time: bigint, mode: InstallMode, record: boolean): void {
    let module: WebAssembly.Module;
    try {
      module = compileCanisterModule(wasm);
    } catch (e) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0505', `Error from Canister ${this.id.toText()}: Canister's Wasm module is not valid: ${(e as Error).message}`);
    }
    const msg = (kind: Message['kind']): Message => ({
      kind, method: '', arg, caller, time, cycles: 0n, responded: false, maxReplyBytes: 0,
    });
    // An upgrade is atomic: if post_upgrade fails, the old instance gets back
    // the heap it had before pre_upgrade, and stable memory is rolled back.
    const old = this.instance;
    const oldHeap = mode === 'upgrade' && record ? old?.snapshot() : undefined;
    const undo = (): void => {
      this.stable.rollback();
      if (old && oldHeap) old.restore(oldHeap);
    };
    const fail = (o: Outcome & { ok: false }, hook: string): never => {
      undo();
      throw new RejectError(ReplicaRejectCode.CanisterError, o.code, `Error from Canister ${this.id.toText()}: Canister called \`ic0.trap\` or trapped in ${hook}: ${o.message}`);
    };
    this.stable.begin();
    const effects: Persisted = {};
    if (old && oldHeap && old.hasEntry('canister_pre_upgrade')) {
      const o = old.run(msg('pre_upgrade'), 'canister_pre_upgrade', true);
      if (!o.ok) fail(o, 'pre_upgrade');
      else Object.assign(effects, persisted(o.effects));
    }
    // Every install deactivates the global timer; only install and reinstall
    // reset certified data and stable memory.
    effects.timer = 0n;
    if (mode !== 'upgrade') {
      this.stable.clear();
      effects.certifiedData = new Uint8Array();
    }
    let instance: CanisterInstance;
    try {
      instance = new CanisterInstance(module, this.stable, this);
    } catch (e) {
      undo();
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0505', `Error from Canister ${this.id.toText()}: ${(e as Error).message}`);
    }
    const hook = mode === 'upgrade' ? 'canister_post_upgrade' : 'canister_init';
    if (instance.hasEntry(hook)) {
      const o = instance.run(msg(mode === 'upgrade' ? 'post_upgrade' : 'init'), hook, true);
      if (!o.ok) fail(o, hook.replace('canister_', ''));
      else Object.assign(effects, persisted(o.effects));
    }
    this.instance = instance;
    if (mode !== 'upgrade') this.codeEpoch++;
    const previousModule = this.meta.moduleHash;
    if (record) {
      // The module is stored under its hash, so meta.json (committed with the
      // stable pages) always names a module that is on disk.
      this.meta.moduleHash = bytesToHex(sha256(wasm));
      writeAtomic(join(this.dir, moduleFile(this.meta.moduleHash)), wasm);
      this.meta.installArg = bytesToHex(arg);
      this.meta.version = (this.version() + 1n).toString();
    }
    this.commit(effects);
    if (previousModule && previousModule !== this.meta.moduleHash) rmSync(join(this.dir, moduleFile(previousModule)), { force: true });
  }

  private noWasm(): RejectError {
    return new RejectError(ReplicaRejectCode.CanisterError, 'IC0537', `Attempted to execute a message, but the canister ${this.id.toText()} contains no Wasm module.`);
  }

  private bumpVersion(): void {
    this.meta.version = (this.version() + 1n).toString();
    this.save();
  }

  private metaJson(): string {
    return JSON.stringify(this.meta, null, 2) + '\n';
  }

  /** Persists settings changed outside a message (controllers, status, cycles). */
  save(): void {
    writeAtomic(join(this.dir, 'meta.json'), this.metaJson());
  }

  close(): void {
    this.stable.close();
  }

  /** Removes the canister and all its files (delete_canister). */
  destroy(): void {
    this.instance = null;
    this.stable.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  static exists(root: string, id: Principal): boolean {
    return existsSync(join(root, id.toText(), 'meta.json'));
  }
}

/** The effects of a message that outlive it in the canister's state. */
type Persisted = Partial<Pick<Effects, 'certifiedData' | 'timer' | 'cyclesAccepted' | 'cyclesBurned'>>;

function persisted(e: Effects): Persisted {
  const out: Persisted = { cyclesAccepted: e.cyclesAccepted, cyclesBurned: e.cyclesBurned };
  if (e.certifiedData) out.certifiedData = e.certifiedData;
  if (e.timer !== undefined) out.timer = e.timer;
  return out;
}

function moduleFile(hash: string): string {
  return `module-${hash}.wasm`;
}

