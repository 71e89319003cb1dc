// One unary call and one server stream through `client`, checked end to end, and the proof of the
// transport that carried them: the gateway's access log (`http`: "1.1" or "2.0") gains two lines.
import { expect } from 'vitest';
import type { EchoClient } from './clients.js';
import { until } from './until.js';

export type LogLines = ReadonlyArray<Record<string, unknown>>;

export async function expectCallsCarriedBy(client: EchoClient, logs: LogLines, http: '1.1' | '2.0', tag: string): Promise<void> {
  const carried = () => logs.filter((l) => l.msg === 'call' && l.http === http).length;
  const before = carried();
  const u = await client.unary({ message: tag }, { metadata: { 'x-echo-id': tag } });
  expect(u.ok).toBe(true);
  expect(u.response?.message).toBe(tag);
  expect(u.headers['x-echo-id']).toBe(tag);
  const s = await client.stream({ count: 3, intervalMs: 50 });
  expect(s.ok).toBe(true);
  expect(s.messages.map((m) => m.index)).toEqual([0, 1, 2]);
  expect(await until(() => carried() === before + 2, 2_000)).toBe(true);
}
