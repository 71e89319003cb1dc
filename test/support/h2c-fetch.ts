// A `fetch` over cleartext HTTP/2 with prior knowledge (h2c), built on Node's http2 client, so that
// the real gRPC-Web clients (connect-web, protobuf-ts: both take a `fetch`) can be pointed at the
// gateway's h2c side. Browsers and undici speak HTTP/2 only over TLS. All requests to one origin
// share one HTTP/2 connection, as a browser's would; aborting a request resets its stream
// (RST_STREAM CANCEL).
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';

export interface H2cFetch {
  fetch: typeof globalThis.fetch;
  /** The one session per origin opened so far (to inspect its settings, or count streams). */
  session(origin: string): ClientHttp2Session;
  close(): void;
}

async function bodyBytes(body: BodyInit | null | undefined): Promise<Uint8Array | null> {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return body;
  return new Uint8Array(await new Response(body).arrayBuffer());
}

function responseHeaders(h: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(h)) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, String(v));
  }
  return out;
}

export function h2cFetch(): H2cFetch {
  const sessions = new Map<string, ClientHttp2Session>();
  const session = (origin: string): ClientHttp2Session => {
    let s = sessions.get(origin);
    if (s === undefined || s.closed || s.destroyed) {
      s = connect(origin);
      s.on('error', () => {});
      sessions.set(origin, s);
    }
    return s;
  };
  const fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const headers: Record<string, string> = {
      ':method': init.method ?? 'GET',
      ':path': url.pathname + url.search,
    };
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = await bodyBytes(init.body);
    const stream = session(url.origin).request(headers, { endStream: body === null });
    if (body !== null) stream.end(body);
    const signal = init.signal;
    const abort = (): void => {
      stream.close(constants.NGHTTP2_CANCEL);
    };
    if (signal?.aborted) abort();
    signal?.addEventListener('abort', abort, { once: true });
    return new Promise<Response>((resolve, reject) => {
      stream.once('error', reject);
      stream.once('close', () => reject(new Error(`stream closed before a response (code ${stream.rstCode})`)));
      stream.once('response', (h) => {
        const readable = new ReadableStream<Uint8Array>({
          start(controller) {
            stream.on('data', (chunk: Buffer) => {
              controller.enqueue(new Uint8Array(chunk));
              if (controller.desiredSize !== null && controller.desiredSize <= 0) stream.pause();
            });
            stream.once('end', () => controller.close());
            stream.once('close', () => {
              if (stream.rstCode !== constants.NGHTTP2_NO_ERROR && !stream.readableEnded) {
                controller.error(new Error(`stream reset (code ${stream.rstCode})`));
              }
            });
          },
          pull() {
            stream.resume();
          },
          cancel() {
            abort();
          },
        });
        const status = Number(h[':status']);
        const noBody = status === 204 || status === 304 || init.method === 'HEAD';
        resolve(new Response(noBody ? null : readable, { status, headers: responseHeaders(h) }));
      });
    });
  };
  return {
    fetch: fetch as typeof globalThis.fetch,
    session,
    close() {
      for (const s of sessions.values()) s.close();
      sessions.clear();
    },
  };
}
