/**
 * A group of serving processes behind one port (MODELSHIP_PROCESSES > 1): the connections are
 * spread over every process, the metrics port shows their merge, a process that dies is replaced
 * while the others keep serving, and a group whose processes cannot load the model never becomes
 * ready and exits non-zero.
 */
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES, childPids, sha256Of, startServer, until, type ServerProcess } from './helpers/server.js';

jest.setTimeout(240_000);

const TINY = path.join(FIXTURES, 'tiny.onnx');
const BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] });

/**
 * A request on a connection of its own (no keep-alive, as kubelet probes): each is handed to a
 * process anew. Fails with `timeout` after 5 s without an answer.
 */
function onNewConnection(url: string, method: 'GET' | 'POST' = 'POST'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent: false, timeout: 5000, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in 5 s'), { code: 'timeout' })));
    req.end(method === 'POST' ? BODY : undefined);
  });
}

const inferOnNewConnection = (url: string): Promise<number> => onNewConnection(`${url}/v2/models/tiny/infer`);

/** Pids of the processes that logged a served request (debug logs carry each process's pid). */
const servingPids = (server: ServerProcess, from = 0): Set<number> =>
  new Set(
    server.logs
      .slice(from)
      .filter((l) => l.msg === 'request' && l.route === 'v2_infer')
      .map((l) => l.pid as number),
  );

it('spreads new connections over every serving process, and the metrics port shows their sum', async () => {
  const server = await startServer({ model: TINY, env: { MODELSHIP_PROCESSES: '3', MODELSHIP_LOG_LEVEL: 'debug' } });
  try {
    const members = childPids(server.proc.pid as number);
    expect(members).toHaveLength(3);
    expect(server.logs).toContainEqual(expect.objectContaining({ msg: 'model ready', processes: 3 }));

    for (let i = 0; i < 30; i++) expect(await inferOnNewConnection(server.url)).toBe(200);
    expect([...servingPids(server)].sort((a, b) => a - b)).toEqual(members);

    const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    const value = (series: string): number[] =>
      text
        .split('\n')
        .filter((l) => l.startsWith(series + ' '))
        .map((l) => Number(l.split(' ')[1]));
    expect(value('modelship_http_requests_total{route="v2_infer",code="200"}')).toEqual([30]);
    expect(value('modelship_batch_size_sum')).toEqual([30]);
    expect(value(`modelship_model_info{name="tiny",version="1",sha256="${sha256Of(TINY)}"}`)).toEqual([1]);
    expect(value('modelship_ready')).toEqual([1]);
    expect(value('modelship_model_load_seconds')[0]).toBeGreaterThan(0);
  } finally {
    await server.stop();
  }
});

it('replaces a serving process killed under load: the group stays ready and only its open requests fail', async () => {
  const server = await startServer({ model: TINY, env: { MODELSHIP_LOG_LEVEL: 'debug' } });
  const primary = server.proc.pid as number;
  const [victim, survivor] = childPids(primary);
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const notReady: number[] = [];
  const client = async (): Promise<void> => {
    while (running) {
      try {
        const status = await inferOnNewConnection(server.url);
        if (status === 200) ok++;
        else failures.push(String(status));
      } catch (err) {
        failures.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
    }
  };
  const probeErrors: string[] = [];
  const probe = async (): Promise<void> => {
    while (running) {
      try {
        const status = await onNewConnection(`${server.url}/v2/health/ready`, 'GET');
        if (status !== 200) notReady.push(status);
      } catch (err) {
        probeErrors.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const clients = [...Array.from({ length: 8 }, client), probe()];
  try {
    await until('load to build up', async () => (ok >= 200 ? true : undefined));
    process.kill(victim, 'SIGKILL');
    const replaced = await until('the replacement to be ready', async () =>
      server.logs.find((l) => l.msg === 'replacement serving process ready'),
    );
    const fromReplacement = server.logs.length;
    const okAtReplacement = ok;
    await until('load on the new group', async () => (ok >= okAtReplacement + 200 ? true : undefined));
    running = false;
    await Promise.all(clients);

    expect(server.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: 'serving process exited; replacing it',
        pid: victim,
        signal: 'SIGKILL',
      }),
    );
    const members = childPids(primary);
    expect(members).toHaveLength(2);
    expect(members).toContain(survivor);
    expect(members).toContain(replaced.pid);
    expect(servingPids(server, fromReplacement)).toEqual(new Set(members));
    // Only requests open on the killed process at that moment may fail: at most one per client.
    // They are reset, or (the connection node:cluster was handing to it just then) never answered.
    expect(failures.length).toBeLessThanOrEqual(8);
    expect(failures.filter((f) => !['ECONNRESET', 'EPIPE', 'timeout'].includes(f))).toEqual([]);
    expect(notReady).toEqual([]);
    // A probe open on the killed process at that moment fails like any request there (kubelet
    // tolerates failureThreshold - 1 in a row); every other probe answered ready.
    expect(probeErrors.length).toBeLessThanOrEqual(1);
  } finally {
    running = false;
    await server.stop();
  }
});

it('never becomes ready when its processes cannot load the model: exit 1 and a termination message', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelship-group-'));
  const model = path.join(dir, 'not-onnx.onnx');
  writeFileSync(model, 'these bytes are not an ONNX model');
  const sha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
  const server = await startServer({
    model: TINY,
    env: { MODELSHIP_MODEL_URI: model, MODELSHIP_SHA256: sha256, MODELSHIP_SHUTDOWN_TIMEOUT_MS: '600000' },
    ready: false,
  });
  const { code } = await server.exited;
  expect(code).toBe(1);
  // The primary's last line is the serving process's own cause, not that a process exited.
  expect(server.logs.at(-1)).toEqual(
    expect.objectContaining({ level: 'error', msg: 'model load failed', error: expect.any(String) }),
  );
  expect(server.logs.some((l) => l.msg === 'model ready')).toBe(false);
  expect(readFileSync(server.terminationLog, 'utf8')).toMatch(/^model load failed: /);
});
