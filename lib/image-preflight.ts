// Preflight for IMAGE_URLS, on this machine (where images are fetched), before any host changes:
// a scheme stack.ts can fetch, a local file that is readable, a cached copy, or a web server that
// resolves and answers for that file. Seed 004 and issue 7: a bad URL used to fail only at the
// image step, after packages, databases and services were set up.

import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import dns from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheName } from './image.ts';

export interface ImageProblem {
  readonly source: string;
  readonly message: string;
  readonly hint: string;
}

export interface ImageCheckOptions {
  readonly cacheDir: string;
  readonly offline: boolean;
  /** Seconds for the name lookup and for the server's answer. Default 10. */
  readonly timeoutS?: number;
  /** Name lookup; dns.lookup (the system resolver, as the download will use) by default. */
  readonly lookup?: (host: string) => Promise<unknown>;
}

const SCHEMES = ['http', 'https', 'file'];
const HINT = 'Set IMAGE_URLS in localrc to an http(s) URL that works from this machine, or to a local file (a path or file://...).';

/** "htps" -> "https": a known scheme one edit away (a typo), not merely a similar one (ftp is not http). */
function closestScheme(s: string): string | undefined {
  const d = (a: string, b: string): number => {
    const m = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) m[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) m[i]![j] = Math.min(m[i - 1]![j]! + 1, m[i]![j - 1]! + 1, m[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return m[a.length]![b.length]!;
  };
  const best = SCHEMES.map((k) => [k, d(s.toLowerCase(), k)] as const).sort((x, y) => x[1] - y[1])[0]!;
  return best[1] <= 1 ? best[0] : undefined;
}

/** One HEAD (or, for servers that refuse HEAD, a GET of the first byte), following redirects. */
function probe(url: string, method: 'HEAD' | 'GET', timeoutMs: number, hops = 0): Promise<{ status: number } | { error: string }> {
  return new Promise((done) => {
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, { method, agent: false, timeout: timeoutMs, headers: method === 'GET' ? { Range: 'bytes=0-0' } : {} }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const loc = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(status) && loc && hops < 10) {
        done(probe(new URL(loc, u).toString(), method, timeoutMs, hops + 1) as never);
      } else done({ status });
      req.destroy();
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code === 'ECONNREFUSED' ? 'connection refused' : e.message }));
    req.end();
  });
}

async function checkOne(source: string, opts: ImageCheckOptions): Promise<ImageProblem | undefined> {
  const timeoutMs = (opts.timeoutS ?? 10) * 1000;
  const bad = (message: string, hint = HINT): ImageProblem => ({ source, message, hint });
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(source)?.[1];
  if (scheme && !SCHEMES.includes(scheme.toLowerCase())) {
    const near = closestScheme(scheme);
    return bad(
      `IMAGE_URLS entry "${source}" uses ${scheme}:, which stack.ts cannot fetch (it fetches http, https and local files).`,
      near && near !== scheme.toLowerCase() ? `Did you mean ${near}:? ${HINT}` : HINT,
    );
  }
  if (!scheme || scheme.toLowerCase() === 'file') {
    let path: string;
    try {
      path = scheme ? fileURLToPath(source) : resolve(source);
    } catch (e) {
      return bad(`IMAGE_URLS entry "${source}" is not a usable file URL: ${(e as Error).message}.`);
    }
    try {
      if (!(await stat(path)).isFile()) return bad(`The image ${path} (IMAGE_URLS) is not a regular file.`);
      await access(path, fsConstants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return bad(`The image file ${path} (IMAGE_URLS) ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`);
    }
    return undefined;
  }
  // A complete cached copy (its sha256 sidecar is written last) needs no network.
  const cached = resolve(opts.cacheDir, cacheName(source));
  if (await access(`${cached}.sha256`).then(() => true, () => false)) return undefined;
  if (opts.offline) return bad(`OFFLINE is set and ${cacheName(source)} (${source}) is not in the image cache ${resolve(opts.cacheDir)}.`, `Copy the file there, point IMAGE_URLS at a local file, or set OFFLINE=False.`);
  const host = new URL(source).hostname;
  try {
    const lookup = opts.lookup ?? ((h: string) => dns.lookup(h));
    await Promise.race([lookup(host), new Promise((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs).unref())]);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return bad(
      `The image server ${host} (IMAGE_URLS "${source}") does not resolve on this machine (${code ?? (e as Error).message}).`,
      `Check the host name in IMAGE_URLS and this machine's DNS (/etc/resolv.conf), or use a local file.`,
    );
  }
  let r = await probe(source, 'HEAD', timeoutMs);
  // Some servers (object stores, old mirrors) answer HEAD with 403/405/501 but serve a GET.
  if ('status' in r && (r.status === 403 || r.status === 405 || r.status === 501)) r = await probe(source, 'GET', timeoutMs);
  if ('error' in r) return bad(`The image server for "${source}" does not answer: ${r.error}.`, `Check that this machine reaches ${host} (proxy, firewall), or use a local file.`);
  if (r.status >= 400) return bad(`The image "${source}" is not there: the server answers HTTP ${r.status}.`, `Check the path and version in IMAGE_URLS (the file name changes with CIRROS_VERSION). ${HINT}`);
  return undefined;
}

/** Every IMAGE_URLS entry checked at once; problems of all of them together. */
export async function checkImageSources(sources: readonly string[], opts: ImageCheckOptions): Promise<ImageProblem[]> {
  return (await Promise.all(sources.map((s) => checkOne(s, opts)))).filter((p): p is ImageProblem => p !== undefined);
}
