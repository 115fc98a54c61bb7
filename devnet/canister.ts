// A canister on the devnet: its persisted settings, module, certified data,
// stable memory and log, and the live wasm instance. Installing, upgrading and restoring
// follow the IC: install runs canister_init(arg); upgrade runs pre_upgrade, then a
// fresh instance's post_upgrade(arg), keeping stable memory and dropping the heap.
// Cycles are charged as on a replica: execution by instructions, storage by
// time, and a canister whose balance falls below its freezing threshold is frozen.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { Principal } from '@dfinity/principal';
import { ReplicaRejectCode } from '@dfinity/agent';
import { CanisterInstance } from './instance.ts';
import { attachedCycles, isQuery, isReplicated, type Callback, type Effects, type Message, type MessageKind, type Outcome } from './message.ts';
import { outOfCyclesMessage, type CanisterEnv } from './system_api.ts';
import { ChunkStore } from './chunk_store.ts';
import { writeAtomic } from '../common/write_atomic.ts';
import {
  DEFAULT_FREEZING_THRESHOLD_SECONDS, REFERENCE_SUBNET_SIZE, executionCost, freezingThresholdCycles, idleBurnPerDay, ingressCost, storageCost,
} from '../common/cycles.ts';
import { StableMemory } from './stable.ts';
import { compileCanisterModule, START_EXPORT, type CanisterModule } from './wasm.ts';
import type { MetadataSection } from './wasm_metadata.ts';
import { CanisterLog, logCapacity, type LogDelta, type LogFilter, type LogRecord } from './canister_log.ts';
import { settingsFromJson, settingsToJson, type JsonSettings, type Settings } from './canister_settings.ts';
import { RejectError } from './errors.ts';
import { instructionLimitExceeded, limitOf, REPLICA_LIMITS, type InstructionLimits } from './limits.ts';

/** How the devnet runs every canister: metering, limits, fees, logging. */
export interface ExecutionOptions {
  metering: boolean;
  limits: InstructionLimits;
  subnetSize: number;
  /** Log each message's method, instructions and cycles. */
  logInstructions: boolean;
  /** Where metered modules are cached by hash. */
  cacheDir?: string;
}

/** A replica's way, unless told otherwise: metered, its limits, a 13-node subnet's fees, quiet. */
export function executionOptions(o: Partial<ExecutionOptions> = {}): ExecutionOptions {
  const given = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return { metering: true, limits: REPLICA_LIMITS, subnetSize: REFERENCE_SUBNET_SIZE, logInstructions: false, ...given };
}

/** What a canister's memory is made of, as canister_status reports it. */
export interface MemoryUsage {
  wasm: number;
  stable: number;
  globals: number;
  binary: number;
  customSections: number;
  chunkStore: number;
  total: number;
}

/** Messages that pay for their execution; queries and inspect_message are free. */
const CHARGED: MessageKind[] = ['update', 'replicated_query', 'timer', 'reply_callback', 'reject_callback', 'cleanup'];
/** Messages refused unless the canister could pay for one that runs to the limit, as a replica prepays them. */
const PREPAID: MessageKind[] = ['update', 'replicated_query', 'timer'];
const NS_PER_SECOND = 1_000_000_000n;

/** The export a call runs, and the kind of message it runs as. */
export interface EntryPoint {
  name: string;
  kind: MessageKind;
}

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
  /** Seconds of idle burn the balance must cover; below that the canister is frozen. */
  freezingThreshold?: string;
  /** Message time (ns) up to which storage has been paid. */
  storagePaidUntil?: string;
  /** The other settings update_settings sets; older devnets wrote none. */
  settings?: JsonSettings;
}

export class Canister implements CanisterEnv {
  private instance: CanisterInstance | null = null;
  private module: CanisterModule | null = null;
  private readonly stable: StableMemory;
  /** Bumped when code is installed, reinstalled or uninstalled: older callbacks no longer apply. */
  codeEpoch = 0;
  readonly chunkStore: ChunkStore;
  private settingsValue: Settings;
  private readonly canisterLog: CanisterLog;
  /** Prints of the message running now, for the log once it ends. */
  private prints: LogDelta;

  private constructor(
    readonly id: Principal, private readonly dir: string, private meta: Meta, private readonly logLine: (line: string) => void,
    private readonly options: ExecutionOptions,
  ) {
    this.stable = new StableMemory(join(dir, 'stable.bin'));
    this.chunkStore = new ChunkStore(join(dir, 'chunks'));
    this.settingsValue = settingsFromJson(meta.settings);
    this.canisterLog = new CanisterLog(join(dir, 'log.json'), logCapacity(this.settingsValue.logMemoryLimit));
    this.prints = this.canisterLog.delta();
  }

