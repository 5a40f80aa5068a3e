/**
 * What the model-source tests share: the real server started on a remote model URI, its end read
 * back as the operator reads it (the termination message), and the cache it leaves behind.
 */
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseModelFailure, type ModelFailureReason } from '../../../contract/model-source.js';
import { FIXTURES, postJson, sha256Of, startServer, type ServerProcess } from '../helpers/server.js';

/** The served model: tiny.onnx (one FP32 [n, 4] input), whatever the URI it is fetched from. */
export const TINY = path.join(FIXTURES, 'tiny.onnx');
export const TINY_SHA256 = sha256Of(TINY);

/** Start the server on `uri` (the tiny model's digest unless env says otherwise). */
export function serve(uri: string, env: Record<string, string> = {}, ready = true): Promise<ServerProcess> {
  return startServer({ model: TINY, env: { MODELSHIP_MODEL_URI: uri, ...env }, ready });
}

/** One inference through the server: the status a client sees. */
export async function inferStatus(server: ServerProcess): Promise<number> {
  const res = await postJson(`${server.url}/v2/models/tiny/infer`, {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
  });
  return res.status;
}

/** The files in the server's model cache (startServer puts it beside the termination log). */
export function cacheEntries(server: ServerProcess): string[] {
  try {
    return readdirSync(path.join(path.dirname(server.terminationLog), 'cache'));
  } catch {
    return [];
  }
}

/** How a server that could not fetch its model ended, as the operator sees it. */
export interface FetchFailureEnd {
  code: number | null;
  termination: string;
  reason?: ModelFailureReason;
  message?: string;
  /** Every log line, as text, for checks that no secret is in any. */
  logText: string;
}

/** Wait for the server to exit and read its termination message. */
export async function failure(server: ServerProcess): Promise<FetchFailureEnd> {
  const { code } = await server.exited;
  const termination = readFileSync(server.terminationLog, 'utf8');
  const parsed = parseModelFailure(termination);
  return {
    code,
    termination,
    reason: parsed?.reason,
    message: parsed?.message,
    logText: server.logs.map((l) => JSON.stringify(l)).join('\n') + server.stderr(),
  };
}

const secretDirs: string[] = [];

/** A directory laid out as the operator mounts a credentials Secret: one file per key (removeSecretDirs removes it). */
export function secretDir(keys: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelship-secret-'));
  secretDirs.push(dir);
  for (const [key, value] of Object.entries(keys)) writeFileSync(path.join(dir, key), value + '\n');
  return dir;
}

/** Remove every directory secretDir made. */
export function removeSecretDirs(): void {
  for (const dir of secretDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A loopback port nothing listens on (bound, then closed): a store that is down. */
export async function closedPort(): Promise<number> {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  return port;
}
