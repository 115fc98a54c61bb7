// The canisters of the devnet's one subnet: its canister id ranges (the
// allocation range plus the builtins' fixed ids), id allocation (persisted so
// ids are never reused), and the canisters on disk.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReplicaRejectCode } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { Canister, type ExecutionOptions } from './canister.ts';
import { RejectError } from './errors.ts';
import { compareBytes } from './hashtree.ts';
import { writeAtomic } from '../common/write_atomic.ts';

/** Canister ids start where a dfx replica's do (bkyz2-fmaaa-aaaaa-qaaaq-cai). */
const FIRST_CANISTER_INDEX = 0x8000000000100000n;
const FIRST_ALLOCATED_INDEX = FIRST_CANISTER_INDEX + 1n;
const LAST_CANISTER_INDEX = 0x80000000001fffffn;

const MANAGEMENT = Principal.managementCanister().toText();

/** Whether `id` is the management canister's (aaaaa-aa), which no registry holds. */
export const isManagementCanister = (id: Principal): boolean => id.toText() === MANAGEMENT;

function canisterIdOf(index: bigint): Principal {
  const b = new Uint8Array(10);
  new DataView(b.buffer).setBigUint64(0, index);
  b[8] = 1;
  b[9] = 1;
  return Principal.fromUint8Array(b);
}

export class CanisterRegistry {
  private readonly canisters = new Map<string, Canister>();
  /** Ids of builtin canisters this subnet hosts besides its allocation range. */
  private readonly builtinIds = new Set<string>();
  /** The allocation range and each builtin's id, sorted by start. */
  private readonly rangeList: [Uint8Array, Uint8Array][] = [
    [canisterIdOf(FIRST_CANISTER_INDEX).toUint8Array(), canisterIdOf(LAST_CANISTER_INDEX).toUint8Array()],
  ];
  private readonly root: string;
  private readonly indexFile: string;
  private nextIndex: bigint;

  constructor(stateDir: string, private readonly log: (line: string) => void, readonly options: ExecutionOptions) {
    this.root = join(stateDir, 'canisters');
    this.indexFile = join(stateDir, 'replica.json');
    mkdirSync(this.root, { recursive: true });
    this.nextIndex = existsSync(this.indexFile)
      ? BigInt((JSON.parse(readFileSync(this.indexFile, 'utf8')) as { nextIndex: string }).nextIndex)
      : FIRST_ALLOCATED_INDEX;
  }

  /** Hosts builtin canisters at their fixed ids: inside the certified ranges, never allocated. */
  hostBuiltins(ids: Principal[]): void {
    for (const id of ids) {
      this.builtinIds.add(id.toText());
      this.rangeList.push([id.toUint8Array(), id.toUint8Array()]);
    }
    this.rangeList.sort(([a], [b]) => compareBytes(a, b));
  }

  /** The canister ranges this subnet certifies, sorted, for the agent's range checks (read on every request). */
  get ranges(): readonly [Uint8Array, Uint8Array][] {
    return this.rangeList;
  }

  /** Whether `id` falls in one of this subnet's canister ranges, the allocation range or a builtin's (the routing table of a one-subnet IC). */
  hostsRange(id: Principal): boolean {
    const b = id.toUint8Array();
    return this.ranges.some(([lo, hi]) => compareBytes(b, lo) >= 0 && compareBytes(b, hi) <= 0);
  }

  /** Brings every persisted canister back, each through post_upgrade at message time `now()`. */
  restore(now: () => bigint): void {
    for (const name of readdirSync(this.root)) {
      const id = Principal.fromText(name);
      if (!Canister.exists(this.root, id)) continue;
      try {
        this.canisters.set(name, Canister.restore(this.root, id, now(), this.log, this.options));
      } catch (e) {
        this.log(`canister ${name} could not be restored: ${(e as Error).message}`);
      }
    }
  }

  /** A new, empty canister under `specified` or the next free id, created at message time `time`. */
  create(specified: Principal | undefined, controllers: Principal[], cycles: bigint, time: bigint): Canister {
    const c = Canister.create(this.root, this.allocate(specified), controllers, cycles, this.log, this.options, time);
    this.canisters.set(c.id.toText(), c);
    return c;
  }

  delete(c: Canister): void {
    c.destroy();
    this.canisters.delete(c.id.toText());
  }

  /** The canister `id`, or the reject a call to a missing canister gets. */
  get(id: Principal): Canister {
    const c = this.find(id);
    if (!c) throw new RejectError(ReplicaRejectCode.DestinationInvalid, 'IC0301', `Canister ${id.toText()} not found`);
    return c;
  }

  find(id: Principal): Canister | undefined {
    return this.canisters.get(id.toText());
  }

  all(): IterableIterator<Canister> {
    return this.canisters.values();
  }

  /** Closes every canister's files. */
  close(): void {
    for (const c of this.canisters.values()) c.close();
  }

  private allocate(specified?: Principal): Principal {
    if (specified) {
      if (this.canisters.has(specified.toText()) || this.builtinIds.has(specified.toText())) {
        throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0518', `Canister ${specified.toText()} is already installed.`);
      }
      return specified;
    }
    let id: Principal;
    do {
      if (this.nextIndex > LAST_CANISTER_INDEX) throw new RejectError(ReplicaRejectCode.CanisterError, 'IC0501', 'The devnet subnet has no canister ids left.');
      id = canisterIdOf(this.nextIndex++);
    } while (this.canisters.has(id.toText()));
    writeAtomic(this.indexFile, JSON.stringify({ nextIndex: this.nextIndex.toString() }) + '\n');
    return id;
  }
}