  static create(root: string, id: Principal, controllers: Principal[], cycles: bigint, log: (line: string) => void, options: ExecutionOptions, time: bigint): Canister {
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
      storagePaidUntil: time.toString(),
    }, log, options);
    c.save();
    return c;
  }

  /** Loads a persisted canister and brings its code back through post_upgrade. */
  static restore(root: string, id: Principal, time: bigint, log: (line: string) => void, options: ExecutionOptions): Canister {
    const dir = join(root, id.toText());
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    const c = new Canister(id, dir, meta, log, options);
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
  print(content: Uint8Array, size: number, msg: Message): void {
    const cut = size > content.length ? ` [cut: ${size} bytes printed]` : '';
    this.log(new TextDecoder().decode(content) + cut);
    if (isReplicated(msg.kind)) this.prints.add(msg.time, content);
  }
  log(line: string): void {
    this.logLine(`[Canister ${this.id.toText()}] ${line}`);
  }
  get subnetSize(): number {
    return this.options.subnetSize;
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
  /** A metadata section of the installed module, if it has one of that name. */
  metadata(name: string): MetadataSection | undefined {
    return this.instance ? this.module?.metadata.get(name) : undefined;
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
  get freezingThreshold(): bigint {
    return BigInt(this.meta.freezingThreshold ?? DEFAULT_FREEZING_THRESHOLD_SECONDS);
  }
  get settings(): Settings {
    return this.settingsValue;
  }

  /** The log records kept, oldest first, narrowed by `filter`. */
  logRecords(filter?: LogFilter): LogRecord[] {
    return this.canisterLog.read(filter);
  }
  /** Bytes the log's records take. */
  get logBytes(): number {
    return this.canisterLog.bytesUsed;
  }

  /** The canister's memory as the IC bills it. */
  memoryUsage(): MemoryUsage {
    const parts = {
      wasm: this.heapBytes,
      stable: this.stableBytes,
      globals: 8 * (this.instance?.globalCount ?? 0),
      binary: this.module?.wasmBytes ?? 0,
      customSections: this.module?.customSectionBytes ?? 0,
      chunkStore: this.chunkStore.bytes,
    };
    return { ...parts, total: Object.values(parts).reduce((a, b) => a + b, 0) };
  }

  idleBurnPerDay(): bigint {
    return idleBurnPerDay(BigInt(this.memoryUsage().total), this.options.subnetSize);
  }

  /** The balance below which the canister is frozen. */
  freezingThresholdCycles(): bigint {
    return freezingThresholdCycles(BigInt(this.memoryUsage().total), this.freezingThreshold, this.options.subnetSize);
  }

  /**
   * Takes what storage has cost since it was last paid, up to `now` (message
   * time, ns), in whole seconds. Says whether the metadata changed and needs saving.
   */
  chargeStorage(now: bigint): boolean {
    // A canister from before the devnet charged storage starts paying now.
    if (this.meta.storagePaidUntil === undefined) {
      this.meta.storagePaidUntil = now.toString();
      return true;
    }
    const since = BigInt(this.meta.storagePaidUntil);
    const seconds = (now - since) / NS_PER_SECOND;
    if (seconds <= 0n) return false;
    this.meta.storagePaidUntil = (since + seconds * NS_PER_SECOND).toString();
    this.burn(storageCost(BigInt(this.memoryUsage().total), seconds, this.options.subnetSize));
    return true;
  }

  /** Below its freezing threshold a canister runs nothing and answers no queries. */
  get frozen(): boolean {
    return this.balance() < this.freezingThresholdCycles();
  }

  /** Takes cycles from the balance, down to zero at most. */
  private burn(cycles: bigint): void {
    const left = this.balance() - cycles;
    this.meta.cycles = (left > 0n ? left : 0n).toString();
  }

  /** The IC's refusal when the balance cannot cover `cost` above the freezing threshold. */
  outOfCycles(cost: bigint): RejectError | null {
    const needed = this.freezingThresholdCycles() + cost - this.balance();
    if (needed <= 0n) return null;
    return new RejectError(ReplicaRejectCode.SysTransient, 'IC0207', outOfCyclesMessage(this.id, needed));
  }

  /** Takes the cost of inducting an ingress message of `bytes`, or refuses it when that would freeze the canister. */
  payIngress(bytes: number, now: bigint): void {
    this.chargeStorage(now);
    const cost = ingressCost(BigInt(bytes), this.options.subnetSize);
    const refusal = this.outOfCycles(cost);
    if (refusal) throw refusal;
    this.burn(cost);
    this.save();
  }

  /**
   * Applies checked settings: one update_settings is one new canister version,
   * the settings a canister is created with are not. A new log_memory_limit
   * resizes the log.
   */
  updateSettings(u: { controllers?: Principal[]; freezingThreshold?: bigint; settings: Settings }, newVersion: boolean): void {
    if (u.controllers) this.meta.controllers = u.controllers.map((p) => p.toText());
    if (u.freezingThreshold !== undefined) this.meta.freezingThreshold = u.freezingThreshold.toString();
    this.settingsValue = u.settings;
    this.meta.settings = settingsToJson(u.settings);
    this.canisterLog.resize(logCapacity(u.settings.logMemoryLimit));
    if (newVersion) this.bumpVersion();
    else this.save();
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
   * The export a `call` to `method` runs, and as what kind of message, or the
   * reject the IC gives when the canister cannot run it. A query call may also
   * run an update method; an update call runs a query method replicated, as a
   * replica does.
   */
  entryFor(call: 'query' | 'update', method: string): EntryPoint {
    if (!this.instance) throw this.noWasm();
    const update = `canister_update ${method}`;
    const query = `canister_query ${method}`;
    const candidates: [string, MessageKind][] = call === 'query'
      ? [[query, 'query'], [update, 'query']]
      : [[update, 'update'], [query, 'replicated_query']];
    const found = candidates.find(([name]) => this.hasEntry(name));
    if (!found) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0536', `Error from Canister ${this.id.toText()}: Canister has no ${call} method '${method}'.`);
    if (this.status !== 'running') throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0508', `Canister ${this.id.toText()} is not running`);
    return { name: found[0], kind: found[1] };
  }

  /**
   * Runs one message. Effects are applied only when the message succeeds and
   * `persist` is set; queries (replicated ones too) and inspect_message never
   * persist. Updates, replicated queries and timers are refused while the
   * canister could not pay for a message at the limit; every charged message
   * pays for what it ran, trapped or not.
   */
  execute(msg: Message, entry: string | Callback, persist: boolean, callContext = 0n): Outcome {
    if (!this.instance) throw this.noWasm();
    const keep = persist && !isQuery(msg.kind);
    const limit = limitOf(msg.kind, this.options.limits);
    const charged = CHARGED.includes(msg.kind);
    // Storage runs up while the canister only answers queries, too.
    if (this.chargeStorage(msg.time) && !charged) this.save();
    if (msg.kind === 'query' && this.frozen) {
      throw new RejectError(ReplicaRejectCode.SysTransient, 'IC0207', `Canister ${this.id.toText()} is unable to process query calls because it's frozen. Please top up the canister with cycles and try again.`);
    }
    if (PREPAID.includes(msg.kind)) {
      const refusal = this.outOfCycles(executionCost(limit, this.options.subnetSize));
      if (refusal) {
        this.save();
        return { ok: false, code: 'IC0207', message: refusal.message, instructions: 0n };
      }
    }
    this.prints = this.canisterLog.delta();
    this.stable.begin();
    const outcome = this.instance.run(msg, entry, keep, { limit, available: limit, callContext });
    if (isReplicated(msg.kind)) this.keepPrints(msg.time, outcome);
    const cost = charged ? executionCost(outcome.instructions, this.options.subnetSize) : 0n;
    this.burn(cost);
    if (outcome.ok && keep) this.commit(outcome.effects);
    else {
      this.stable.rollback();
      if (charged) this.save();
    }
    this.logMessage(msg, outcome, cost);
    return outcome;
  }

  /**
   * Moves the prints of the replicated message that just ended into the
   * canister log, with the trap that ended it, as a replica records a trap.
   */
  private keepPrints(time: bigint, o?: Outcome): void {
    if (o && !o.ok && (o.code === 'IC0502' || o.code === 'IC0503')) {
      this.prints.add(time, new TextEncoder().encode(`[TRAP]: ${o.message || '(no message)'}`));
    }
    this.canisterLog.append(this.prints);
  }

  private logMessage(msg: Message, o: Outcome, cycles: bigint): void {
    if (!this.options.logInstructions) return;
    const what = msg.method && msg.kind !== 'timer' ? `${msg.kind} ${msg.method}` : msg.kind;
    const result = o.ok ? '' : ` (${o.code})`;
    this.log(`${what}: ${o.instructions.toLocaleString('en-US')} instructions, ${cycles.toLocaleString('en-US')} cycles${result}`);
  }

  /** Ends the open stable memory transaction, durably and together with the metadata. */
  private commit(e: Persisted = {}): void {
    if (e.certifiedData) this.meta.certifiedData = bytesToHex(e.certifiedData);
    if (e.timer !== undefined) this.meta.timer = e.timer.toString();
    // Cycles attached to the message's calls leave with them; unaccepted ones come back as refunds.
    const sent = attachedCycles(e.calls ?? []);
    this.meta.cycles = (this.balance() + (e.cyclesAccepted ?? 0n) - (e.cyclesBurned ?? 0n) - sent).toString();
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
    this.canisterLog.clear();
  }

  /**
   * Compiles and runs the install hooks. Compilation, start, pre_upgrade and
   * init or post_upgrade share one install budget, and the canister pays for
   * all of it when the install succeeds.
   */
  private load(wasm: Uint8Array, arg: Uint8Array, caller: Uint8Array, time: bigint, mode: InstallMode, record: boolean): void {
    let compiled: CanisterModule;
    try {
      compiled = compileCanisterModule(wasm, { metering: this.options.metering, cacheDir: this.options.cacheDir, restoring: !record });
    } catch (e) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0505', `Error from Canister ${this.id.toText()}: Canister's Wasm module is not valid: ${(e as Error).message}`);
    }
    const limit = this.options.limits.install;
    const refusal = record ? this.outOfCycles(executionCost(limit, this.options.subnetSize)) : null;
    if (refusal) throw refusal;
    let used = compiled.compileInstructions;
    if (used > limit) {
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0522', `Error from Canister ${this.id.toText()}: ${instructionLimitExceeded(limit)}`);
    }
    const run = (instance: CanisterInstance, kind: MessageKind, entry: string): Outcome => {
      const o = instance.run(msg(kind), entry, true, { limit, available: limit - used, callContext: 0n });
      used += o.instructions;
      return o;
    };
    // Prints start afresh with this install; a restart's replay of post_upgrade keeps none.
    this.prints = this.canisterLog.delta();
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
      if (record) this.keepPrints(time, o);
      // A failed install still pays for what it ran.
      if (record) {
        this.burn(executionCost(used, this.options.subnetSize));
        this.save();
      }
      const why = o.code === 'IC0522' ? o.message : `Canister called \`ic0.trap\` or trapped in ${hook}: ${o.message}`;
      throw new RejectError(ReplicaRejectCode.CanisterError, o.code, `Error from Canister ${this.id.toText()}: ${why}`);
    };
    this.stable.begin();
    const effects: Persisted = {};
    if (old && oldHeap && old.hasEntry('canister_pre_upgrade')) {
      const o = run(old, 'pre_upgrade', 'canister_pre_upgrade');
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
      instance = new CanisterInstance(compiled.module, this.stable, this);
    } catch (e) {
      undo();
      throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0505', `Error from Canister ${this.id.toText()}: ${(e as Error).message}`);
    }
    if (instance.hasEntry(START_EXPORT)) {
      const o = run(instance, 'start', START_EXPORT);
      if (!o.ok) fail(o, 'start');
    }
    const hook = mode === 'upgrade' ? 'canister_post_upgrade' : 'canister_init';
    if (instance.hasEntry(hook)) {
      const o = run(instance, mode === 'upgrade' ? 'post_upgrade' : 'init', hook);
      if (!o.ok) fail(o, hook.replace('canister_', ''));
      else Object.assign(effects, persisted(o.effects));
    }
    this.instance = instance;
    this.module = compiled;
    const cost = record ? executionCost(used, this.options.subnetSize) : 0n;
    this.burn(cost);
    if (this.options.logInstructions) this.log(`${record ? mode : 'restore'}: ${used.toLocaleString('en-US')} instructions, ${cost.toLocaleString('en-US')} cycles`);
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
    // Install and reinstall start a fresh log; an upgrade keeps it.
    if (record && mode !== 'upgrade') this.canisterLog.clear();
    if (record) this.keepPrints(time);
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
type Persisted = Partial<Pick<Effects, 'certifiedData' | 'timer' | 'cyclesAccepted' | 'cyclesBurned' | 'calls'>>;

function persisted(e: Effects): Persisted {
  const out: Persisted = { cyclesAccepted: e.cyclesAccepted, cyclesBurned: e.cyclesBurned };
  if (e.certifiedData) out.certifiedData = e.certifiedData;
  if (e.timer !== undefined) out.timer = e.timer;
  return out;
}

function moduleFile(hash: string): string {
  return `module-${hash}.wasm`;
}

