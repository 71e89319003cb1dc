import { describe, expect, it } from 'vitest';
import * as protocol from '../../../src/protocol/index.js';

describe('protocol index', () => {
  it('re-exports the whole API', () => {
    for (const name of [
      'parseWebContentType',
      'FRAME_HEADER_BYTES',
      'FLAG_COMPRESSED',
      'FLAG_TRAILER',
      'frameHeader',
      'writeFrameHeader',
      'encodeMessageFrame',
      'FrameError',
      'FrameDecoder',
      'Base64Error',
      'Base64Decoder',
      'encodeBase64',
      'encodeGrpcMessage',
      'decodeGrpcMessage',
      'encodeTrailerFrame',
      'parseTrailerBlock',
      'isForwardableRequestHeader',
      'isForwardableResponseHeader',
      'isValidMetadataKey',
      'decodeBinaryHeader',
      'HeaderError',
      'exposeHeadersValue',
      'connectionListedHeaders',
      'parseGrpcTimeout',
      'TimeoutFormatError',
      'parseHttpHeadersParam',
      'MAX_HTTP_HEADERS_PARAM_HEADERS',
    ]) {
      expect(protocol, name).toHaveProperty(name);
    }
  });
});
