// The settings update_settings changes and canister_status reports, besides
// controllers and the freezing threshold: their replica defaults, the replica's
// checks on new values, who a visibility setting lets in, and their JSON form
// in the canister's meta.json (absent in state dirs from older devnets).
import { ReplicaRejectCode } from '@dfinity/agent';
import { Principal } from '@dfinity/principal';
import { DEFAULT_LOG_MEMORY_LIMIT, MAX_LOG_MEMORY_LIMIT } from './canister_log.ts';
import { RejectError } from './errors.ts';

/** Who may read a canister's logs, status or snapshots. */
export type Visibility = { controllers: null } | { public: null } | { allowed_viewers: Principal[] };
export interface EnvVar { name: string; value: string }

export interface Settings {
  computeAllocation: bigint;
  memoryAllocation: bigint;
  reservedCyclesLimit: bigint;
  minimumIncomingCanisterCallCycles: bigint;
  wasmMemoryLimit: bigint;
  wasmMemoryThreshold: bigint;
  logMemoryLimit: bigint;
  logVisibility: Visibility;
  statusVisibility: Visibility;
  snapshotVisibility: Visibility;
  /** Sorted by name, names unique, as the replica keeps them. */
  environmentVariables: EnvVar[];
}

/** update_settings' `settings` argument as Candid decodes it: every field optional. */
export interface SettingsArg {
  compute_allocation?: [] | [bigint];
  memory_allocation?: [] | [bigint];
  reserved_cycles_limit?: [] | [bigint];
  minimum_incoming_canister_call_cycles?: [] | [bigint];
  wasm_memory_limit?: [] | [bigint];
  wasm_memory_threshold?: [] | [bigint];
  log_memory_limit?: [] | [bigint];
  log_visibility?: [] | [Visibility];
  status_visibility?: [] | [Visibility];
  snapshot_visibility?: [] | [Visibility];
  environment_variables?: [] | [EnvVar[]];
}

const CONTROLLERS: Visibility = { controllers: null };

export const DEFAULT_SETTINGS: Settings = {
  computeAllocation: 0n,
  memoryAllocation: 0n,
  reservedCyclesLimit: 5_000_000_000_000n,
  minimumIncomingCanisterCallCycles: 0n,
  wasmMemoryLimit: 3n * 1024n ** 3n,
  wasmMemoryThreshold: 0n,
  logMemoryLimit: DEFAULT_LOG_MEMORY_LIMIT,
  logVisibility: CONTROLLERS,
  statusVisibility: CONTROLLERS,
  snapshotVisibility: CONTROLLERS,
  environmentVariables: [],
};

// The replica's limits (execution environment config and canister settings).
const MAX_ALLOWED_VIEWERS = 10;
const MAX_COMPUTE_ALLOCATION = 100n;
const MAX_ENV_VARS = 20;
const MAX_ENV_NAME_BYTES = 128;
const MAX_ENV_VALUE_BYTES = 128;

const invalid = (message: string): RejectError => new RejectError(ReplicaRejectCode.CanisterReject, 'IC0408', message);
const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/** `current` with the fields `arg` sets, or the replica's reject for a value it refuses. */
export function updateSettings(current: Settings, arg: SettingsArg): Settings {
  const next = { ...current };
  const set = <K extends keyof SettingsArg>(key: K): NonNullable<SettingsArg[K]>[number] | undefined => arg[key]?.[0];
  const compute = set('compute_allocation');
  if (compute !== undefined) {
    if (compute > MAX_COMPUTE_ALLOCATION) throw invalid(`Invalid settings: compute_allocation must be in the range [0..100], got ${compute}.`);
    next.computeAllocation = compute;
  }
  const logLimit = set('log_memory_limit');
  if (logLimit !== undefined) {
    if (logLimit > MAX_LOG_MEMORY_LIMIT) {
      throw new RejectError(ReplicaRejectCode.CanisterReject, 'IC0406', `The canister log memory limit ${logLimit} is too high. It must be at most ${MAX_LOG_MEMORY_LIMIT}.`);
    }
    next.logMemoryLimit = logLimit;
  }
  for (const [key, field] of [['log_visibility', 'logVisibility'], ['status_visibility', 'statusVisibility'], ['snapshot_visibility', 'snapshotVisibility']] as const) {
    const v = set(key);
    if (v === undefined) continue;
    if ('allowed_viewers' in v && v.allowed_viewers.length > MAX_ALLOWED_VIEWERS) {
      throw invalid(`Invalid settings: ${key} allows at most ${MAX_ALLOWED_VIEWERS} viewers, got ${v.allowed_viewers.length}.`);
    }
    next[field] = v;
  }
  const env = set('environment_variables');
  if (env !== undefined) next.environmentVariables = checkedEnvironment(env);
  const plain = [
    ['memory_allocation', 'memoryAllocation'], ['reserved_cycles_limit', 'reservedCyclesLimit'],
    ['minimum_incoming_canister_call_cycles', 'minimumIncomingCanisterCallCycles'],
    ['wasm_memory_limit', 'wasmMemoryLimit'], ['wasm_memory_threshold', 'wasmMemoryThreshold'],
  ] as const;
  for (const [key, field] of plain) {
    const v = set(key);
    if (v !== undefined) next[field] = v;
  }
  return next;
}

