// One HTTP request per TCP connection, on purpose.
// Keystone and nova-api under `uwsgi --http-socket` (Debian's Zed ini files) close the connection
// after an empty 204/HEAD reply without sending `Connection: close`; a keep-alive client (global
// fetch's pool) then writes its next POST into a dead socket and fails. node:http with
// `agent: false` opens a fresh connection per request and says `Connection: close`, which costs a
// loopback handshake (well under a millisecond) and removes the whole class of failure.

import { API_SERVICES } from '../api-services.ts';
import * as http from 'node:http';
import * as https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

export interface RequestOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialised as the body with Content-Type: application/json. */
  readonly json?: unknown;
  /** Raw body. A Readable is sent chunked unless Content-Length is given in headers. */
  readonly body?: Buffer | string | Readable;
  /** No byte sent or received for this long -> ApiError. Default 30 s. It is an idle timeout, so a long download that keeps moving never trips it. */
  readonly timeoutMs?: number;
  /** Keystone token, sent as X-Auth-Token. */
  readonly token?: string;
  /** Statuses that count as success. Default: any 2xx. */
  readonly expect?: readonly number[];
  /** Name used in "is <service> running?"; guessed from the port when absent. */
  readonly service?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly url: string;
  /** The body as it arrives; use it or json()/text(), not both. */
  readonly stream: IncomingMessage;
  json<T = unknown>(): Promise<T>;
  text(): Promise<string>;
}

/** A request that failed: refused, timed out, broke, or answered a status the caller did not expect. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly method: string,
    readonly url: string,
    /** HTTP status; undefined when no reply came (refused, timeout, reset). */
    readonly status?: number,
    /** Start of the reply body (at most ~300 characters). Callers mask it before showing it. */
    readonly body?: string,
    /** Node's error code for network failures: ECONNREFUSED, ETIMEDOUT, ECONNRESET... */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Worth trying again: no reply at all, or a server-side 5xx / 429. */
export const isRetryable = (err: unknown): boolean =>
  err instanceof ApiError && (err.status === undefined || err.status >= 500 || err.status === 429);

export const SERVICE_BY_PORT: Readonly<Record<string, string>> = {
  ...Object.fromEntries(API_SERVICES.map((a) => [String(a.port), a.daemon])),
  // Not run by stack.ts, but a user's catalog may still name them.
  '35357': 'keystone',
};

const BODY_SNIPPET = 300;

const hostPort = (u: URL): string => `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;

/** The URL as shown in messages: without user:password, which node would otherwise print. */
const showUrl = (u: URL): string => {
  if (!u.username && !u.password) return u.toString();
  const c = new URL(u.toString());
  c.username = '';
  c.password = '';
  return c.toString();
};

function networkError(method: string, u: URL, err: NodeJS.ErrnoException, service: string | undefined, timeoutMs: number): ApiError {
  const where = hostPort(u);
  const svc = service ?? SERVICE_BY_PORT[u.port] ?? 'the service';
  const shown = showUrl(u);
  let why: string;
  switch (err.code) {
    case 'ECONNREFUSED':
      why = `nothing answers at ${where} (connection refused) - is ${svc} running?`;
      break;
    case 'ETIMEDOUT':
      why = `no reply from ${where} within ${Math.round(timeoutMs / 100) / 10} s - is ${svc} overloaded or is a firewall dropping packets?`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      why = `the name ${u.hostname} does not resolve - check SERVICE_HOST / HOST_IP and /etc/hosts`;
      break;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      why = `no route to ${where} - is the address right and the host up?`;
      break;
    case 'ECONNRESET':
    case 'EPIPE':
      why = `${where} closed the connection before replying (${err.code}) - see ${svc}'s log`;
      break;
    default:
      why = `${err.code ?? 'error'}: ${err.message}`;
  }
  return new ApiError(`${method} ${shown} -> ${why}`, method, shown, undefined, undefined, err.code);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Make one HTTP(S) request on its own connection. Throws ApiError on failure or an unexpected status. */
