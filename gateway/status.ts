// The live status page at `/`: one self-contained HTML page (inline CSS and
// script, nothing fetched from elsewhere) that follows `/?events`, a stream of
// server-sent events each carrying the whole view as JSON
// (gateway/status_stream.ts). The page writes every value with textContent,
// never as HTML, so a path or label a client or a release chose cannot inject
// markup.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { StatusStreams } from './status_stream.ts';

/** Answers `/` (the page) and `/?events` (its event stream, from a client at `ip`). */
export function serveStatus(req: IncomingMessage, res: ServerResponse, streams: StatusStreams, query: string, ip: string): void {
  if (query !== 'events') {
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(PAGE), 'Cache-Control': 'no-store',
      // Nothing but this page's own script and style, and its event stream.
      'Content-Security-Policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    });
    res.end(req.method === 'HEAD' ? undefined : PAGE);
    return;
  }
  streams.serve(req, res, ip);
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>icboot gateway</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .5em}h2{font-size:1.05em;margin:1.4em 0 .4em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:2px 8px;vertical-align:top}th{color:#555;font-weight:600}
.kv td:first-child{color:#555;width:11em}.muted{color:#888}.err{color:#a00}
progress{width:14em;height:1em}.bar{display:inline-block;height:.8em;background:#4a8;min-width:1px}.bar.failed,.bar.not_found,.bar.refused{background:#c55}
.path{font-family:ui-monospace,monospace;word-break:break-all}#conn{float:right;font-size:.9em}
</style></head><body>
<h1>icboot gateway <span id="conn" class="muted">connecting…</span></h1>
<h2>Release</h2><table class="kv" id="release"></table>
<h2>Cache</h2><table class="kv" id="cache"></table>
<h2>Transfers in progress</h2><table id="live"></table>
<h2>Recent boots</h2><div id="boots"></div>
<h2>Recent errors</h2><table id="errors"></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? '' : String(k)));
  return e;
}
const bytes = (n) => n == null ? '?' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : n < 1073741824 ? (n / 1048576).toFixed(1) + ' MiB' : (n / 1073741824).toFixed(2) + ' GiB';
const time = (ms) => ms == null ? '?' : new Date(ms).toISOString().replace('T', ' ').replace(/\\.\\d+Z$/, ' UTC');
const secs = (ms) => (ms / 1000).toFixed(ms < 10000 ? 2 : 0) + ' s';
function rows(table, list) { table.replaceChildren(...list.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))); }
function render(v, now) {
  const r = v.release;
  rows($('release'), r ? [['id', r.id], ['label', r.label], ['author', r.author], ['created', time(r.created)], ['files', r.files],
    ['bytes', bytes(r.bytes)], ['certificate', time(r.certifiedAt) + ' (' + secs(now - r.certifiedAt) + ' ago' + (r.origin === 'disk' ? ', saved copy' : '') + ')']]
    : [['release', 'none loaded yet']]);
  const c = v.cache;
  const fill = (used, limit) => bytes(used) + ' of ' + bytes(limit) + (limit ? ' (' + (100 * used / limit).toFixed(0) + '%)' : '');
  rows($('cache'), [['memory', fill(c.memory, c.memoryLimit)], ['disk', c.diskLimit ? fill(c.disk, c.diskLimit) : 'off'],
    ['hit rate', c.hitRate == null ? '–' : (100 * c.hitRate).toFixed(1) + '% (' + c.hits + ' hits, ' + c.misses + ' misses)']]);
  const live = $('live');
  live.replaceChildren(el('tr', {}, el('th', {}, 'client'), el('th', {}, 'file'), el('th', {}, 'progress'), el('th', {}, 'for')),
    ...v.live.map((t) => el('tr', { 'data-transfer': t.id },
      el('td', {}, t.protocol + ' ' + t.client + (t.mac ? ' ' + t.mac : '')), el('td', { class: 'path' }, t.path),
      el('td', {}, t.size ? el('progress', { max: t.size, value: t.bytes }) : '', ' ' + bytes(t.bytes) + ' of ' + bytes(t.size)),
      el('td', {}, secs(now - t.started)))));
  if (!v.live.length) live.append(el('tr', {}, el('td', { class: 'muted' }, 'none')));
  $('boots').replaceChildren(...v.boots.map((b) => {
    const first = Math.min(...b.files.map((f) => f.started));
    const span = Math.max(1, Math.max(...b.files.map((f) => f.ended)) - first);
    return el('div', { class: 'boot', 'data-client': b.client }, el('h3', {}, b.client + (b.mac ? ' (' + b.mac + ')' : '') + ', last ' + time(b.last)),
      el('table', {}, ...b.files.map((f) => el('tr', {},
        el('td', { class: 'path' }, f.protocol + ' ' + f.path), el('td', {}, bytes(f.bytes)), el('td', {}, f.result === 'ok' ? 'ok' : f.result + ': ' + f.detail),
        el('td', { style: 'width:40%' }, el('span', { class: 'bar ' + f.result, style: 'margin-left:' + (100 * (f.started - first) / span) + '%;width:' + (100 * (f.ended - f.started) / span) + '%' }),
          ' ' + secs(f.ended - f.started))))));
  }));
  if (!v.boots.length) $('boots').append(el('p', { class: 'muted' }, 'none yet'));
  rows($('errors'), v.errors.length ? v.errors.map((e) => [time(e.at), el('span', { class: 'err' }, e.text + (e.times > 1 ? ' (' + e.times + ' times)' : ''))]) : [[el('span', { class: 'muted' }, 'none')]]);
}
// EventSource retries a dropped stream by itself, but gives up on an answer other than 200 (a 503 when too
// many pages are open): then this page tries again itself.
function follow() {
  const events = new EventSource('/?events');
  events.onmessage = (m) => { const e = JSON.parse(m.data); $('conn').textContent = 'live'; render(e.view, e.now); };
  events.onerror = () => {
    $('conn').textContent = 'reconnecting…';
    if (events.readyState === EventSource.CLOSED) setTimeout(follow, 10000);
  };
}
follow();
</script></body></html>
`;
