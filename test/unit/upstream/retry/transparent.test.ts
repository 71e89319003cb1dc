// The transparent-retry rule reads grpc-js's own words for "this stream was never processed".
// These tests produce each case against real servers (grpc-js, and Node's http2 for
// REFUSED_STREAM, which grpc-js servers send only under stream limits) so that a grpc-js upgrade
// that rewords a message fails here instead of silently turning safe retries off — or unsafe
// ones on.
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_CONNECTION_PREFIX, STREAM_REFUSED, neverProcessed } from '../../../../src/upstream/retry/index.js';
import { clientStatus } from '../../../../src/upstream/status-text.js';
import { freePort } from '../../../support/ports.js';
import { startRawPod, type RawPod } from '../../../support/raw-pod.js';

interface Outcome {
  status: grpc.StatusObject;
  received: boolean;
}

function channel(host: string, port: number): grpc.Channel {
  return new grpc.Channel(`ipv4:${host}:${port}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
}

/** One raw call, as src/upstream/pool-call.ts makes it (createCall, no serializers). */
function rawCall(ch: grpc.Channel, deadlineMs = 5000): Promise<Outcome> {
  return new Promise((resolve) => {
    let received = false;
    const call = ch.createCall('/test.Pod/Who', Date.now() + deadlineMs, null, null, null);
    call.start(new grpc.Metadata(), {
      onReceiveMetadata: () => (received = true),
      onReceiveMessage: () => (received = true),
      onReceiveStatus: (status) => resolve({ status, received }),
    });
    call.sendMessageWithContext({}, Buffer.from('hi'));
    call.halfClose();
    call.startRead();
  });
}

async function connected(ch: grpc.Channel): Promise<void> {
  ch.getConnectivityState(true);
  const end = Date.now() + 5000;
  while (ch.getConnectivityState(false) !== grpc.connectivityState.READY) {
    if (Date.now() > end) throw new Error('channel never READY');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c(); // last made, first closed
});

describe('transparent retry: what grpc-js reports for a call the Pod never processed', () => {
  it('no connection at the pick (nothing listens): UNAVAILABLE "No connection established..."', async () => {
    const ch = channel('127.0.0.9', await freePort());
    cleanups.push(() => ch.close());
    const { status, received } = await rawCall(ch);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details.startsWith(NO_CONNECTION_PREFIX)).toBe(true);
    expect(neverProcessed(status, received)).toBe(true);
    // grpc-js names the Pod's address; the client is told none of it, the log all of it.
    expect(status.details).toContain('127.0.0.9');
    const shown = clientStatus(status, received);
    expect(shown.status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'no ready backend' });
    expect(shown.note).toBe(status.details);
  });

  it("grpc-js's own deadline names the Pod's address; the client reads a plain 'Deadline exceeded'", async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.7', port, { delayMs: 2000 });
    cleanups.push(() => pod.forceClose());
    const ch = channel('127.0.0.7', port);
    cleanups.push(() => ch.close());
    await connected(ch);
    const { status, received } = await rawCall(ch, 100);
    expect(status.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(status.details).toContain('127.0.0.7');
    expect(clientStatus(status, received).status.details).toBe('Deadline exceeded');
    // The same after a stream's messages: the deadline cut it, and the address stays in the log.
    expect(clientStatus(status, true)).toMatchObject({ status: { details: 'Deadline exceeded' }, note: status.details });
  });

  it('an application\'s own message is passed through untouched', () => {
    const status = { code: grpc.status.UNAVAILABLE, details: 'shedding load', metadata: new grpc.Metadata() };
    expect(clientStatus(status, false)).toEqual({ status });
  });

  it('REFUSED_STREAM (after grpc-js retried once by itself): UNAVAILABLE "Stream refused by server"', async () => {
    const port = await freePort();
    const server = http2.createServer();
    let streams = 0;
    server.on('stream', (stream) => {
      streams++;
      stream.on('error', () => {});
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.3', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const ch = channel('127.0.0.3', port);
    cleanups.push(() => ch.close());
    await connected(ch);
    const { status, received } = await rawCall(ch);
    expect(status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: STREAM_REFUSED });
    expect(neverProcessed(status, received)).toBe(true);
    expect(streams).toBe(2); // grpc-js's own one transparent retry, on the same connection
  });

  it('a Pod that shut down (GOAWAY, listener closed): the calls picked for it after that never reach a handler', async () => {
    const port = await freePort();
    const pod: RawPod = await startRawPod('127.0.0.4', port);
    const ch = channel('127.0.0.4', port);
    cleanups.push(() => ch.close());
    await connected(ch);
    await pod.close(); // tryShutdown: GOAWAY, then the listener is gone
    const { status, received } = await rawCall(ch);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details.startsWith(NO_CONNECTION_PREFIX)).toBe(true);
    expect(neverProcessed(status, received)).toBe(true);
    expect(pod.calls).toBe(0);
  });

  it('UNAVAILABLE from the application is NOT "never processed": the handler ran', async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.5', port, { failWith: grpc.status.UNAVAILABLE });
    cleanups.push(() => pod.close());
    const ch = channel('127.0.0.5', port);
    cleanups.push(() => ch.close());
    const { status, received } = await rawCall(ch);
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(pod.calls).toBe(1);
    expect(neverProcessed(status, received)).toBe(false);
  });

  it('a connection that drops while the handler runs is NOT "never processed"', async () => {
    const port = await freePort();
    const pod = await startRawPod('127.0.0.6', port, { delayMs: 5000 });
    const ch = channel('127.0.0.6', port);
    cleanups.push(() => ch.close());
    await connected(ch);
    const pending = rawCall(ch);
    while (pod.calls === 0) await new Promise((r) => setTimeout(r, 5));
    pod.forceClose();
    const { status, received } = await pending;
    expect(status.code).not.toBe(grpc.status.OK);
    expect(neverProcessed(status, received)).toBe(false);
  });

  it('anything received before the status rules a retry out, whatever the status says', () => {
    const status = { code: grpc.status.UNAVAILABLE, details: STREAM_REFUSED, metadata: new grpc.Metadata() };
    expect(neverProcessed(status, true)).toBe(false);
  });
});
