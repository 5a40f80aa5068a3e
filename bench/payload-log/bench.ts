/**
 * Payload logging's cost (`make bench-payload-log`): router throughput to a real model server
 * (two scenarios: the digits classifier mlp.onnx, and a tiny identity model where the router costs
 * most) with logging off (baseline), at 10 % and at 100 % of requests and responses logged to a
 * real sink process (test/sink/sink.ts, answering 200 at once), in the same run, on loopback.
 *
 * Three routers run side by side on the same model server, identical but for
 * `monitoring.payloadLog`; the arms alternate in a rotating order over several rounds of a few
 * seconds at a fixed concurrency, so background load on the shared machine hits all alike; medians
 * are reported, and the ratios to off. Also each router's CPU per request (user+system from /proc,
 * the figure least disturbed by other load) and, at the end, the 100 % router's accounting: every
 * event sent, dropped or failed is counted, and the sink received exactly those counted sent.
 *
 * Usage: node dist/bench/payload-log/bench.js (env: BENCH_ROUNDS 5, BENCH_SECONDS 4,
 * BENCH_CONNECTIONS 16). Writes bench/results/payload-log.{json,md}.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import {
  closeClient,
  routerMetric,
  routesFileWith,
  startModelServer,
  startReadyRouter,
  waitFor,
  type RouterProcess,
} from '../../server-image/test/router/harness.js';
import { startSink } from '../../test/sink/start.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const WARMUP_SECONDS = 2;
/** How long a sink's count must stand still, short of what is owed, to count a run's events as in. */
const QUIET_MS = 500;
const RESULTS = path.resolve('bench/results');
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** One arm's run: requests answered, of which not 200, in how long, and the router's CPU. */
interface Run {
  arm: Arm;
  requests: number;
  non200: number;
  seconds: number;
  rps: number;
  /** Router user+system CPU µs per request over the run. */
  cpuUsPerRequest: number;
  /** The same, of the router's main thread alone: the one every request waits for. */
  mainCpuUsPerRequest: number;
}

/** Logging off (the baseline), on for 10 % of requests, on for all. */
type Arm = 'off' | 'ten' | 'on';
const ARMS: readonly Arm[] = ['off', 'ten', 'on'];

/** user+system CPU seconds of a process so far, or of one of its threads (`/proc/<pid>/task/<tid>`). */
function cpuSeconds(pid: number, tid?: number): number {
  const stat = fs.readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** A model and the request sent to it. */
interface Scenario {
  id: string;
  what: string;
  model: string;
  path: string;
  body: string;
}

const SCENARIOS: Scenario[] = [
  {
    id: 'digits',
    what: 'mlp.onnx (the digits classifier), one 784-pixel row as V2 JSON',
    model: 'mlp.onnx',
    path: '/v2/models/mlp/infer',
    body: JSON.stringify({
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [1, 784],
          data: Array.from({ length: 784 }, (_, i) => ((i * 7919) % 256) / 255),
        },
      ],
    }),
  },
  {
    id: 'tiny',
    what: 'echo_fp32.onnx (identity), one [1, 2] row as V2 JSON: the model costs least, the router most',
    model: 'echo_fp32.onnx',
    path: '/v2/models/echo_fp32/infer',
    body: '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,2],"data":[0.5,0.25]}]}',
  },
];

/** Sends requests over `CONNECTIONS` keep-alive connections for `seconds`; counts the answers. */
async function drive(
  url: string,
  sc: Scenario,
  seconds: number,
): Promise<{ requests: number; non200: number; seconds: number }> {
  const pool = new Pool(url, { connections: CONNECTIONS });
  let requests = 0;
  let non200 = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      const res = await pool.request({
        method: 'POST',
        path: sc.path,
        headers: { 'content-type': 'application/json' },
        body: sc.body,
      });
      await res.body.dump();
      requests++;
      if (res.statusCode !== 200) non200++;
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, loop));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  return { requests, non200, seconds: elapsed };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One scenario's runs and the end-of-run loss check. */
interface ScenarioResult {
  scenario: Scenario;
  runs: Run[];
  /** Requests the logging router served (warm-up included). */
  served: number;
  counted: { sent: number; dropped: number; failed: number };
  sinkCount: number;
}

