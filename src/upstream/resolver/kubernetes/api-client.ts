// A small client for the two requests discovery makes to the Kubernetes API: a (paged) list and a
// watch, over node:https with the cluster's CA and a bearer token or client certificate. Replies
// are bounded (a broken or hostile server cannot make the gateway buffer without end); a watch is
// read as the newline-delimited JSON stream the API server sends, one event per line.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { KubeAccess } from './access.js';

/** Largest list page or single watch event accepted (a 1000-endpoint slice is well under 1 MiB). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Largest error reply read for its message. */
const MAX_ERROR_BYTES = 64 * 1024;
/** A list request (one page) that has not answered within this is abandoned. */
const LIST_TIMEOUT_MS = 15_000;

/** The API server refused a request (HTTP status, or a watch's ERROR event carrying a Status). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: Record<string, unknown>;
}

export interface WatchHandlers {
  /** Called once the server accepted the watch (200), before any event. */
  onOpen(): void;
  onEvent(event: WatchEvent): void;
  /** The stream ended: `error` undefined when the server closed it normally (timeoutSeconds). */
  onEnd(error?: Error): void;
}

export interface Watch {
  abort(): void;
}

function statusError(code: number, body: string): KubeApiError {
  let reason = '';
  let message = body.trim().slice(0, 300);
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown };
    if (typeof status.reason === 'string') reason = status.reason;
    if (typeof status.message === 'string') message = status.message;
  } catch {
    // not a Status object: keep the text
  }
  return new KubeApiError(code, reason, message);
}

export class KubeApiClient {
  private readonly agent: HttpAgent;
  private readonly request: typeof httpsRequest;

  constructor(private readonly access: KubeAccess) {
    const secure = access.server.toLowerCase().startsWith('https:');
    this.request = secure ? httpsRequest : httpRequest;
    this.agent = secure
      ? new HttpsAgent({
          keepAlive: true,
          ca: access.ca,
          cert: access.clientCert,
          key: access.clientKey,
          rejectUnauthorized: access.insecureSkipTlsVerify !== true,
          servername: access.tlsServerName,
        })
      : new HttpAgent({ keepAlive: true });
  }

  get source(): string {
    return this.access.source;
  }

  private open(path: string, onResponse: (res: IncomingMessage) => void, onError: (err: Error) => void) {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = this.access.token?.();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const req = this.request(`${this.access.server}${path}`, { agent: this.agent, headers }, onResponse);
    req.on('error', onError);
    req.end();
    return req;
  }

  /** GET path → the parsed JSON object; a non-2xx answer → KubeApiError. */
  getJson(path: string): { result: Promise<Record<string, unknown>>; abort(): void } {
    let abort = (): void => {};
    const result = new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = this.open(
        path,
        (res) => {
          const ok = res.statusCode! >= 200 && res.statusCode! < 300;
          readBounded(res, ok ? MAX_BODY_BYTES : MAX_ERROR_BYTES, (err, body) => {
            if (err) return reject(err);
            if (!ok) return reject(statusError(res.statusCode!, body));
            try {
              const value: unknown = JSON.parse(body);
              if (value === null || typeof value !== 'object') throw new Error('not an object');
              resolve(value as Record<string, unknown>);
            } catch (e) {
              reject(new Error(`the API server's answer is not JSON: ${(e as Error).message}`));
            }
          });
        },
        reject,
      );
      req.setTimeout(LIST_TIMEOUT_MS, () => req.destroy(new Error(`no answer from the API server within ${LIST_TIMEOUT_MS} ms`)));
      abort = () => req.destroy(new Error('aborted'));
    });
    return { result, abort };
  }

  /**
   * GET a watch URL and stream its events. `idleMs`: the connection is dropped after that long
   * without a byte (a server that vanished without closing).
   */
  watch(path: string, idleMs: number, handlers: WatchHandlers): Watch {
    let ended = false;
    const end = (error?: Error): void => {
      if (ended) return;
      ended = true;
      handlers.onEnd(error);
    };
    const req = this.open(
      path,
      (res) => {
        if (res.statusCode !== 200) {
          readBounded(res, MAX_ERROR_BYTES, (err, body) => end(err ?? statusError(res.statusCode!, body)));
          return;
        }
        handlers.onOpen();
        const lines = new LineReader(MAX_BODY_BYTES);
        res.on('data', (chunk: Buffer) => {
          if (ended) return;
          try {
            for (const line of lines.push(chunk)) handlers.onEvent(parseEvent(line));
          } catch (err) {
            end(err as Error);
            req.destroy();
          }
        });
        res.on('end', () => end(lines.pending() ? new Error('watch stream ended inside an event') : undefined));
        res.on('error', (err) => end(err));
        res.on('aborted', () => end(new Error('watch stream aborted')));
      },
      (err) => end(err),
    );
    req.setTimeout(idleMs, () => req.destroy(new Error(`watch silent for ${idleMs} ms`)));
    return {
      abort: () => {
        ended = true;
        req.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
  }
}

function parseEvent(line: string): WatchEvent {
  const event = JSON.parse(line) as Partial<WatchEvent>;
  const types = ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'];
  if (typeof event?.type !== 'string' || !types.includes(event.type) || event.object === null || typeof event.object !== 'object') {
    throw new Error('malformed watch event');
  }
  return event as WatchEvent;
}

function readBounded(res: IncomingMessage, max: number, done: (err: Error | null, body: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (err: Error | null): void => {
    if (finished) return;
    finished = true;
    done(err, err ? '' : Buffer.concat(chunks).toString('utf8'));
  };
  res.on('data', (c: Buffer) => {
    size += c.length;
    if (size > max) {
      finish(new Error(`the API server's answer exceeds ${max} bytes`));
      res.destroy();
    } else {
      chunks.push(c);
    }
  });
  res.on('end', () => finish(null));
  res.on('error', (err) => finish(err));
  res.on('aborted', () => finish(new Error('answer aborted')));
}

/** Splits a byte stream into lines; a line longer than `max` bytes is an error. */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly max: number) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      this.parts.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.parts).toString('utf8').trim();
      this.parts = [];
      this.size = 0;
      if (line !== '') lines.push(line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.size += chunk.length - start;
      if (this.size > this.max) throw new Error(`a watch event exceeds ${this.max} bytes`);
      this.parts.push(chunk.subarray(start));
    }
    return lines;
  }

  pending(): boolean {
    return this.size > 0;
  }
}
