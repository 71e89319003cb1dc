// Compressed request messages, for both exchanges (gRPC-Web and native gRPC): which encoding a
// call's compressed messages use, and inflating one of them within --max-message-size.
import { status as Status } from '@grpc/grpc-js';
import { gunzip, inflate } from 'node:zlib';
import { compressedMessageRule, type MessageEncoding } from '../protocol/index.js';
import type { Refusal } from './refusal.js';
import type { RawRequest } from './types.js';

/** A refusal as an exchange passes it on (each picks the HTTP status its protocol answers with). */
export type MessageRefusal = Omit<Refusal, 'httpStatus'>;

/**
 * The encoding of a call's compressed request messages, read from its `grpc-encoding` header when
 * the first one arrives (calls that never compress never look), or why it cannot be inflated.
 */
export function compressedMessageEncoding(req: RawRequest): MessageEncoding | MessageRefusal {
  const rule = compressedMessageRule(req.headers['grpc-encoding']);
  if (rule === 'missing') {
    return { code: Status.INTERNAL, message: 'compressed request message without a grpc-encoding header other than identity', reason: 'malformed_request' };
  }
  if (rule === 'unsupported') {
    // The client's encoding is not repeated: it is the client's text, of any length. The refusal
    // carries grpc-accept-encoding (refusal.ts), which is what clients act on.
    return { code: Status.UNIMPLEMENTED, message: 'request message compressed with an unsupported grpc-encoding; the gateway accepts gzip and deflate', reason: 'unsupported_encoding' };
  }
  return rule;
}

/**
 * Inflates one message, off the event loop. Never yields more than `maxBytes`: zlib stops at
 * that output size, so a small message that would inflate to gigabytes (a decompression bomb)
 * costs at most `maxBytes` of memory before it is refused.
 */
export function inflateMessage(
  encoding: MessageEncoding,
  data: Buffer,
  maxBytes: number,
  done: (refusal: MessageRefusal | null, message: Buffer) => void,
): void {
  const inflater = encoding === 'gzip' ? gunzip : inflate;
  inflater(data, { maxOutputLength: maxBytes }, (error, message) => {
    if (error === null) {
      done(null, message);
    } else if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      done({ code: Status.RESOURCE_EXHAUSTED, message: `request message decompresses to more than the limit of ${maxBytes} bytes`, reason: 'too_large' }, EMPTY);
    } else {
      done({ code: Status.INTERNAL, message: `request message is not valid ${encoding} data`, reason: 'malformed_request' }, EMPTY);
    }
  });
}

const EMPTY = Buffer.alloc(0);
