/**
 * What the oci:// server tests share: requests to the source, reading what it returns, a recording proxy, and a
 * registry process with a config of the test's own (token auth, TLS) beside test/stores' startRegistry.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';

import { startStoreProcess, type StoreProcess } from '../../../test/stores/process.js';
import type { RemoteRequest, StoreSettings } from '../../src/model/remote.js';

/** A request for `uri` that is never aborted. */
export function request(uri: string, store: StoreSettings): RemoteRequest {
  return { uri, settings: store, signal: new AbortController().signal };
}

/** The sha256 (hex) of everything a stream gives; rejects as the stream fails. */
export async function sha256OfStream(body: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The failure a promise rejects with (reason and message), for assertions on both. */
export async function failure(promise: Promise<unknown>): Promise<{ reason?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { reason?: string };
    return { reason: e.reason, message: e.message };
  }
  throw new Error('expected a failure');
}

/** What the proxy answers by itself. */
export interface ProxyAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A request the proxy saw. */
export interface Seen {
  method: string;
  path: string;
  authorization?: string;
}

/**
 * An HTTP proxy to `target` that records every request, and may rewrite its path or answer it itself (a redirect,
 * an error).
 */
export async function startProxy(
  target: string,
  options: {
    /** Rewrites the path sent to the target. */
    rewrite?: (path: string) => string;
    /** Answers 307 to the URL it returns instead of forwarding. */
    answer?: (path: string, authorization?: string) => ProxyAnswer | undefined;
    /** Sent to the target instead of the client's Authorization. */
    authorization?: string;
  } = {},
): Promise<{ address: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const { authorization } = req.headers;
    seen.push({ method: req.method ?? '', path: url, ...(authorization === undefined ? {} : { authorization }) });
    const answer = options.answer?.(url, authorization);
    if (answer !== undefined) {
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return;
    }
    const [host, port] = target.split(':');
    const headers = { ...req.headers, ...(options.authorization ? { authorization: options.authorization } : {}) };
    const upstream = http.request(
      { host, port, method: req.method, path: options.rewrite?.(url) ?? url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    address,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** distribution's config.yml: plain HTTP (or TLS with `tls`), storage at `storage`, the given `auth:` block. */
export function registryConfig(
  address: string,
  storage: string,
  auth: string,
  tls?: { cert: string; key: string },
): string {
  const tlsBlock = tls === undefined ? '' : `  tls:\n    certificate: ${tls.cert}\n    key: ${tls.key}\n`;
  return `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(storage)}
  maintenance:
    uploadpurging:
      enabled: false
${auth}http:
  addr: ${JSON.stringify(address)}
  secret: modelship-test-oci
${tlsBlock}`;
}

/**
 * A registry process (build-binaries.sh's binary, through test/stores' process handling: temp dir, free port,
 * stopped and removed by stop()) on 127.0.0.1 with the config `config` writes; ready when `ready` says so.
 */
export function startRegistryProcess(
  config: (address: string, dir: string) => string,
  ready: (address: string) => Promise<boolean>,
): Promise<StoreProcess> {
  return startStoreProcess({
    name: 'registry',
    host: '127.0.0.1',
    prepare: (dir, port) => writeFileSync(path.join(dir, 'config.yml'), config(`127.0.0.1:${port}`, dir)),
    args: (_port, dir) => ['serve', path.join(dir, 'config.yml')],
    ready,
  });
}