export function request(method: string, url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(url);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const shown = showUrl(u);
  const headers: Record<string, string | number> = {
    Accept: 'application/json',
    'User-Agent': 'stack.ts',
    Connection: 'close',
    ...opts.headers,
  };
  if (opts.token) headers['X-Auth-Token'] = opts.token;

  let payload: Buffer | Readable | undefined;
  if (opts.json !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.json));
    headers['Content-Type'] ??= 'application/json';
  } else if (opts.body !== undefined) {
    payload = typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body;
  }
  if (Buffer.isBuffer(payload)) headers['Content-Length'] = payload.length;
  else if (payload === undefined && ['POST', 'PUT', 'PATCH'].includes(method)) headers['Content-Length'] = 0;

  const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
  if (!lib) {
    return Promise.reject(new ApiError(`${method} ${shown} -> unsupported URL scheme ${u.protocol} (use http:// or https://)`, method, shown));
  }

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const fail = (e: ApiError) => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    const req = lib.request(u, { method, headers, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      const statusText = res.statusMessage ?? http.STATUS_CODES[status] ?? '';
      const ok = opts.expect ? opts.expect.includes(status) : status >= 200 && status < 300;
      if (!ok) {
        readAll(res)
          .catch(() => Buffer.alloc(0))
          .then((buf) => {
            const body = buf.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, BODY_SNIPPET);
            fail(new ApiError(`${method} ${shown} -> ${status} ${statusText}${body ? `: ${body}` : ''}`, method, shown, status, body));
          });
        return;
      }
      settled = true;
      let cached: Promise<Buffer> | undefined;
      const bodyBuf = () => (cached ??= readAll(res).catch((e: NodeJS.ErrnoException) => {
        throw networkError(method, u, e, opts.service, timeoutMs);
      }));
      resolve({
        status,
        statusText,
        headers: res.headers,
        url: shown,
        stream: res,
        text: async () => (await bodyBuf()).toString('utf8'),
        json: async <T>() => {
          const text = (await bodyBuf()).toString('utf8');
          try {
            return JSON.parse(text) as T;
          } catch {
            throw new ApiError(
              `${method} ${shown} -> ${status} but the reply is not JSON: ${text.slice(0, BODY_SNIPPET)}`,
              method, shown, status, text.slice(0, BODY_SNIPPET),
            );
          }
        },
      });
    });
    // Idle timeout on the socket: covers connecting, waiting for headers and a stalled body.
    req.setTimeout(timeoutMs, () => {
      const e: NodeJS.ErrnoException = new Error('timeout');
      e.code = 'ETIMEDOUT';
      req.destroy(e);
    });
    req.on('error', (e: NodeJS.ErrnoException) => fail(networkError(method, u, e, opts.service, timeoutMs)));
    if (payload === undefined) req.end();
    else if (Buffer.isBuffer(payload)) req.end(payload);
    else {
      payload.on('error', (e: NodeJS.ErrnoException) => {
        req.destroy();
        fail(new ApiError(`${method} ${shown} -> could not read the data to send: ${e.message}`, method, shown, undefined, undefined, e.code));
      });
      payload.pipe(req);
    }
  });
}

/**
 * Shorthand: request and parse the JSON reply. An empty reply (204, HEAD) or a non-2xx status the
 * caller listed in `expect` (e.g. 404 on a delete) gives undefined; its body is not parsed.
 */
export async function requestJson<T>(method: string, url: string, opts: RequestOptions = {}): Promise<T> {
  const res = await request(method, url, opts);
  if (res.status === 204 || method === 'HEAD' || res.status < 200 || res.status >= 300) {
    res.stream.resume();
    return undefined as T;
  }
  if ((await res.text()).trim() === '') return undefined as T;
  return res.json<T>();
}

/** Join a base URL and a path without doubling or losing the slash. */
export const joinUrl = (base: string, path: string): string => `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
