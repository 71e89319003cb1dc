export { neverProcessed, NO_CONNECTION_PREFIX, STREAM_REFUSED } from './transparent.js';
export { backoffMs, coversMethod, retryPolicy, serverPushback, type RetryPolicy } from './policy.js';
export { RetryBudget } from './budget.js';
