// The dashboard page's script (runs in the browser; bundled and inlined into the page at build
// time). It polls /endpoints every second and computes calls/s per Pod from the difference
// between successive answers; it fetches nothing else, so the page works offline.
import type { EndpointView, EndpointsView, UpstreamView } from '../../endpoints.js';
import { barScale, fmtDur, fmtInt, fmtRate, hhmmss, sparkPaths, trimWindow, windowRate, type Sample } from './format.js';

const POLL_MS = 1000;
const POLL_TIMEOUT_MS = 3000;
/** How long a new Pod's row stays highlighted, and a gone Pod's row fades before it is dropped. */
const NEW_MS = 6000;
const GONE_MS = 3200;
const SPARK_POINTS = 60;
const EVENTS_SHOWN = 8;

type PodSample = Sample<'calls' | 'failures'>;

interface PodRow {
  el: HTMLElement;
  st: HTMLElement;
  bar: HTMLElement;
  errpart: HTMLElement;
  even: HTMLElement;
  share: HTMLElement;
  rate: HTMLElement;
  calls: HTMLElement;
  errs: HTMLElement;
  infl: HTMLElement;
  age: HTMLElement;
  hist: PodSample[];
  firstSeen: string;
  bornAt: number;
  goneAt: number;
  draining: boolean;
  healthy: boolean | undefined;
  state: string;
  data: EndpointView;
  /** calls/s and failures/s over the window */
  r: number;
  fr: number;
}

interface UpstreamCard {
  el: HTMLElement;
  facts: HTMLElement;
  rowsEl: HTMLElement;
  empty: HTMLElement;
  rows: Map<string, PodRow>;
  /** Rendered once: Pods seen after that are announced as joining. */
  seen: boolean;
}

interface PodEvent {
  kind: string;
  icon: string;
  text: string;
  t: number;
}

const byId = (id: string): HTMLElement => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
};
const cards = new Map<string, UpstreamCard>();
const totalHist: Array<Sample<'total' | 'errors'>> = [];
/** calls/s, newest last */
const spark: number[] = [];
const events: PodEvent[] = [];
let first = true;

