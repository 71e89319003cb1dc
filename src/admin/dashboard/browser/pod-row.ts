// One Pod's row in an upstream's card: made once, drawn on every poll.
import type { EndpointView } from '../../endpoints.js';
import { el } from './dom.js';
import { fmtDur, fmtInt, fmtRate, type Sample } from './format.js';

/** How long a new Pod's row stays highlighted. */
const NEW_MS = 6000;

type PodSample = Sample<'calls' | 'failures'>;

export interface PodRow {
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

export function makeRow(e: EndpointView): PodRow {
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

function podStatus(e: EndpointView, isNew: boolean): string {
  if (e.draining) return 'draining';
  if (e.healthy === false) return e.inRotation ? 'unhealthy (panic)' : 'unhealthy';
  if (isNew) return 'new';
  return e.state === 'TRANSIENT_FAILURE' ? 'failing' : e.state.toLowerCase();
}

/** 3. One Pod's row: its share bar and figures. */
export function drawRow(p: PodRow, share: number, scale: number, live: number, upRate: number, upCalls: number, now: number): void {
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
