// The bare relay's place in the bench (bench/relay.ts): its path names in the grpc64 case, and
// the reference line beside each native grpc-js target. The reference is a ceiling to read the
// target against, never a target itself: it carries `reference: true` and `met: null`, and the
// tally of targets leaves it out.
import { OWN_CORE, PINNED_DIRECT, type PinOutcome } from './pinning.js';
import { perRound, type RoundSample, type TargetCheck } from './stats.js';

/** The grpc-js client through the bare relay, shared cores. */
export const RELAY = 'relay grpc-js';
/** The same in the pinned layout: the relay alone on the gateway's CPU. */
export const RELAY_PINNED = RELAY + OWN_CORE;
/** The reference line's text, after the target it stands beside. */
export const RELAY_REFERENCE = '  reference, not a target: bare node:http2 relay (bench/relay.ts), same client';

const ratio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');

/**
 * The reference line for one native grpc-js target: the relay over the direct client of its own
 * layout, and the gateway over the relay, each a median of same-round ratios. `pinned`: the
 * pinned layout's outcome (its skip reason and pinning failures), or null for shared cores.
 */
export function relayReference<S extends RoundSample & { callsPerS: number }>(
  samples: readonly S[],
  c: string,
  gatewayPath: string,
  pinned: PinOutcome | null,
): TargetCheck {
  const target = RELAY_REFERENCE + (pinned ? ', relay on the gateway\'s core' : '');
  const line = (value: string): TargetCheck => ({ target, value, met: null, reference: true });
  const relayPath = pinned ? RELAY_PINNED : RELAY;
  const direct = pinned ? PINNED_DIRECT : 'direct grpc-js';
  if (pinned && pinned.skip !== null) return line(`skipped: ${pinned.skip}`);
  if (pinned && (pinned.failures.has(`${c}/${relayPath}`) || pinned.failures.has(`${c}/${direct}`))) return line('pinning failed');
  const vsDirect = perRound(samples, c, relayPath, direct, (s) => s.callsPerS);
  if (!Number.isFinite(vsDirect)) return line('not measured');
  const gatewayOverRelay = perRound(samples, c, gatewayPath, relayPath, (s) => s.callsPerS);
  return line(`${ratio(vsDirect)} direct; gateway ÷ relay: ${ratio(gatewayOverRelay)}`);
}