function checkedEnvironment(vars: EnvVar[]): EnvVar[] {
  // The replica keeps them in a map: one value per name, the last given wins, ordered by name.
  const byName = new Map(vars.map((v) => [v.name, v.value]));
  if (byName.size > MAX_ENV_VARS) throw invalid(`Too many environment variables: ${byName.size} (max: ${MAX_ENV_VARS})`);
  for (const [name, value] of byName) {
    if (utf8Length(name) > MAX_ENV_NAME_BYTES) throw invalid(`Environment variable name "${name}" exceeds the maximum allowed length of ${MAX_ENV_NAME_BYTES}.`);
    if (utf8Length(value) > MAX_ENV_VALUE_BYTES) throw invalid(`Environment variable value "${value}" exceeds the maximum allowed length of ${MAX_ENV_VALUE_BYTES}.`);
  }
  return [...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value }));
}

/** Whether `visibility` lets `caller` in; controllers are always let in. */
export function visibleTo(visibility: Visibility, caller: Principal, isController: boolean): boolean {
  if ('public' in visibility) return true;
  if (isController) return true;
  return 'allowed_viewers' in visibility && visibility.allowed_viewers.some((p) => p.toText() === caller.toText());
}

type JsonVisibility = { controllers: null } | { public: null } | { allowed_viewers: string[] };
export interface JsonSettings {
  computeAllocation: string;
  memoryAllocation: string;
  reservedCyclesLimit: string;
  minimumIncomingCanisterCallCycles: string;
  wasmMemoryLimit: string;
  wasmMemoryThreshold: string;
  logMemoryLimit: string;
  logVisibility: JsonVisibility;
  statusVisibility: JsonVisibility;
  snapshotVisibility: JsonVisibility;
  environmentVariables: EnvVar[];
}

const NAT_FIELDS = [
  'computeAllocation', 'memoryAllocation', 'reservedCyclesLimit', 'minimumIncomingCanisterCallCycles',
  'wasmMemoryLimit', 'wasmMemoryThreshold', 'logMemoryLimit',
] as const;
const VISIBILITY_FIELDS = ['logVisibility', 'statusVisibility', 'snapshotVisibility'] as const;

export function settingsToJson(s: Settings): JsonSettings {
  const out = { environmentVariables: s.environmentVariables } as JsonSettings;
  for (const f of NAT_FIELDS) out[f] = s[f].toString();
  for (const f of VISIBILITY_FIELDS) {
    const v = s[f];
    out[f] = 'allowed_viewers' in v ? { allowed_viewers: v.allowed_viewers.map((p) => p.toText()) } : v;
  }
  return out;
}

/** Settings from meta.json; fields it lacks (older devnets wrote none) take the replica's defaults. */
export function settingsFromJson(j: Partial<JsonSettings> | undefined): Settings {
  const s = { ...DEFAULT_SETTINGS };
  if (!j) return s;
  for (const f of NAT_FIELDS) if (j[f] !== undefined) s[f] = BigInt(j[f]);
  for (const f of VISIBILITY_FIELDS) {
    const v = j[f];
    if (v !== undefined) s[f] = 'allowed_viewers' in v ? { allowed_viewers: v.allowed_viewers.map((t) => Principal.fromText(t)) } : v;
  }
  if (j.environmentVariables) s.environmentVariables = j.environmentVariables;
  return s;
}
