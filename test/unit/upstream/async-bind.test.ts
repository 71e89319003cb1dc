// The lighter AsyncResource.prototype.bind: bound functions still run in the resource's async
// context (what Node's HTTP/2 client binds a request to), with their `this`, arguments, result
// and `length`; only the deprecated `asyncResource` accessor, built anew for every bound
// function, is gone — and through a real node:http2 request the context still propagates.
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { installLightAsyncBind } from '../../../src/upstream/async-bind.js';
import { buildUpstreams } from '../../../src/upstream/index.js';

const silent = pino({ level: 'silent' });
const hasDeprecatedAccessor = (): boolean =>
  Object.getOwnPropertyDescriptor(new AsyncResource('t').bind(() => {}), 'asyncResource') !== undefined;

describe('installLightAsyncBind', () => {
  // First: the gateway's upstreams install it (this file's process starts with Node's own bind).
  it('building the upstreams installs it', async () => {
    expect(hasDeprecatedAccessor()).toBe(true);
    const result = loadConfig(['--upstream', '127.0.0.1:1', '--admin', 'off'], {});
    if (!('config' in result)) throw new Error('expected a config');
    const { pools } = buildUpstreams(result.config, silent);
    await Promise.all(pools.map((p) => p.close(0)));
    expect(hasDeprecatedAccessor()).toBe(false);
  });

  it('bound functions run in the resource context with this, arguments, result and length; no deprecated accessor', () => {
    expect(installLightAsyncBind()).toBe(true);
    expect(installLightAsyncBind()).toBe(true);
    const als = new AsyncLocalStorage<string>();
    const resource = als.run('at-creation', () => new AsyncResource('test'));
    const fn = function (this: unknown, a: number, b: number) {
      return { store: als.getStore(), self: this, sum: a + b };
    };
    const bound = resource.bind(fn);
    const thisObject = { name: 'receiver' };
    const result = als.run('at-call', () => bound.call(thisObject, 2, 3));
    expect(result).toEqual({ store: 'at-creation', self: thisObject, sum: 5 });
    expect(bound.length).toBe(2);
    const withThis = AsyncResource.bind(fn, 'test', thisObject);
    expect(withThis(1, 1)).toEqual({ store: undefined, self: thisObject, sum: 2 });
    // Node 20's own bind defines this accessor (a util.deprecate pair) on every function it returns.
    expect(Object.getOwnPropertyDescriptor(bound, 'asyncResource')).toBeUndefined();
    expect(() => resource.bind('not a function' as never)).toThrow(TypeError);
  });

  it("node:http2 client requests keep the caller's async context in their callbacks", async () => {
    installLightAsyncBind();
    const server = http2.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const als = new AsyncLocalStorage<string>();
    try {
      const seen = await als.run('caller', () =>
        new Promise<string | undefined>((resolve, reject) => {
          const req = session.request({ ':path': '/' });
          req.on('error', reject);
          req.on('response', () => resolve(als.getStore()));
          req.resume();
          req.end();
        }),
      );
      expect(seen).toBe('caller');
    } finally {
      session.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
