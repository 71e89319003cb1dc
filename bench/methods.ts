// Method paths and request bodies the bench processes share.

export const UNARY_METHOD = '/bench.Bench/Unary';
export const STREAM_METHOD = '/bench.Bench/Stream';

/** Stream request: uint32 BE message count, uint32 BE message size. */
export function streamRequest(count: number, size: number): Buffer {
  const req = Buffer.alloc(8);
  req.writeUInt32BE(count, 0);
  req.writeUInt32BE(size, 4);
  return req;
}