/** Runs one scenario: a fresh model server, sink and pair of routers, arms alternating. */
async function measure(sc: Scenario): Promise<ScenarioResult> {
  const server = await startModelServer(sc.model);
  // One sink per logging router, so each one's delivery is checked on its own.
  const sinks = { ten: await startSink(), on: await startSink() };
  const revisions = [{ name: `${sc.id}-1`, url: server.url, weight: 100 }];
  const payloadLog = {
    url: `${sinks.on.url}/events`,
    percent: 100,
    mode: 'all',
    modelDeployment: sc.id,
    namespace: 'bench',
  };
  const routers: Record<Arm, RouterProcess> = {
    off: await startReadyRouter({ MODELSHIP_ROUTES_FILE: routesFileWith({ version: 1, generation: 1, revisions }) }),
    ten: await startReadyRouter({
      MODELSHIP_ROUTES_FILE: routesFileWith({
        version: 1,
        generation: 1,
        revisions,
        monitoring: { payloadLog: { ...payloadLog, url: `${sinks.ten.url}/events`, percent: 10 } },
      }),
    }),
    on: await startReadyRouter({
      MODELSHIP_ROUTES_FILE: routesFileWith({ version: 1, generation: 1, revisions, monitoring: { payloadLog } }),
    }),
  };
  const runs: Run[] = [];
  /** Requests each router has served so far: a logging one owes its sink 2 events per sampled one. */
  const served: Record<Arm, number> = { off: 0, ten: 0, on: 0 };
  // Sampling is exact (an error-diffusion counter from 0): after n requests, floor(n * percent / 100).
  const owed = (arm: 'ten' | 'on') => 2 * Math.floor((served[arm] * (arm === 'on' ? 100 : 10)) / 100);
  /**
   * Waits until the router's sink has every event owed so far, or (when the router dropped some:
   * its queue was full) until the sink's count has stood still for {@link QUIET_MS}; it polls the
   * sink, never the router, whose /metrics would cost it CPU inside the measured run.
   */
  const delivered = async (arm: Arm): Promise<void> => {
    if (arm === 'off') return;
    let last = -1;
    let since = performance.now();
    for (;;) {
      const n = await sinks[arm].count();
      if (n >= owed(arm)) return;
      if (n !== last) [last, since] = [n, performance.now()];
      else if (performance.now() - since > QUIET_MS) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    for (const arm of ARMS) {
      served[arm] += (await drive(routers[arm].url, sc, WARMUP_SECONDS)).requests;
      await delivered(arm);
    }
    for (let round = 0; round < ROUNDS; round++) {
      // The order rotates, so no arm always goes first or follows the same one.
      for (const arm of ARMS.map((_, i) => ARMS[(i + round) % ARMS.length])) {
        const router = routers[arm];
        const pid = router.child.pid as number;
        const cpu0 = cpuSeconds(pid);
        const main0 = cpuSeconds(pid, pid);
        const started = performance.now();
        const r = await drive(router.url, sc, SECONDS);
        served[arm] += r.requests;
        // The run lasts until the sink has every event of it: a backlog drained during the next
        // arm would bill that arm for this one's logging.
        await delivered(arm);
        const seconds = (performance.now() - started) / 1000;
        const cpu = cpuSeconds(pid) - cpu0;
        const main = cpuSeconds(pid, pid) - main0;
        runs.push({
          arm,
          ...r,
          seconds,
          rps: r.requests / seconds,
          cpuUsPerRequest: (cpu * 1e6) / r.requests,
          mainCpuUsPerRequest: (main * 1e6) / r.requests,
        });
        console.log(`${sc.id} round ${round + 1}/${ROUNDS} ${arm}: ${Math.round(r.requests / r.seconds)} req/s`);
      }
    }
    // Nothing lost: once the queue is empty, the sink has every event the router counted sent.
    const on = routers.on;
    await waitFor(
      'the payload queue to drain',
      async () => (await routerMetric(on, 'modelship_router_payload_queue_depth')) === 0,
      60_000,
    );
    const count = async () => ({
      sent: await routerMetric(on, 'modelship_router_payload_events_total', { outcome: 'sent' }),
      dropped: await routerMetric(on, 'modelship_router_payload_events_total', { outcome: 'dropped' }),
      failed: await routerMetric(on, 'modelship_router_payload_events_total', { outcome: 'failed' }),
    });
    // The sender thread reports every 20 ms: wait for the count of the last events (a shortfall stays visible).
    const counted = await waitFor(
      'every event counted',
      async () => {
        const c = await count();
        return c.sent + c.dropped + c.failed >= served.on * 2 ? c : undefined;
      },
      10_000,
    ).catch(count);
    const sinkCount = await waitFor(
      'the sink to count every event',
      async () => {
        const n = await sinks.on.count();
        return n === counted.sent ? n : undefined;
      },
      10_000,
    ).catch(() => sinks.on.count());
    return { scenario: sc, runs, served: served.on, counted, sinkCount };
  } finally {
    await Promise.all(ARMS.map((a) => routers[a].stop()));
    await Promise.all([sinks.ten.stop(), sinks.on.stop(), server.stop()]);
  }
}

/** One scenario's figures, as written to the JSON and the table. */
function summarize(r: ScenarioResult) {
  const arm = (a: Arm) => r.runs.filter((x) => x.arm === a);
  const byArm = (a: Arm) => ({
    rps: median(arm(a).map((x) => x.rps)),
    cpuUsPerRequest: median(arm(a).map((x) => x.cpuUsPerRequest)),
    mainCpuUsPerRequest: median(arm(a).map((x) => x.mainCpuUsPerRequest)),
    non200: arm(a).reduce((s, x) => s + x.non200, 0),
    each: arm(a).map((x) => Math.round(x.rps)),
  });
  const off = byArm('off');
  const ten = byArm('ten');
  const on = byArm('on');
  return {
    id: r.scenario.id,
    what: r.scenario.what,
    bodyBytes: Buffer.byteLength(r.scenario.body),
    off,
    ten,
    on,
    ratio: on.rps / off.rps,
    tenRatio: ten.rps / off.rps,
    tenCpuRatio: ten.cpuUsPerRequest / off.cpuUsPerRequest,
    // Paired per round (off then on, back to back): the spread of the cost under changing load.
    pairedRatios: arm('on').map((x, i) => x.rps / arm('off')[i].rps),
    cpuRatio: on.cpuUsPerRequest / off.cpuUsPerRequest,
    mainCpuRatio: on.mainCpuUsPerRequest / off.mainCpuUsPerRequest,
    tenMainCpuRatio: ten.mainCpuUsPerRequest / off.mainCpuUsPerRequest,
    served: r.served,
    counted: r.counted,
    sinkCount: r.sinkCount,
    // Events neither delivered nor counted: must be 0 (drops are counted, and are the queue bound at work).
    uncounted: r.served * 2 - r.counted.sent - r.counted.dropped - r.counted.failed,
    undelivered: r.counted.sent - r.sinkCount,
  };
}

async function main(): Promise<void> {
  const loadStart = os.loadavg();
  const results: ScenarioResult[] = [];
  try {
    for (const sc of SCENARIOS) results.push(await measure(sc));
  } finally {
    closeClient();
  }
  const loadEnd = os.loadavg();
  const scenarios = results.map(summarize);
  const cpu = os.cpus();
  const json = {
    time: new Date().toISOString(),
    machine: { cpus: cpu.length, model: cpu[0]?.model, node: process.version, loadStart, loadEnd },
    settings: { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, warmupSeconds: WARMUP_SECONDS },
    scenarios,
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'payload-log.json'), `${JSON.stringify(json, null, 2)}\n`);
  const f = (n: number) => n.toFixed(2);
  const sections = scenarios.map(
    (s) => `## ${s.id}

${s.what} (${s.bodyBytes} bytes per request)

| logging | req/s (median) | each round | router CPU per request | of it, the main thread | non-200 |
|---|---:|---|---:|---:|---:|
| off | ${Math.round(s.off.rps)} | ${s.off.each.join(', ')} | ${Math.round(s.off.cpuUsPerRequest)} µs | ${Math.round(s.off.mainCpuUsPerRequest)} µs | ${s.off.non200} |
| on, 10 % | ${Math.round(s.ten.rps)} | ${s.ten.each.join(', ')} | ${Math.round(s.ten.cpuUsPerRequest)} µs | ${Math.round(s.ten.mainCpuUsPerRequest)} µs | ${s.ten.non200} |
| on, 100 % | ${Math.round(s.on.rps)} | ${s.on.each.join(', ')} | ${Math.round(s.on.cpuUsPerRequest)} µs | ${Math.round(s.on.mainCpuUsPerRequest)} µs | ${s.on.non200} |

**The router's throughput, 100 % / off: ${f(1 / s.mainCpuRatio)}** (its main thread's CPU per request, off / 100 %;
at 10 %: ${f(1 / s.tenMainCpuRatio)}). End to end on this machine, 100 % / off: ${f(s.ratio)} (per round:
${s.pairedRatios.map(f).join(', ')}); at 10 %: ${f(s.tenRatio)}. The router process's CPU per request, sender thread
included, 100 % / off: ${f(s.cpuRatio)} (10 %: ${f(s.tenCpuRatio)}).

Accounting at 100 %: the router served ${s.served} requests (warm-up included), so ${s.served * 2} events; it counted
${s.counted.sent} sent, ${s.counted.dropped} dropped (queue full), ${s.counted.failed} failed; the sink received ${s.sinkCount}.
Counted sent but not received: ${s.undelivered}; neither delivered nor counted: ${s.uncounted}.
`,
  );
  const md = `# Payload logging benchmark

${json.time} · ${cpu.length} CPUs (${cpu[0]?.model}) · Node ${process.version} · load average ${loadStart.map(f).join(' / ')} at start, ${loadEnd.map(f).join(' / ')} at end

Throughput through a real router to a real model server (one serving process), loopback, ${CONNECTIONS} keep-alive
connections from a Node client, with payload logging off (the baseline), and with 10 % and 100 % of requests and
responses logged (mode \`all\`: two CloudEvents per logged request, one POST each) to a real sink process (test/sink/sink.ts) that
answers 200 at once. Per scenario, three routers side by side on the same model server, identical but for
\`monitoring.payloadLog\`; the arms (off, 10 %, 100 %) alternate, in a rotating order, ${ROUNDS} rounds of ${SECONDS} s after a ${WARMUP_SECONDS} s warm-up each; medians. A run
ends when the router's sink has every event of it (each logging router has its own sink), and its req/s is over that
whole time, so a logging arm's figure is the rate it sustains with every event delivered.
"Router CPU per request" is the router process's user+system CPU over the run divided by the requests it served
(/proc/<pid>/stat), the figure least disturbed by other load; "of it, the main thread" is the same of the thread
that runs the proxy (/proc/<pid>/task/<pid>/stat). The router's events are sent from a thread of their own
(payload-sender.ts), so the main thread, which every request waits for and which bounds what one router can
serve, only samples, builds the events and hands them over: the ratio of its CPU per request is the router's
throughput with logging against without, for a router pod that has a core beside its main thread (router pods set
no CPU limit). End to end, the client, the sink and the model server share this machine's 2 cores with the router,
so every CPU-second the sink and the sender spend is taken from the others, and that ratio is this machine's, not
the router's.

${sections.join('\n')}`;
  fs.writeFileSync(path.join(RESULTS, 'payload-log.md'), md);
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
