// The small Kubernetes API client's bounds, against plain HTTP servers that misbehave on purpose
// (http:// is what `kubectl proxy` serves; the client speaks it as it speaks https://).
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiClient, LineReader, type WatchEvent } from '../../../../../src/upstream/resolver/kubernetes/index.js';

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

async function serve(handler: (res: ServerResponse, auth: string | undefined) => void): Promise<KubeApiClient> {
  const server = createServer((req, res) => handler(res, req.headers.authorization));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return new KubeApiClient({ server: `http://127.0.0.1:${port}`, token: () => 'tok', source: 'test' });
}

function watchUntilEnd(client: KubeApiClient, idleMs = 5_000): Promise<{ events: WatchEvent[]; error?: Error }> {
  return new Promise((resolve) => {
    const events: WatchEvent[] = [];
    client.watch('/w', idleMs, { onOpen() {}, onEvent: (e) => events.push(e), onEnd: (error) => resolve({ events, error }) });
  });
}

describe('LineReader', () => {
  it('splits newline-delimited events across chunks and refuses a line past its bound', () => {
    const r = new LineReader(16);
    expect(r.push(Buffer.from('{"a":1}\n{"b"'))).toEqual(['{"a":1}']);
    expect(r.pending()).toBe(true);
    expect(r.push(Buffer.from(':2}\n\n'))).toEqual(['{"b":2}']);
    expect(r.pending()).toBe(false);
    expect(() => r.push(Buffer.from('x'.repeat(17)))).toThrow(/a watch event exceeds 16 bytes/);
  });
});

describe('KubeApiClient', () => {
  it('sends the bearer token and reads a Status body as the error of a refused request', async () => {
    let seen: string | undefined;
    const client = await serve((res, auth) => {
      seen = auth;
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', code: 403, reason: 'Forbidden', message: 'no list for you' }));
    });
    await expect(client.getJson('/l').result).rejects.toMatchObject({ code: 403, reason: 'Forbidden', message: 'no list for you' });
    expect(seen).toBe('Bearer tok');
    client.close();
  });

  it('ends a watch that goes silent past its bound', async () => {
    const client = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}\n');
      // then nothing, without closing
    });
    const started = Date.now();
    const { events, error } = await watchUntilEnd(client, 300);
    expect(events.map((e) => e.type)).toEqual(['BOOKMARK']);
    expect(error?.message).toBe('watch silent for 300 ms');
    expect(Date.now() - started).toBeLessThan(10_000);
    client.close();
  });

  it('ends a watch at a malformed event or one that ends mid-line, and says so', async () => {
    const malformed = await serve((res) => {
      res.writeHead(200);
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"SURPRISE","object":{}}\n');
    });
    const m = await watchUntilEnd(malformed);
    expect(m.events).toHaveLength(1);
    expect(m.error?.message).toBe('malformed watch event');
    malformed.close();

    const cut = await serve((res) => {
      res.writeHead(200);
      res.end('{"type":"ADDED","obj');
    });
    expect((await watchUntilEnd(cut)).error?.message).toBe('watch stream ended inside an event');
    cut.close();
  });

  it('refuses a list answer larger than its bound without holding it', async () => {
    const client = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 17; i++) res.write(chunk);
      res.end('{}');
    });
    await expect(client.getJson('/l').result).rejects.toThrow(/exceeds 16777216 bytes/);
    client.close();
  });
});
