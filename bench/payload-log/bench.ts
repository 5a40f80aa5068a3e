/**
 * Payload logging's cost (`make bench-payload-log`): what logging 10 % and 100 % of requests and
 * responses to a real sink process (test/sink/sink.ts, answering 200 at once) costs a real router in
 * front of a real model server (two scenarios: the digits classifier mlp.onnx, and a tiny identity
 * model where the router costs most), against logging off, in the same run, on loopback.
 *
 * Three routers run side by side on the same model server, identical but for
 * `monitoring.payloadLog`; the arms alternate in a rotating order over several rounds, so
 * background load on the shared machine hits all alike; medians are reported, and the ratios to off.
 * Two phases, both driven by wrk over keep-alive connections:
 * - steady: each connection pauses between an answer and its next request, so every arm gets the
 *   same load, well below what this machine sustains. The router's main thread's CPU per request
 *   (the scheduler's count, /proc/<pid>/task/<pid>/schedstat) is then the router's own cost, not
 *   the contention of the client, sink and model server sharing these cores; it bounds what one
 *   router serves, and its ratio off / on is the router's throughput with logging against without
 *   (the goal: ≥ 0.9 at 100 %).
 * - saturated: as fast as answers come; the end-to-end rate of this machine, and whether logging
 *   keeps up with it. At the end, the 100 % router's accounting: every event sent, dropped or failed
 *   is counted, and the sink received exactly those counted sent.
 *
 * Usage: node dist/bench/payload-log/bench.js (env: BENCH_STEADY_ROUNDS 11, BENCH_ROUNDS 5, BENCH_SECONDS 4,
 * BENCH_CONNECTIONS 16, BENCH_PAUSE_MS 10). Writes bench/results/payload-log.{json,md}.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

/**
 * Rounds per phase. The steady phase has more: a thread that runs a few hundred µs at a time costs
 * more or less per request with what else runs on the machine, and pairs of rounds side by side
 * cancel most of it out.
 */
const ROUNDS: Record<'steady' | 'saturated', number> = {
  steady: Number(process.env.BENCH_STEADY_ROUNDS ?? 11),
  saturated: Number(process.env.BENCH_ROUNDS ?? 5),
};
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
/** The steady phase's pause per connection between an answer and its next request. */
const PAUSE_MS = Number(process.env.BENCH_PAUSE_MS ?? 10);
const WARMUP_SECONDS = 2;
/** How long a sink's count must stand still, short of what is owed, to count a run's events as in. */
const QUIET_MS = 500;
const RESULTS = path.resolve('bench/results');
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-bench-payload-log-'));

/** Logging off (the baseline), on for 10 % of requests, on for all. */
type Arm = 'off' | 'ten' | 'on';
const ARMS: readonly Arm[] = ['off', 'ten', 'on'];
const PERCENT: Record<Arm, number> = { off: 0, ten: 10, on: 100 };

/** A steady load the same for every arm, or as fast as answers come. */
type Phase = 'steady' | 'saturated';
const PHASES: readonly Phase[] = ['steady', 'saturated'];

/** One arm's run: requests answered, of which not 200, in how long, and the router's CPU. */
interface Run {
  phase: Phase;
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

/**
 * CPU seconds a process (all its threads) or one of its threads (`/proc/<pid>/task/<tid>`) has run
 * so far: the scheduler's own sum (schedstat, in ns), not /proc's stat, whose utime and stime are
 * tick samples (1/100 s), too coarse for a thread that runs a few hundred µs at a time.
 */
function cpuSeconds(pid: number, tid?: number): number {
  const tids = tid === undefined ? fs.readdirSync(`/proc/${pid}/task`) : [String(tid)];
  let ns = 0;
  for (const t of tids) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended since the listing: its time is in no task any more.
    }
  }
  return ns / 1e9;
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

/**
 * Sends the scenario's request from wrk over `CONNECTIONS` keep-alive connections for `seconds`:
 * as fast as answers come (closed loop), or with each connection pausing `pauseMs` between an
 * answer and its next request (a steady load, the same whatever the router's cost per request).
 */
