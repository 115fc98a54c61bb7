// Keeps a service listening on the local addresses it is asked for, as they
// come and go: with 0.0.0.0 and one listener per address (TFTP), every local
// IPv4 address; otherwise the one address given, which may appear only after
// the gateway starts (libvirt creates virbr0 when its network starts).
import { isIPv4 } from 'node:net';
import type { AddressChange, AddressWatcher } from './addresses.ts';

/** One bound socket (or server) of a service. */
export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

/** A listener opened (`listening`) or closed because its address went away. */
export interface ListenerEvent {
  address: string;
  port: number;
  listening: boolean;
}

export interface ListenersOptions {
  /** The service's name in log lines: "tftp", "http". */
  service: string;
  host: string;
  port: number;
  /** Whether host 0.0.0.0 means one listener per local address rather than one socket on 0.0.0.0. */
  perAddress: boolean;
  open(address: string, port: number): Promise<Listener>;
  addresses: AddressWatcher;
  log: (line: string) => void;
  /** Each listener opened, those at start included, and each closed because its address went away. */
  changed?: (e: ListenerEvent) => void;
}

const notPresent = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL';

export class Listeners {
  private readonly open = new Map<string, Listener>();
  /** Changes are applied one at a time, after start. */
  private queue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;
  private readonly everyAddress: boolean;
  /** Addresses the watcher lists but that were gone again when we bound (EADDRNOTAVAIL): retried at the next look. */
  private readonly flapped = new Set<string>();

  constructor(private readonly o: ListenersOptions) {
    this.everyAddress = o.perAddress && o.host === '0.0.0.0';
  }

  /**
   * Opens what is wanted now and follows changes from then on. An address not
   * present is waited for; any other failure to listen (EADDRINUSE, EACCES) is thrown.
   */
  async start(): Promise<void> {
    // Subscribed before the first listener opens, so no change between the two is missed.
    const present = [...this.o.addresses.addresses].sort();
    this.unsubscribe = this.o.addresses.subscribe((c) => {
      // A failure here must not stop the changes after it.
      this.queue = this.queue.then(() => this.update(c)).catch((e: Error) => this.o.log(`${this.o.service}: internal error following addresses: ${e.message}`));
    });
    const first = (async () => {
      for (const address of this.everyAddress ? present : [this.o.host]) await this.add(address, true);
    })();
    this.queue = first.catch(() => {});
    try {
      await first;
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** The addresses and ports listened on now. */
  get endpoints(): { address: string; port: number }[] {
    return [...this.open].map(([address, l]) => ({ address, port: l.port }));
  }

  /** Stops following and closes every listener (without `changed` events). */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.queue;
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((l) => l.close()));
  }

  private async update(c: AddressChange): Promise<void> {
    for (const address of c.removed) {
      this.flapped.delete(address);
      const l = this.open.get(address);
      if (!l || !this.unsubscribe) continue;
      this.open.delete(address);
      await l.close();
      this.o.changed?.({ address, port: l.port, listening: false });
      if (!this.everyAddress) this.waiting(address);
    }
    const wanted = [...c.added, ...this.flapped].filter((a) => (this.everyAddress || a === this.o.host) && this.o.addresses.addresses.has(a));
    this.flapped.clear();
    for (const address of new Set(wanted)) {
      // close() may have come while an earlier listener was opening.
      if (!this.unsubscribe) return;
      if (!this.open.has(address)) await this.add(address, false);
    }
  }

  private async add(address: string, atStart: boolean): Promise<void> {
    let l: Listener;
    try {
      l = await this.o.open(address, this.o.port);
    } catch (e) {
      // Only an IPv4 address can appear later: the watcher follows nothing else (a name, IPv6).
      if (notPresent(e) && (this.everyAddress || isIPv4(address))) {
        if (this.o.addresses.addresses.has(address)) this.flapped.add(address);
        else if (!this.everyAddress) this.waiting(address);
        return;
      }
      if (atStart) throw e;
      this.o.log(`${this.o.service}: cannot listen on ${address}:${this.o.port}: ${(e as Error).message}; trying again when the address next appears`);
      return;
    }
    if (!this.unsubscribe && !atStart) {
      await l.close();
      return;
    }
    this.open.set(address, l);
    this.o.changed?.({ address, port: l.port, listening: true });
  }

  private waiting(address: string): void {
    this.o.log(`${this.o.service}: waiting for ${address} to appear on an interface, to listen on ${address}:${this.o.port}`);
  }
}
