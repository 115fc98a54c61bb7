// Who gets a transfer slot. Transfers are capped per client address, per /24
// and in total. A request that finds its scope full takes the slot of a
// transfer that has had a fair chance and moves slower than `minRate` (a client
// that does not ACK, or ACKs tiny blocks slowly), or else of a transfer held by
// an address that holds at least two more than the newcomer. Otherwise it is
// refused. So an attacker cannot cheaply hold every slot, and a boot storm of
// clients that all make progress is never thrashed.

export interface SlotLimits {
  maxTransfers: number;
  maxPerClient: number;
  /** Per /24 of the client's IPv4 address. */
  maxPerSubnet: number;
  /** Bytes per second of client time below which a transfer may lose its slot to a newcomer. */
  minRate: number;
}

export interface SlotHolder {
  readonly address: string;
  /** Ended, and only waiting to be removed (a transfer on a worker thread, whose end is told a moment later): its slot is free. */
  readonly ended?: boolean;
  /** Bytes/s acknowledged per second spent waiting on the client; null until there is enough to judge. */
  clientRate(now: number): number | null;
}

export type Admission<T> = { ok: true; evict: T[] } | { ok: false; reason: string };

/** The /24 an IPv4 address is in ("10.1.2"), or the address itself. */
export function subnetOf(address: string): string {
  const dot = address.lastIndexOf('.');
  return dot > 0 && address.indexOf(':') < 0 ? address.slice(0, dot) : address;
}

function addTo<K, T>(m: Map<K, Set<T>>, k: K, t: T): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(t);
}

function removeFrom<K, T>(m: Map<K, Set<T>>, k: K, t: T): void {
  const s = m.get(k);
  if (s?.delete(t) && s.size === 0) m.delete(k);
}

export class Slots<T extends SlotHolder> {
  private readonly all = new Set<T>();
  private readonly byClient = new Map<string, Set<T>>();
  private readonly bySubnet = new Map<string, Set<T>>();

  constructor(private readonly limits: SlotLimits) {}

  get size(): number {
    return this.all.size;
  }

  add(t: T): void {
    this.all.add(t);
    addTo(this.byClient, t.address, t);
    addTo(this.bySubnet, subnetOf(t.address), t);
  }

  remove(t: T): void {
    if (!this.all.delete(t)) return;
    removeFrom(this.byClient, t.address, t);
    removeFrom(this.bySubnet, subnetOf(t.address), t);
  }

  /** Whether a request from `address` may start, and which transfers must end to make room. */
  admit(address: string, now: number): Admission<T> {
    const evict = new Set<T>();
    const scopes: [Set<T> | undefined, number, string, boolean][] = [
      [this.byClient.get(address), this.limits.maxPerClient, 'too many transfers from this client', false],
      [this.bySubnet.get(subnetOf(address)), this.limits.maxPerSubnet, 'too many transfers from this network (/24)', true],
      [this.all, this.limits.maxTransfers, 'server busy, try again', true],
    ];
    for (const [members, limit, reason, shared] of scopes) {
      if (!members) continue;
      let used = 0;
      for (const t of members) if (!evict.has(t) && !t.ended) used++;
      if (used < limit) continue;
      const victim = this.slowest(members, evict, now) ?? (shared ? this.fairShare(members, evict, address, now) : null);
      if (!victim) return { ok: false, reason };
      evict.add(victim);
    }
    return { ok: true, evict: [...evict] };
  }

  /** The slowest transfer below the minimum rate, if any. */
  private slowest(members: Set<T>, skip: Set<T>, now: number): T | null {
    let best: T | null = null;
    let bestRate = this.limits.minRate;
    for (const t of members) {
      if (skip.has(t) || t.ended) continue;
      const rate = t.clientRate(now);
      if (rate !== null && rate < bestRate) {
        best = t;
        bestRate = rate;
      }
    }
    return best;
  }

  /** The slowest transfer of the address holding the most, if it holds two more than `address` would. */
  private fairShare(members: Set<T>, skip: Set<T>, address: string, now: number): T | null {
    const counts = new Map<string, T[]>();
    for (const t of members) {
      if (skip.has(t) || t.ended) continue;
      const list = counts.get(t.address);
      if (list) list.push(t);
      else counts.set(t.address, [t]);
    }
    const mine = counts.get(address)?.length ?? 0;
    let heaviest: T[] = [];
    for (const list of counts.values()) if (list.length > heaviest.length) heaviest = list;
    if (heaviest.length < mine + 2) return null;
    const rate = (t: T): number => t.clientRate(now) ?? Infinity;
    return heaviest.reduce((a, b) => (rate(b) < rate(a) ? b : a));
  }
}