function drive(url: string, sc: Scenario, seconds: number, pauseMs?: number): { requests: number; non200: number } {
  const script = path.join(WORK, `${sc.id}.lua`);
  fs.writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [=[${sc.body}]=]\n` +
      (pauseMs === undefined ? '' : `function delay() return ${pauseMs} end\n`),
  );
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '-s', script, `${url}${sc.path}`], {
    encoding: 'utf8',
  });
  const requests = /(\d+) requests in/.exec(out);
  if (!requests) throw new Error(`bench: wrk printed no count:\n${out}`);
  const non200 = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return { requests: Number(requests[1]), non200: non200 ? Number(non200[1]) : 0 };
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
  const owed = (arm: Arm) => 2 * Math.floor((served[arm] * PERCENT[arm]) / 100);
  /**
   * Waits until the router's sink has every event owed so far, or (when the router dropped some:
   * its queue was full) until the sink's count has stood still for {@link QUIET_MS}; it polls the
   * sink, never the router, whose /metrics would cost it CPU inside the measured run.
   */
  const delivered = async (arm: Arm): Promise<void> => {
    if (arm === 'off') return;
    const sink = sinks[arm];
    let last = -1;
    let since = performance.now();
    for (;;) {
      const n = await sink.count();
      if (n >= owed(arm)) return;
      if (n !== last) [last, since] = [n, performance.now()];
      else if (performance.now() - since > QUIET_MS) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    for (const arm of ARMS) {
      served[arm] += drive(routers[arm].url, sc, WARMUP_SECONDS).requests;
      await delivered(arm);
    }
    for (const phase of PHASES) {
      for (let round = 0; round < ROUNDS[phase]; round++) {
        // The order rotates, so no arm always goes first or follows the same one.
        for (const arm of ARMS.map((_, i) => ARMS[(i + round) % ARMS.length])) {
          const router = routers[arm];
          const pid = router.child.pid as number;
          const cpu0 = cpuSeconds(pid);
          const main0 = cpuSeconds(pid, pid);
          const started = performance.now();
          const r = drive(router.url, sc, SECONDS, phase === 'steady' ? PAUSE_MS : undefined);
          served[arm] += r.requests;
          // The run lasts until the sink has every event of it: a backlog drained during the next
          // arm would bill that arm for this one's logging.
          await delivered(arm);
          const seconds = (performance.now() - started) / 1000;
          const cpu = cpuSeconds(pid) - cpu0;
          const main = cpuSeconds(pid, pid) - main0;
          runs.push({
            phase,
            arm,
            ...r,
            seconds,
            rps: r.requests / seconds,
            cpuUsPerRequest: (cpu * 1e6) / r.requests,
            mainCpuUsPerRequest: (main * 1e6) / r.requests,
          });
          console.log(
            `${sc.id} ${phase} round ${round + 1}/${ROUNDS[phase]} ${arm}: ${Math.round(r.requests / seconds)} req/s, main thread ${Math.round((main * 1e6) / r.requests)} µs/request`,
          );
        }
      }
    }
    // Nothing lost: once the queue is empty, the sink has every event the router counted sent. What
    // it answered is its own count (wrk leaves out the requests in flight when a run ends; those
    // it gives up on get no answer, and so no events).
    const on = routers.on;
    let servedOn = 0;
    for (const outcome of ['2xx', '3xx', '4xx', '5xx']) {
      servedOn += await routerMetric(on, 'modelship_router_requests_total', { kind: 'live', outcome });
    }
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
    // The sender thread reports every 50 ms: wait for the count of the last events (a shortfall stays visible).
    const counted = await waitFor(
      'every event counted',
      async () => {
        const c = await count();
        return c.sent + c.dropped + c.failed >= servedOn * 2 ? c : undefined;
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
    return { scenario: sc, runs, served: servedOn, counted, sinkCount };
  } finally {
    await Promise.all(ARMS.map((a) => routers[a].stop()));
    await Promise.all([sinks.ten.stop(), sinks.on.stop(), server.stop()]);
  }
}

/** One phase's figures per arm: medians over its rounds. */
function phaseFigures(runs: Run[], phase: Phase) {
  const arm = (a: Arm) => runs.filter((x) => x.phase === phase && x.arm === a);
  const byArm = (a: Arm) => ({
    rps: median(arm(a).map((x) => x.rps)),
    cpuUsPerRequest: median(arm(a).map((x) => x.cpuUsPerRequest)),
    mainCpuUsPerRequest: median(arm(a).map((x) => x.mainCpuUsPerRequest)),
    non200: arm(a).reduce((s, x) => s + x.non200, 0),
    each: arm(a).map((x) => Math.round(x.rps)),
    eachMain: arm(a).map((x) => Math.round(x.mainCpuUsPerRequest)),
  });
  const off = byArm('off');
  const ten = byArm('ten');
  const on = byArm('on');
  return {
    off,
    ten,
    on,
    /** The router's throughput with logging against without: its main thread's CPU per request, off / on. */
    mainRatio: off.mainCpuUsPerRequest / on.mainCpuUsPerRequest,
    tenMainRatio: off.mainCpuUsPerRequest / ten.mainCpuUsPerRequest,
    /** Requests per second, on / off. */
    rpsRatio: on.rps / off.rps,
    tenRpsRatio: ten.rps / off.rps,
    // Paired per round (back to back): the spread of the cost under changing load.
    pairedRpsRatios: arm('on').map((x, i) => x.rps / arm('off')[i].rps),
    pairedMainRatios: arm('on').map((x, i) => arm('off')[i].mainCpuUsPerRequest / x.mainCpuUsPerRequest),
    /** The headline: the median of the rounds' ratios, each of two runs side by side under the same machine load. */
    pairedMainMedian: median(arm('on').map((x, i) => arm('off')[i].mainCpuUsPerRequest / x.mainCpuUsPerRequest)),
    tenPairedMainMedian: median(arm('ten').map((x, i) => arm('off')[i].mainCpuUsPerRequest / x.mainCpuUsPerRequest)),
    /** The router process's CPU per request, sender thread included, on / off. */
    cpuRatio: on.cpuUsPerRequest / off.cpuUsPerRequest,
    tenCpuRatio: ten.cpuUsPerRequest / off.cpuUsPerRequest,
  };
}

/** One scenario's figures, as written to the JSON and the tables. */
function summarize(r: ScenarioResult) {
  return {
    id: r.scenario.id,
    what: r.scenario.what,
    bodyBytes: Buffer.byteLength(r.scenario.body),
    steady: phaseFigures(r.runs, 'steady'),
    saturated: phaseFigures(r.runs, 'saturated'),
    served: r.served,
    counted: r.counted,
    sinkCount: r.sinkCount,
    // Events neither delivered nor counted: must be 0 (drops are counted, and are the queue bound at work).
    uncounted: r.served * 2 - r.counted.sent - r.counted.dropped - r.counted.failed,
    undelivered: r.counted.sent - r.sinkCount,
  };
}

type Figures = ReturnType<typeof phaseFigures>;

/** A phase's table: a row per arm. */
function table(p: Figures): string {
  const row = (label: string, a: Figures['off']) =>
    `| ${label} | ${Math.round(a.rps)} | ${a.each.join(', ')} | ${Math.round(a.mainCpuUsPerRequest)} µs | ${a.eachMain.join(', ')} | ${Math.round(a.cpuUsPerRequest)} µs | ${a.non200} |`;
  return `| logging | req/s (median) | each round | main thread CPU per request (median) | each round, µs | router process CPU per request | non-200 |
|---|---:|---|---:|---|---:|---:|
${row('off', p.off)}
${row('on, 10 %', p.ten)}
${row('on, 100 %', p.on)}`;
}

async function main(): Promise<void> {
  const loadStart = os.loadavg();
  const results: ScenarioResult[] = [];
  try {
    for (const sc of SCENARIOS) results.push(await measure(sc));
  } finally {
    closeClient();
    fs.rmSync(WORK, { recursive: true, force: true });
  }
  const loadEnd = os.loadavg();
  const scenarios = results.map(summarize);
  const cpu = os.cpus();
  const json = {
    time: new Date().toISOString(),
    machine: { cpus: cpu.length, model: cpu[0]?.model, node: process.version, loadStart, loadEnd },
    settings: {
      rounds: ROUNDS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      pauseMs: PAUSE_MS,
      warmupSeconds: WARMUP_SECONDS,
    },
    scenarios,
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'payload-log.json'), `${JSON.stringify(json, null, 2)}\n`);
  const f = (n: number) => n.toFixed(2);
  const goal = (ratio: number) => (ratio >= 0.9 ? 'met' : 'not met');
  const sections = scenarios.map(
    (s) => `## ${s.id}

${s.what} (${s.bodyBytes} bytes per request)

**The router's throughput with payload logging at 100 % against off: ${f(s.steady.pairedMainMedian)}×** (goal ≥ 0.9×: ${goal(s.steady.pairedMainMedian)};
at 10 %: ${f(s.steady.tenPairedMainMedian)}×): its main thread's CPU per request under the same steady load, off / on, the
median of the rounds (each round's arms run side by side: ${s.steady.pairedMainRatios.map(f).join(', ')}); the ratio of
the arms' medians: ${f(s.steady.mainRatio)}× (10 %: ${f(s.steady.tenMainRatio)}×).

Steady load (each of ${CONNECTIONS} connections pausing ${PAUSE_MS} ms between an answer and its next request):

${table(s.steady)}

Saturated (as fast as answers come):

${table(s.saturated)}

Saturated, end to end on this machine, 100 % / off: ${f(s.saturated.rpsRatio)}× (per round: ${s.saturated.pairedRpsRatios.map(f).join(', ')});
at 10 %: ${f(s.saturated.tenRpsRatio)}×. The router's main thread's CPU per request there, off / 100 %: ${f(s.saturated.mainRatio)}×
(10 %: ${f(s.saturated.tenMainRatio)}×), the router's process, sender thread included, 100 % / off: ${f(s.saturated.cpuRatio)}×.

Accounting at 100 %: the router answered ${s.served} requests (warm-up and both phases included), so ${s.served * 2} events; it counted
${s.counted.sent} sent, ${s.counted.dropped} dropped (queue full), ${s.counted.failed} failed; the sink received ${s.sinkCount}.
Counted sent but not received: ${s.undelivered}; neither delivered nor counted: ${s.uncounted}.
`,
  );
  const md = `# Payload logging benchmark

${json.time} · ${cpu.length} CPUs (${cpu[0]?.model}) · Node ${process.version} · load average ${loadStart.map(f).join(' / ')} at start, ${loadEnd.map(f).join(' / ')} at end

What logging requests and responses costs a real router in front of a real model server (one serving process),
on loopback: logging off (the baseline), and 10 % and 100 % of requests and responses logged (mode \`all\`: two
CloudEvents per logged request, one POST each) to a real sink process (test/sink/sink.ts) that answers 200 at once.
Per scenario, three routers side by side on the same model server, identical but for \`monitoring.payloadLog\`;
the arms (off, 10 %, 100 %) alternate in a rotating order, rounds of ${SECONDS} s (${ROUNDS.steady} steady, ${ROUNDS.saturated} saturated) after a ${WARMUP_SECONDS} s warm-up each;
medians. Load from wrk, ${CONNECTIONS} keep-alive connections. A run ends when the router's sink has every event of it (each
logging router has its own sink), so a logging arm's figures include delivering all it logged.

**How the router's throughput is measured.** The router's events are made and sent by a thread of its own
(payload-sender.ts); its main thread, which every request waits for, only samples, copies the logged bodies and
hands them over every 50 ms. What one router can serve is bounded by that thread's CPU per request (a router pod
sets no CPU limit, so the sender has the other cores), the scheduler's own count (/proc/<pid>/task/<pid>/schedstat). It is measured under a
**steady load**, the same for every arm and well below what this machine sustains: saturated, the client, the sink,
the model server and the sender thread share this machine's 2 cores with the router, and the contention they cause
(and the smaller batches a slower loop reads) is billed to the router's main thread as CPU per request. The
**saturated** phase shows that contention: end to end, every CPU-second the sink and the sender spend here is taken
from the others, so that ratio is this machine's, not the router's.

${sections.join('\n')}`;
  fs.writeFileSync(path.join(RESULTS, 'payload-log.md'), md);
  console.log(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
