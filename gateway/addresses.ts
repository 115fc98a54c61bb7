// The machine's local IPv4 addresses, and how they change. Node has no
// netlink, so the interfaces are read again every few seconds (getifaddrs is
// cheap); only while someone is subscribed.
import { networkInterfaces } from 'node:os';

export interface AddressChange {
  added: string[];
  removed: string[];
}

/** How often the interfaces are read, ms. */
const ADDRESS_POLL_MS = 2000;

/** The IPv4 addresses on the interfaces `networkInterfaces()` describes. */
export function localIPv4(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): Set<string> {
  return new Set(Object.values(interfaces).flatMap((list) => list ?? []).filter((i) => i.family === 'IPv4').map((i) => i.address));
}

/** What is in `after` and not in `before`, and the other way round, each sorted. */
export function diffAddresses(before: ReadonlySet<string>, after: ReadonlySet<string>): AddressChange {
  return {
    added: [...after].filter((a) => !before.has(a)).sort(),
    removed: [...before].filter((a) => !after.has(a)).sort(),
  };
}

export class AddressWatcher {
  private current: Set<string>;
  private readonly subscribers = new Set<(c: AddressChange) => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs = ADDRESS_POLL_MS, private readonly read: () => Set<string> = localIPv4) {
    this.current = read();
  }

  /** The addresses at the last look; a subscriber is told every change from these on. */
  get addresses(): ReadonlySet<string> {
    return this.current;
  }

  /** Calls `f` after each look (with what changed, possibly nothing) until the returned function is called. */
  subscribe(f: (c: AddressChange) => void): () => void {
    this.subscribers.add(f);
    // Not unref'd: a gateway still waiting for its only address has nothing else keeping it alive.
    this.timer ??= setInterval(() => this.look(), this.everyMs);
    return () => {
      this.subscribers.delete(f);
      if (this.subscribers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  private look(): void {
    let now: Set<string>;
    try {
      now = this.read();
    } catch {
      // The interfaces could not be listed this time; the next look tries again.
      return;
    }
    const change = diffAddresses(this.current, now);
    this.current = now;
    // Every look is reported, an empty change included, so a subscriber can retry what failed on the last one.
    for (const f of this.subscribers) f(change);
  }
}
