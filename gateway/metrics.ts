// The gateway's Prometheus metrics: a registry of its own (never prom-client's
// global one), read from the Activity at scrape time, except the histograms,
// which the Activity feeds as transfers and queries end. Names and labels are
// documented in docs/metrics.md; scripts and dashboards depend on them.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Activity, DurationSink, Protocol, TransferResult } from './activity.ts';
import type { QueryKind } from './release.ts';

const PREFIX = 'icboot_gateway_';
const PROTOCOLS: Protocol[] = ['tftp', 'http'];
const TIERS = ['memory', 'disk'] as const;

/** A counter whose value is read from `value` at scrape time (it only ever grows). */
/** A counter read from the activity record at each scrape, not incremented as things happen. */
function readCounter(registry: Registry, name: string, help: string, value: () => number): void {
  new Counter({
    name: PREFIX + name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}

/** The same, with one label taking each of `values`. */
function readLabelledCounter<V extends string>(
  registry: Registry, name: string, help: string, label: string, values: readonly V[], value: (v: V) => number,
): void {
  new Counter({
    name: PREFIX + name, help, labelNames: [label], registers: [registry],
    collect() {
      this.reset();
      for (const v of values) this.inc({ [label]: v }, value(v));
    },
  });
}

export class GatewayMetrics implements DurationSink {
  readonly registry = new Registry();
  private readonly transfers: Counter<'protocol' | 'result'>;
  private readonly transferSeconds: Histogram<'protocol'>;
  private readonly queries: Counter<'kind' | 'result'>;
  private readonly querySeconds: Histogram<'kind'>;

  constructor(a: Activity, now: () => number = Date.now) {
    const r = this.registry;
    this.transfers = new Counter({
      name: `${PREFIX}transfers_total`, help: 'Transfers finished, by protocol and result (ok, not_found, refused, failed).',
      labelNames: ['protocol', 'result'], registers: [r],
    });
    this.transferSeconds = new Histogram({
      name: `${PREFIX}transfer_duration_seconds`, help: 'How long finished transfers took.',
      labelNames: ['protocol'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300], registers: [r],
    });
    new Gauge({
      name: `${PREFIX}transfers_in_progress`, help: 'Transfers being served now.', labelNames: ['protocol'], registers: [r],
      collect() {
        const n: Record<Protocol, number> = { tftp: 0, http: 0 };
        for (const t of a.live.values()) n[t.protocol]++;
        for (const p of PROTOCOLS) this.set({ protocol: p }, n[p]);
      },
    });
    readLabelledCounter(r, 'served_bytes_total', 'File bytes served (acknowledged by TFTP clients, written to HTTP clients).',
      'protocol', PROTOCOLS, (p) => a.bytesServed(p));
    readLabelledCounter(r, 'cache_hits_total', 'Chunks served from the cache, by tier.', 'tier', TIERS, (t) => a.counts.cacheHits[t]);
    readCounter(r, 'cache_misses_total', 'Chunks the cache had to fetch from the canister (or wait for).', () => a.counts.cacheMisses);
    readLabelledCounter(r, 'cache_evictions_total', 'Chunks dropped from the cache to make room, by tier.', 'tier', TIERS,
      (t) => a.counts.evictions[t]);
    new Gauge({
      name: `${PREFIX}cache_bytes`, help: 'Bytes held by the cache, by tier.', labelNames: ['tier'], registers: [r],
      collect() {
        const f = a.cacheFill();
        this.set({ tier: 'memory' }, f.memory);
        this.set({ tier: 'disk' }, f.disk);
      },
    });
    new Gauge({
      name: `${PREFIX}cache_limit_bytes`, help: 'The cache\'s budget, by tier (0: no disk cache).', labelNames: ['tier'], registers: [r],
      collect() {
        const f = a.cacheFill();
        this.set({ tier: 'memory' }, f.memoryLimit);
        this.set({ tier: 'disk' }, f.diskLimit);
      },
    });
    this.queries = new Counter({
      name: `${PREFIX}canister_queries_total`, help: 'Queries to the canister, by kind (chunk, index, manifest) and result (ok, error).',
      labelNames: ['kind', 'result'], registers: [r],
    });
    this.querySeconds = new Histogram({
      name: `${PREFIX}canister_query_duration_seconds`, help: 'How long queries to the canister took, verification included.',
      labelNames: ['kind'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r],
    });
    readCounter(r, 'canister_retries_total', 'Chunk queries asked again after a failure.', () => a.counts.retries);
    readCounter(r, 'integrity_failures_total', 'Chunks, release indexes or manifests, and saved releases that failed verification (none of it was served).',
      () => a.counts.integrityFailures);
    new Gauge({
      name: `${PREFIX}release_info`, help: 'The release served: 1, labelled with its id, label and where it was loaded from.',
      labelNames: ['release', 'label', 'origin'], registers: [r],
      collect() {
        this.reset();
        const s = a.release;
        if (s) this.set({ release: String(s.manifest.id), label: s.manifest.label, origin: s.origin }, 1);
      },
    });
    new Gauge({
      name: `${PREFIX}release_certificate_age_seconds`, help: 'Age of the newest certificate the release was verified with (polls renew it).',
      registers: [r],
      collect() {
        this.reset();
        if (a.certifiedAt !== null) this.set((now() - a.certifiedAt) / 1000);
      },
    });
    readCounter(r, 'proxydhcp_offers_total', 'Answers the proxyDHCP sent (offers and acks).', () => a.counts.offers);
  }

  transferEnded(protocol: Protocol, result: TransferResult, seconds: number): void {
    this.transfers.inc({ protocol, result });
    this.transferSeconds.observe({ protocol }, seconds);
  }

  queryEnded(kind: QueryKind, ok: boolean, seconds: number): void {
    this.queries.inc({ kind, result: ok ? 'ok' : 'error' });
    this.querySeconds.observe({ kind }, seconds);
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
