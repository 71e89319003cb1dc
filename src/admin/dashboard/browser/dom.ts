// Small DOM helpers of the dashboard page, and its list of Pod events.
import { hhmmss } from './format.js';

const EVENTS_SHOWN = 8;

interface PodEvent {
  kind: string;
  icon: string;
  text: string;
  t: number;
}

const events: PodEvent[] = [];

export const byId = (id: string): HTMLElement => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
};

export function el(tag: string, cls?: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function fact(parent: HTMLElement, label: string, value: string, bad = false): void {
  const s = el('span', bad ? 'bad' : '');
  s.append(document.createTextNode(`${label} `), el('b', 'num', value));
  parent.appendChild(s);
}

/** Adds an event at the top of the page's list (the newest EVENTS_SHOWN are kept). */
export function logEvent(kind: string, icon: string, text: string, t: number): void {
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