function el(tag: string, cls?: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function logEvent(kind: string, icon: string, text: string, t: number): void {
  events.unshift({ kind, icon, text, t });
  if (events.length > EVENTS_SHOWN) events.length = EVENTS_SHOWN;
  const ol = byId('events');
  ol.textContent = '';
  for (const e of events) {
    const li = el('li', e.kind);
    li.append(el('span', 't mono', hhmmss(e.t)), el('span', 'ic', e.icon), el('span', '', e.text));
    ol.appendChild(li);
  }
}

function makeCard(u: UpstreamView): UpstreamCard {
  const card = el('section', 'card');
  const h = el('div', 'card-h');
  const facts = el('div', 'facts');
  const kindTag = el('span', `tag${u.kind === 'static' ? '' : ` ${u.kind}`}`, u.kind);
  h.append(el('h2', 'mono', u.name), kindTag, el('span', 'tag', u.balancer), facts);
  const cols = el('div', 'cols grid');
  for (const c of ['Pod', 'Share of calls', 'Share', 'Calls/s', 'Calls', 'Errors', 'In flight', 'Age']) cols.appendChild(el('div', '', c));
  const rowsEl = el('div', 'rows');
  const empty = el('div', 'empty', 'No Pods yet.');
  card.append(h, cols, rowsEl, empty);
  byId('upstreams').appendChild(card);
  return { el: card, facts, rowsEl, empty, rows: new Map(), seen: false };
}

function fact(parent: HTMLElement, label: string, value: string, bad = false): void {
  const s = el('span', bad ? 'bad' : '');
  s.append(document.createTextNode(`${label} `), el('b', 'num', value));
  parent.appendChild(s);
}

function makeRow(e: EndpointView): PodRow {
  const row = el('div', 'row grid');
  const addr = el('div', 'addr');
  const st = el('span', 'st', '');
  addr.append(el('span', 'dot'), el('span', 'mono', e.address), st);
  // The zone an EndpointSlice gives the Pod (k8s:///), as --prefer-zone reads it.
  if (e.zone !== undefined) addr.append(el('span', 'zone', e.zone));
  const trackCell = el('div', '');
  const track = el('div', 'track');
  const bar = el('div', 'bar');
  const errpart = el('div', 'errpart');
  const even = el('div', 'even');
  bar.appendChild(errpart);
  track.append(bar, even);
  trackCell.appendChild(track);
  const share = el('div', 'num', '–');
  const rate = el('div', 'num rate', '–');
  const calls = el('div', 'num', '0');
  const errs = el('div', 'num err', '0');
  const infl = el('div', 'num', '0');
  const age = el('div', 'num muted', '');
  row.append(addr, trackCell, share, rate, calls, errs, infl, age);
  row.title = e.address;
  return {
    el: row, st, bar, errpart, even, share, rate, calls, errs, infl, age,
    hist: [], firstSeen: e.firstSeen, bornAt: 0, goneAt: 0, draining: false, healthy: undefined,
    state: e.state, data: e, r: 0, fr: 0,
  };
}

/** 1. Each present Pod: its history, and the events its changes are. */
function updatePod(card: UpstreamCard, u: UpstreamView, e: EndpointView, now: number): PodRow {
  let p = card.rows.get(e.address);
  if (p && (p.goneAt || p.firstSeen !== e.firstSeen)) {
    // Came back (a new Pod object behind the same address): start over.
    p.el.remove();
    card.rows.delete(e.address);
    p = undefined;
  }
  if (!p) {
    p = makeRow(e);
    card.rows.set(e.address, p);
    if (card.seen) {
      p.bornAt = now;
      p.el.classList.add('new');
      logEvent('add', '+', `${e.address} joined ${u.name}`, now);
    }
  }
  const listing = u.kind === 'k8s' ? 'its EndpointSlice' : 'DNS';
  const leftWhy = u.kind === 'k8s' ? 'terminating, or gone from its EndpointSlice' : 'left DNS';
  if (!p.draining && e.draining) logEvent('drain', '↘', `${e.address} is draining (${leftWhy}) — ${e.inFlight} in flight`, now);
  else if (p.draining && !e.draining) logEvent('add', '↺', `${e.address} is back in ${listing}`, now);
  else if (
    card.seen && p.state !== e.state && !e.draining && p.hist.length > 0 &&
    (e.state === 'TRANSIENT_FAILURE' || p.state === 'TRANSIENT_FAILURE')
  )
    logEvent('state', '!', `${e.address} ${p.state} → ${e.state}`, now);
  if (p.healthy !== false && e.healthy === false) logEvent('state', '!', `${e.address} failed its health checks: out of rotation`, now);
  else if (p.healthy === false && e.healthy !== false) logEvent('add', '↺', `${e.address} answers health checks again`, now);
  p.healthy = e.healthy;
  p.draining = e.draining;
  p.state = e.state;
  p.data = e;
  p.hist.push({ t: now, calls: e.calls, failures: e.failures });
  trimWindow(p.hist, now);
  p.r = windowRate(p.hist, now, 'calls');
  p.fr = windowRate(p.hist, now, 'failures');
  return p;
}

/** 2. Pods that left: fade out, then drop. */
function fadeGone(card: UpstreamCard, u: UpstreamView, present: Set<string>, now: number): void {
  for (const [a, p] of card.rows) {
    if (present.has(a)) continue;
    if (!p.goneAt) {
      p.goneAt = now;
      p.r = 0;
      p.fr = 0;
      p.el.classList.remove('new');
      p.el.classList.add('gone');
      p.st.textContent = 'gone';
      logEvent('del', '−', `${a} left ${u.name}`, now);
    } else if (now - p.goneAt > GONE_MS) {
      p.el.remove();
      card.rows.delete(a);
    }
  }
}

function podStatus(e: EndpointView, isNew: boolean): string {
  if (e.draining) return 'draining';
  if (e.healthy === false) return e.inRotation ? 'unhealthy (panic)' : 'unhealthy';
  if (isNew) return 'new';
  return e.state === 'TRANSIENT_FAILURE' ? 'failing' : e.state.toLowerCase();
}

/** 3. One Pod's row: its share bar and figures. */
function drawRow(p: PodRow, share: number, scale: number, live: number, upRate: number, upCalls: number, now: number): void {
  const e = p.data;
  const errShare = p.r > 0 ? Math.min(1, p.fr / p.r) : 0;
  p.bar.style.width = `${Math.min(100, (share / scale) * 100).toFixed(2)}%`;
  p.bar.style.opacity = upRate > 0 ? '1' : '.45';
  p.errpart.style.width = `${(errShare * 100).toFixed(1)}%`;
  p.even.style.display = live > 1 && !e.draining ? 'block' : 'none';
  p.even.style.left = `${Math.min(100, 100 / Math.max(1, live) / scale).toFixed(2)}%`;
  p.el.setAttribute('data-share', share.toFixed(4));
  p.share.textContent = upRate > 0 || upCalls > 0 ? `${Math.round(share * 100)}%` : '–';
  p.rate.textContent = fmtRate(p.r);
  p.calls.textContent = fmtInt(e.calls);
  p.errs.textContent = fmtInt(e.failures);
  p.errs.classList.toggle('bad', e.failures > 0);
  p.errs.title = e.failures > 0 ? `${fmtRate(p.fr)} errors/s now` : '';
  p.infl.textContent = fmtInt(e.inFlight);
  p.age.textContent = fmtDur((now - Date.parse(e.firstSeen)) / 1000);
  const cls = p.el.classList;
  const isNew = p.bornAt > 0 && now - p.bornAt < NEW_MS;
  cls.toggle('new', isNew && !e.draining);
  cls.toggle('draining', e.draining);
  cls.toggle('unhealthy', !e.draining && e.healthy === false);
  cls.toggle('connecting', !e.draining && e.state === 'CONNECTING');
  cls.toggle('failing', !e.draining && e.state === 'TRANSIENT_FAILURE');
  cls.toggle('idle', !e.draining && (e.state === 'IDLE' || e.state === 'SHUTDOWN'));
  p.st.textContent = podStatus(e, isNew);
  p.el.setAttribute('data-state', e.draining ? 'DRAINING' : e.state);
  p.el.setAttribute('data-address', e.address);
}

/** 4. The card's header facts. */
function drawFacts(card: UpstreamCard, u: UpstreamView, upRate: number, now: number): void {
  card.facts.textContent = '';
  const upReady = u.endpoints.filter((e) => e.inRotation).length;
  fact(card.facts, 'Pods in rotation', `${upReady} / ${u.endpoints.length}`, upReady === 0);
  if (u.panic) fact(card.facts, 'panic', 'every Pod fails its health checks; serving through them', true);
  fact(card.facts, 'calls/s', fmtRate(upRate));
  fact(card.facts, 'retries', fmtInt(u.retries));
  if (u.kind === 'dns' || u.kind === 'k8s') {
    const r = u.resolver;
    const ok = r.lastSuccess ? `${fmtDur((now - Date.parse(r.lastSuccess)) / 1000)} ago` : 'never';
    fact(card.facts, u.kind === 'dns' ? 'DNS ok' : 'k8s API ok', ok, !r.lastSuccess || r.failing === true);
    const what = u.kind === 'dns' ? 'lookups' : 'API requests';
    fact(card.facts, what, fmtInt(r.lookups) + (r.failures ? ` · ${fmtInt(r.failures)} failed` : ''), r.failures > 0);
  }
  if (u.preferZone !== undefined) fact(card.facts, 'prefer zone', u.preferZone);
  // Why the Pods shown are the last known ones (e.g. 403: the RBAC is missing), while it lasts.
  if (u.resolver.failing === true && u.resolver.lastError) {
    const why = el('div', 'resolver-error bad', u.resolver.lastError);
    why.setAttribute('data-resolver-error', '');
    card.facts.appendChild(why);
  }
}

/** One upstream's card; returns its Pods in rotation, draining, and shown. */
function renderUpstream(u: UpstreamView, now: number): { ready: number; draining: number; pods: number } {
  let card = cards.get(u.name);
  if (!card) {
    card = makeCard(u);
    cards.set(u.name, card);
  }
  const present = new Set<string>();
  let upRate = 0;
  let upCalls = 0;
  for (const e of u.endpoints) {
    present.add(e.address);
    upRate += updatePod(card, u, e, now).r;
    upCalls += e.calls;
  }
  fadeGone(card, u, present, now);

  const live = u.endpoints.filter((e) => !e.draining).length;
  const shares = new Map<string, number>();
  let maxShare = 0;
  for (const [a, p] of card.rows) {
    if (p.goneAt) continue;
    const sh = upRate > 0 ? p.r / upRate : upCalls > 0 ? p.data.calls / upCalls : 0;
    shares.set(a, sh);
    if (sh > maxShare) maxShare = sh;
  }
  const scale = barScale(live, maxShare);
  // Rows in snapshot order (oldest Pod first); fading rows keep their place.
  const list = [...card.rows.values()].sort((x, y) =>
    x.firstSeen < y.firstSeen ? -1 : x.firstSeen > y.firstSeen ? 1 : x.data.address < y.data.address ? -1 : 1,
  );
  const counts = { ready: 0, draining: 0, pods: 0 };
  let prev: PodRow | null = null;
  for (const p of list) {
    const want = prev ? prev.el.nextSibling : card.rowsEl.firstChild;
    if (want !== p.el) card.rowsEl.insertBefore(p.el, want);
    prev = p;
    if (p.goneAt) continue;
    drawRow(p, shares.get(p.data.address) ?? 0, scale, live, upRate, upCalls, now);
    if (p.data.inRotation) counts.ready++;
    if (p.data.draining) counts.draining++;
    counts.pods++;
  }
  card.empty.style.display = list.length ? 'none' : 'block';
  card.el.setAttribute('data-upstream', u.name);
  drawFacts(card, u, upRate, now);
  card.seen = true;
  return counts;
}

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
    const c = renderUpstream(u, now);
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
