/**
 * Live accuracy's cost in the router (`make bench-accuracy`): one router process in front of a
 * backend answering a fixed digits-like V2 response (label + 10 class scores), its routes switched
 * between rounds from monitoring off to `monitoring.accuracy` on, so both modes run in the same
 * process under the same background load, alternating. Per round: the router's CPU time per
 * request from /proc (the figure least disturbed by other load) and the client's throughput; with
 * accuracy on, the labels of every request served are then posted in bodies of 1000 and the
 * router's CPU per joined label is measured too. Medians over rounds; the cost is reported as the
 * ratio on/off. Bounded: a few seconds per round, loopback only. Writes
 * bench/results/accuracy.{json,md}.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  closeClient,
  request,
  routesFileWith,
  startBackend,
  startReadyRouter,
  waitFor,
  writeAtomically,
  type Backend,
  type RouterProcess,
} from '../../server-image/test/router/harness.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const LABELS_PER_POST = 1000;
const RESULTS = path.resolve('bench/results');

const RESPONSE = JSON.stringify({
  model_name: 'digits',
  model_version: '1',
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [1], data: [3] },
    {
      name: 'probabilities',
      datatype: 'FP32',
      shape: [1, 10],
      data: [0.01, 0.02, 0.03, 0.81, 0.02, 0.03, 0.02, 0.02, 0.02, 0.02],
    },
  ],
});
const REQUEST = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => i % 17) }],
});

/**
 * CPU time (µs) a process has used so far: the sum over its threads of /proc's schedstat (ns
 * precision; /proc/<pid>/stat counts 10 ms ticks, too coarse for the labels' short posts).
 */
function cpuUs(pid: number): number {
  let ns = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1000;
}

/**
 * Sends requests on `CONNECTIONS` keep-alive connections for `seconds`: how many were answered 200,
 * and their request ids (only while monitoring is on).
 */
async function drive(url: string, seconds: number): Promise<{ ok: number; ids: string[]; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const ids: string[] = [];
  let ok = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.request(
        `${url}/v2/models/digits/infer`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) {
              ok++;
              const id = res.headers['x-request-id'];
              if (typeof id === 'string') ids.push(id);
            } else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(REQUEST);
    });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  agent.destroy();
  return { ok, ids, errors };
}

interface Round {
  mode: 'off' | 'accuracy';
  requests: number;
  rps: number;
  cpuUsPerRequest: number;
  errors: number;
  labels?: number;
  cpuUsPerLabel?: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const backend: Backend = await startBackend('digits', (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(RESPONSE) });
    res.end(RESPONSE);
  });
  let generation = 1;
  const routes = (accuracy: boolean) => ({
    version: 1,
    generation,
    revisions: [{ name: 'digits', url: backend.url, weight: 1 }],
    ...(accuracy ? { monitoring: { accuracy: { ttlSeconds: 3600, maxPending: 1_000_000, peers: [] } } } : {}),
  });
  const file = routesFileWith(routes(false));
  const router: RouterProcess = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file });
  const pid = router.child.pid!;
  const rounds: Round[] = [];
  try {
    await drive(router.url, 1); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of ['off', 'accuracy'] as const) {
        generation++;
        writeAtomically(file, JSON.stringify(routes(mode === 'accuracy')));
        await waitFor(
          'routes applied',
          async () => (await request(`${router.url}/v2/health/ready`)).json().generation === generation,
        );
        const cpu0 = cpuUs(pid);
        const t0 = performance.now();
        const { ok, ids, errors } = await drive(router.url, SECONDS);
        const seconds = (performance.now() - t0) / 1000;
        const round: Round = {
          mode,
          requests: ok,
          rps: ok / seconds,
          cpuUsPerRequest: (cpuUs(pid) - cpu0) / Math.max(1, ok),
          errors,
        };
        if (mode === 'accuracy') {
          const cpu1 = cpuUs(pid);
          let matched = 0;
          for (let i = 0; i < ids.length; i += LABELS_PER_POST) {
            const labels = ids.slice(i, i + LABELS_PER_POST).map((id) => ({ id, label: 3 }));
            const reply = await request(`${router.url}/modelship/v1/labels`, {
              body: JSON.stringify({ labels }),
              headers: { 'content-type': 'application/json' },
            });
            matched += (reply.json() as { matched: number }).matched;
          }
          round.labels = matched;
          round.cpuUsPerLabel = (cpuUs(pid) - cpu1) / Math.max(1, matched);
          if (matched !== ids.length) throw new Error(`labels joined ${matched} of ${ids.length} requests`);
        }
        rounds.push(round);
        console.log(JSON.stringify(round));
      }
    }
  } finally {
    await router.stop();
    await backend.close();
    closeClient();
  }

  const of = (mode: Round['mode'], pick: (r: Round) => number | undefined) =>
    median(rounds.filter((r) => r.mode === mode).map((r) => pick(r) ?? 0));
  const summary = {
    time: new Date().toISOString(),
    cpus: `${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'})`,
    loadAverage: os.loadavg().map((l) => Number(l.toFixed(1))),
    node: process.version,
    rounds: ROUNDS,
    seconds: SECONDS,
    connections: CONNECTIONS,
    off: { rps: of('off', (r) => r.rps), cpuUsPerRequest: of('off', (r) => r.cpuUsPerRequest) },
    accuracy: {
      rps: of('accuracy', (r) => r.rps),
      cpuUsPerRequest: of('accuracy', (r) => r.cpuUsPerRequest),
      cpuUsPerLabel: of('accuracy', (r) => r.cpuUsPerLabel),
    },
    runs: rounds,
  };
  const cpuRatio = summary.accuracy.cpuUsPerRequest / summary.off.cpuUsPerRequest;
  const rpsRatio = summary.accuracy.rps / summary.off.rps;
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(
    path.join(RESULTS, 'accuracy.json'),
    `${JSON.stringify({ ...summary, cpuRatio, rpsRatio }, null, 2)}\n`,
  );
  const f = (n: number) => Number(n.toFixed(1));
  fs.writeFileSync(
    path.join(RESULTS, 'accuracy.md'),
    `# Live accuracy benchmark

${summary.time} · ${summary.cpus}, load average ${summary.loadAverage.join(' ')} · Node ${summary.node}

One router process, one backend answering a fixed digits-like V2 response (an INT64 label and 10
FP32 class scores, one row); the routes switched between rounds from no monitoring to
\`monitoring.accuracy\` (every answered request's prediction kept by request id), ${ROUNDS} alternating
rounds of ${SECONDS} s at ${CONNECTIONS} connections, medians. "Router CPU per request" is the
router process' on-CPU time (all its threads, /proc schedstat) over the round divided by the requests served: the
figure least disturbed by other load (the load generator and the backend share the machine).
After each accuracy round, the labels of all its requests are posted in bodies of
${LABELS_PER_POST}, every one joined.

| mode | req/s | router CPU per request | router CPU per joined label |
|---|---:|---:|---:|
| off | ${f(summary.off.rps)} | ${f(summary.off.cpuUsPerRequest)} µs | – |
| accuracy | ${f(summary.accuracy.rps)} | ${f(summary.accuracy.cpuUsPerRequest)} µs | ${f(summary.accuracy.cpuUsPerLabel)} µs |

Accuracy on / off: router CPU per request × ${cpuRatio.toFixed(2)}, throughput × ${rpsRatio.toFixed(2)}.
`,
  );
  console.log(fs.readFileSync(path.join(RESULTS, 'accuracy.md'), 'utf8'));
}

await main();
