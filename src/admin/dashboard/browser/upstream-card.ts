// One upstream's card: its Pods' rows (joining, draining, fading out when gone) and its facts.
import type { EndpointView, UpstreamView } from '../../endpoints.js';
import { byId, el, fact, logEvent } from './dom.js';
import { barScale, fmtDur, fmtInt, fmtRate, trimWindow, windowRate } from './format.js';
import { drawRow, makeRow, type PodRow } from './pod-row.js';

/** How long a gone Pod's row fades before it is dropped. */
const GONE_MS = 3200;

export interface UpstreamCard {
  el: HTMLElement;
  facts: HTMLElement;
  rowsEl: HTMLElement;
  empty: HTMLElement;
  rows: Map<string, PodRow>;
  /** Rendered once: Pods seen after that are announced as joining. */
  seen: boolean;
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

/** One upstream's card (from `cards`, made on first sight); returns its Pods in rotation, draining, and shown. */
export function renderUpstream(
  cards: Map<string, UpstreamCard>,
  u: UpstreamView,
  now: number,
): { ready: number; draining: number; pods: number } {
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
