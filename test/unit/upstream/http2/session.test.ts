// The node:http2 session per Pod: connects at once, reports its states to the Endpoint, comes
// back after the Pod does (backoff from 250 ms), and drops a connection whose keepalive PING goes
// unanswered while a call is in flight — against real grpc-js servers.
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../../support/ports.js';
import { startRawPod } from '../../../support/raw-pod.js';
import { closeConnections, connection, ready, run, waitFor } from './harness.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  closeConnections();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP relay to `target` that can be frozen: it keeps both sockets open and forwards nothing. */
async function relay(host: string, target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    client.on('data', (d) => frozen || upstream.write(d));
    upstream.on('data', (d) => frozen || client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { address: `${host}:${(server.address() as net.AddressInfo).port}`, freeze: () => (frozen = true) };
}

describe('http2 client: the session per Pod', () => {
  it('connects at once: CONNECTING, then READY when the Pod\'s SETTINGS arrive', async () => {
    const pod = await startRawPod('127.0.0.2', await freePort());
    cleanups.push(() => pod.forceClose());
    const { connection: c, states } = connection(pod.address);
    expect(c.state).toBe('CONNECTING');
    await waitFor(() => c.state === 'READY', 'READY');
    expect(states).toEqual(['CONNECTING', 'READY']);
    expect((await run(c, '/test.Pod/Who', [Buffer.from('x')]).done).messages.map(String)).toEqual([pod.address]);
  });

  it('a Pod that restarts on its address: TRANSIENT_FAILURE while it is down, READY again once it is back', async () => {
    const port = await freePort();
    const first = await startRawPod('127.0.0.2', port);
    const { connection: c, states } = await ready(first.address);
    first.forceClose();
    await waitFor(() => states.includes('TRANSIENT_FAILURE'), 'TRANSIENT_FAILURE');
    const second = await startRawPod('127.0.0.2', port);
    cleanups.push(() => second.forceClose());
    // Backoff 250 ms growing ×1.6: a few attempts fit well inside this bound.
    await waitFor(() => c.state === 'READY', 'READY again', 15_000);
    expect((await run(c, '/test.Pod/Who', [Buffer.from('x')]).done).status.code).toBe(grpc.status.OK);
    expect(second.calls).toBe(1);
  });

  it('keepalive: a Pod that stops answering under a call in flight is dropped after the PING timeout', async () => {
    const pod = await startRawPod('127.0.0.2', await freePort(), { delayMs: 60_000 });
    cleanups.push(() => pod.forceClose());
    const [host, port] = pod.address.split(':');
    const link = await relay('127.0.0.3', { host: host!, port: Number(port) });
    const { connection: c, states } = await ready(link.address, { keepalivePingIntervalMs: 200, keepalivePingTimeoutMs: 300 });
    c.attemptStarted(); // as the Endpoint does: pings run only while it counts calls in flight
    const pending = run(c, '/test.Pod/Who', [Buffer.from('x')]).done;
    await waitFor(() => pod.calls === 1, 'the call reached the Pod');
    link.freeze();
    const { status } = await pending;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'Connection dropped', neverProcessed: false });
    await waitFor(() => states.includes('IDLE'), 'the session retired');
  });

  it('close(): SHUTDOWN, and no call starts on it', async () => {
    const pod = await startRawPod('127.0.0.2', await freePort());
    cleanups.push(() => pod.forceClose());
    const { connection: c } = await ready(pod.address);
    c.close();
    expect(c.state).toBe('SHUTDOWN');
    const { status } = await run(c, '/test.Pod/Who', [Buffer.from('x')]).done;
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, neverProcessed: true });
    expect(pod.calls).toBe(0);
  });
});
