// Node 20's AsyncResource.prototype.bind, which its HTTP/2 client calls once per request (every
// upstream call grpc-js makes), wraps two fresh util.deprecate() accessors for the deprecated
// `asyncResource` property (DEP0172) around every function it returns. That is a handful of
// closures and a property redefinition per call, for a property nothing here reads, and with the
// garbage it leaves it was one of the larger costs of a passed-through call in the gateway's CPU
// profile. The replacement below keeps what bind is for — the function runs in the resource's
// async context, with its `this` and arguments, and keeps its `length` — and drops only the
// deprecated property. It is installed only where bind still has that shape, so a Node that
// has dropped the property keeps its own.
import { AsyncResource } from 'node:async_hooks';

/** Node's bind defines the deprecated `asyncResource` accessor on what it returns. */
function bindHasDeprecatedAccessor(): boolean {
  const bound = new AsyncResource('gwg-probe').bind(() => {});
  return typeof Object.getOwnPropertyDescriptor(bound, 'asyncResource')?.get === 'function';
}

type AnyFunction = (...args: unknown[]) => unknown;

function bindWithoutDeprecatedAccessor(this: AsyncResource, fn: AnyFunction, thisArg?: unknown): AnyFunction {
  if (typeof fn !== 'function') throw new TypeError('The "fn" argument must be of type function');
  const resource = this;
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]) {
          return resource.runInAsyncScope(fn, this, ...args);
        }
      : (...args: unknown[]) => resource.runInAsyncScope(fn, thisArg, ...args);
  Object.defineProperty(bound, 'length', { value: fn.length, configurable: true });
  return bound;
}

let installed = false;

/** Replaces AsyncResource.prototype.bind once per process; true when the replacement is in place. */
export function installLightAsyncBind(): boolean {
  if (installed) return true;
  if (!bindHasDeprecatedAccessor()) return false;
  AsyncResource.prototype.bind = bindWithoutDeprecatedAccessor as unknown as typeof AsyncResource.prototype.bind;
  installed = true;
  return true;
}
