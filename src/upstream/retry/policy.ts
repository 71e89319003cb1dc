// The opt-in retry policy (--retry-on, --retry-methods): like a gRPC service config's
// retryPolicy, it retries answers the application gave, so it is only for methods the user
// declares idempotent. Pure functions; the call (../pool-call.ts) applies them.
import type { Metadata } from '@grpc/grpc-js';
import type { RetryPolicyConfig } from '../../config/types.js';

/** A retry policy as a call reads it. */
export interface RetryPolicy {
  readonly codes: ReadonlySet<number>;
  /** gRPC path prefixes ("/pkg.Service/", "/pkg.Service/Get"): the methods declared idempotent. */
  readonly methods: readonly string[];
  /** Attempts in all, the first one included (A6's maxAttempts). */
  readonly maxAttempts: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

export function retryPolicy(config: RetryPolicyConfig | null): RetryPolicy | null {
  if (config === null || config.codes.length === 0 || config.methods.length === 0) return null;
  return {
    codes: new Set(config.codes),
    methods: [...config.methods],
    maxAttempts: config.maxAttempts,
    initialBackoffMs: config.initialBackoffMs,
    maxBackoffMs: config.maxBackoffMs,
  };
}

export function coversMethod(policy: RetryPolicy, method: string): boolean {
  for (const prefix of policy.methods) if (method.startsWith(prefix)) return true;
  return false;
}

/**
 * The wait before retry number `retry` (1 for the first): "full jitter", a uniform random
 * delay up to initial × 2^(retry-1), capped, so that calls failed together do not come back
 * together.
 */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The server's word on retrying (A6: `grpc-retry-pushback-ms` trailer): a delay in ms to use
 * instead of the backoff, 'stop' when it says not to retry (a negative or malformed value),
 * or undefined when it said nothing.
 */
export function serverPushback(trailers: Metadata): number | 'stop' | undefined {
  const values = trailers.get('grpc-retry-pushback-ms');
  if (values.length === 0) return undefined;
  const text = String(values[0]);
  return /^\d{1,9}$/.test(text) ? Number(text) : 'stop';
}
