/**
 * grpc-timeout (PROTOCOL-HTTP2.md): TimeoutValue Unit, where TimeoutValue is 1 to 8 ASCII digits
 * and Unit one of H(ours) M(inutes) S(econds) m(illis) u(micros) n(anos). Parsed by hand: it is
 * on every call that has a deadline, and a regex exec would allocate a match array each time.
 */
export class TimeoutFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeoutFormatError';
  }
}

/** Milliseconds per unit, indexed by the unit's char code. */
const UNIT_MS = new Float64Array(128).fill(-1);
UNIT_MS[0x48 /* H */] = 3_600_000;
UNIT_MS[0x4d /* M */] = 60_000;
UNIT_MS[0x53 /* S */] = 1_000;
UNIT_MS[0x6d /* m */] = 1;
UNIT_MS[0x75 /* u */] = 1e-3;
UNIT_MS[0x6e /* n */] = 1e-6;

/** Returns the timeout in milliseconds (fractional for u/n units). */
export function parseGrpcTimeout(value: string): number {
  const n = value.length;
  if (n < 2 || n > 9) throw bad(value);
  const unit = value.charCodeAt(n - 1);
  const ms = unit < 128 ? UNIT_MS[unit]! : -1;
  if (ms < 0) throw bad(value);
  let amount = 0;
  for (let i = 0; i < n - 1; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw bad(value);
    amount = amount * 10 + d;
  }
  // Divide for sub-millisecond units so that e.g. 1000000n is exactly 1 ms, not 0.9999999.
  if (unit === 0x75) return amount / 1_000;
  if (unit === 0x6e) return amount / 1_000_000;
  return amount * ms;
}

function bad(value: string): TimeoutFormatError {
  return new TimeoutFormatError(`invalid grpc-timeout ${JSON.stringify(value.slice(0, 32))}`);
}
