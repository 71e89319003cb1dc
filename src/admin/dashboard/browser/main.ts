// The dashboard page's script (runs in the browser; bundled and inlined into the page at build
// time). It polls /endpoints every second and computes calls/s per Pod from the difference
// between successive answers; it fetches nothing else, so the page works offline.
import type { EndpointsView } from '../../endpoints.js';
import { byId, el } from './dom.js';
import { fmtDur, fmtInt, fmtRate, hhmmss, sparkPaths, trimWindow, windowRate, type Sample } from './format.js';
import { renderUpstream, type UpstreamCard } from './upstream-card.js';

const POLL_MS = 1000;
const POLL_TIMEOUT_MS = 3000;
const SPARK_POINTS = 60;

const cards = new Map<string, UpstreamCard>();
const totalHist: Array<Sample<'total' | 'errors'>> = [];
/** calls/s, newest last */
const spark: number[] = [];
let first = true;

function drawSpark(): void {
  const paths = sparkPaths(spark, SPARK_POINTS);
  if (!paths) return;
  const [line, area] = paths;
  byId('spark').innerHTML =
    `<path d="${area}" fill="rgba(61,90,254,.10)"/>` +
    `<path d="${line}" fill="none" stroke="#3d5afe" stroke-width="1.6" vector-effect="non-scaling-stroke" stroke-linejoin="round"/>`;
}

/** A big figure with a small suffix ("12" "%", "3" "/ 5"). */
function figure(id: string, value: string, suffix: string, bad: boolean): void {
  const e = byId(id);
  e.textContent = '';
  e.append(document.createTextNode(value), el('small', '', suffix));
  e.classList.toggle('bad', bad);
}

/** The gateway-wide tiles. */
function renderTiles(view: EndpointsView, now: number, pods: { ready: number; draining: number; pods: number }): void {
  const calls = view.gateway.calls;
  if (calls) {
    totalHist.push({ t: now, total: calls.total, errors: calls.errors });
    trimWindow(totalHist, now);
    const rate = windowRate(totalHist, now, 'total');
    const erate = windowRate(totalHist, now, 'errors');
    byId('t-rate').textContent = fmtRate(rate);
    byId('t-total').textContent = `${fmtInt(calls.total)} calls since start`;
    byId('t-inflight').textContent = fmtInt(calls.inFlight);
    const pct = rate > 0 ? (erate / rate) * 100 : 0;
    figure('t-err', pct < 10 && pct > 0 ? pct.toFixed(1) : String(Math.round(pct)), '%', pct >= 1);
    byId('t-errs').textContent = `${fmtInt(calls.errors)} non-OK since start · ${fmtRate(erate)}/s now`;
    spark.push(rate);
    if (spark.length > SPARK_POINTS) spark.shift();
    drawSpark();
  }
  figure('t-pods', String(pods.ready), `/ ${pods.pods}`, pods.pods > 0 && pods.ready === 0);
  const n = view.upstreams.length;
  byId('t-podss').textContent = `${n} upstream${n === 1 ? '' : 's'}${pods.draining ? ` · ${pods.draining} draining` : ''}`;
}

function render(view: EndpointsView, now: number): void {
  const g = view.gateway;
  byId('ver').textContent = `v${g.version}`;
  byId('uptime').textContent = fmtDur(g.uptimeSeconds);
  byId('clock').textContent = hhmmss(now);
  const totals = { ready: 0, draining: 0, pods: 0 };
  const shown = new Set<string>();
  for (const u of view.upstreams) {
    shown.add(u.name);
    const c = renderUpstream(cards, u, now);
    totals.ready += c.ready;
    totals.draining += c.draining;
    totals.pods += c.pods;
  }
  for (const [name, card] of cards) {
    if (shown.has(name)) continue;
    card.el.remove();
    cards.delete(name);
  }
  renderTiles(view, now, totals);
}

function setLive(ok: boolean): void {
  byId('live').classList.toggle('down', !ok);
  byId('livetext').textContent = ok ? 'live' : 'disconnected';
  byId('banner').classList.toggle('on', !ok && !first);
}

async function pollOnce(): Promise<void> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), POLL_TIMEOUT_MS);
  try {
    const r = await fetch('endpoints', { cache: 'no-store', signal: ctl.signal });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const view = (await r.json()) as EndpointsView;
    const now = Date.parse(view.gateway.now) || Date.now();
    render(view, now);
    first = false;
    setLive(true);
    document.body.setAttribute('data-polls', String((Number(document.body.getAttribute('data-polls')) || 0) + 1));
  } catch {
    setLive(false);
  } finally {
    clearTimeout(timer);
  }
}

function poll(): void {
  const started = Date.now();
  void pollOnce().then(() => setTimeout(poll, Math.max(100, POLL_MS - (Date.now() - started))));
}

poll();
