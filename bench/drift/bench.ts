/**
 * Drift detection benchmark (`make bench-drift`), on real processes over loopback:
 * (a) the router's throughput with drift on against drift off, in the same run, alternating
 *     (wrk, a stub backend that answers a canned digits response, so the router is the bottleneck);
 * (b) false alarms: 10,000 digits test-set requests through the router to a real digits server
 *     with its profile (window 1000 rows, threshold 0.2), the stats read every 100 requests: how many
 *     of those checks exceed the threshold, and the largest PSI seen;
 * (c) detection latency: after a window of test-set rows, rows of a shifted set (noise, inverted,
 *     other images) one request at a time until a PSI exceeds the threshold; median over runs.
 * Writes bench/results/drift.{json,md}.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_DRIFT_SAMPLE_RPS } from '../../server-image/src/router/config.js';
import { mulberry32 } from '../../server-image/test/helpers/random.js';
import { sha256Of } from '../../server-image/test/helpers/server.js';
import {
  closeClient,
  request,
  spawnImage,
  startModelServer,
  startRouter as startRouterProcess,
  waitFor,
} from '../../server-image/test/router/harness.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const EXAMPLES = path.join(ROOT, 'examples/models');
const RESULTS = path.join(ROOT, 'bench/results');
const WINDOW = 1000;
const THRESHOLD = 0.2;
const FALSE_ALARM_REQUESTS = 10_000;
const CHECK_EVERY = 100;
const DETECTION_RUNS = 5;
const ROUNDS = 3;
const SECONDS = 4;
const CONNECTIONS = 16;
const SETS = ['noise', 'inverted', 'images'] as const;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-bench-drift-'));
/** Stops every process the bench started. */
const stops: (() => Promise<unknown>)[] = [];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const bodies = (file: string): string[] =>
  fs
    .readFileSync(path.join(EXAMPLES, 'samples', file), 'utf8')
    .trim()
    .split('\n');

/** Polls `check` (undefined: not yet) for up to 30 s. */
const until = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
  waitFor(`bench: ${what}`, check, 30_000, 50) as Promise<T>;

/** GET `url`: its body as text. */
const get = async (url: string): Promise<string> => (await request(url)).body.toString();

/** POST a JSON body to `url`. */
const post = (url: string, body: string) =>
  request(url, { body, headers: { 'content-type': 'application/json' } }).then((r) => ({
    status: r.status,
    text: r.body.toString(),
  }));

interface Router {
  url: string;
  metricsUrl: string;
  routesFile: string;
  generation: number;
}

interface DriftFigures {
  rows: number;
  inputPsi: number | null;
  outputPsi: number | null;
  feature?: string;
}

/**
 * A router with drift's default sample (the throughput a user gets), or observing every request
 * (`census`: the false-alarm and detection figures count rows exactly).
 */
async function startRouter(sampling: 'default' | 'census'): Promise<Router> {
  const routesFile = path.join(work, `routes-${stops.length}.json`);
  fs.writeFileSync(routesFile, JSON.stringify({ version: 1, generation: 0, revisions: [] }));
  const router = await startRouterProcess({
    MODELSHIP_POD_NAME: 'bench',
    MODELSHIP_ROUTES_FILE: routesFile,
    ...(sampling === 'census' ? { MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS: '0' } : {}),
  });
  stops.push(router.stop);
  return { url: router.url, metricsUrl: router.metricsUrl, routesFile, generation: 0 };
}

/** Puts routes in force: one revision at `url`, drift on or off; resolves once the router uses them. */
async function setRoutes(router: Router, url: string, drift: boolean, profile: boolean): Promise<void> {
  router.generation++;
  const doc = {
    version: 1,
    generation: router.generation,
    revisions: [{ name: 'digits-a', url, weight: 100, model: 'digits', ...(profile ? { profile: true } : {}) }],
    ...(drift ? { monitoring: { drift: { windowRows: WINDOW, referenceRows: WINDOW, threshold: THRESHOLD } } } : {}),
  };
  const tmp = `${router.routesFile}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(doc));
  fs.renameSync(tmp, router.routesFile);
  await until('the routes', async () => {
    const stats = JSON.parse(await get(`${router.metricsUrl}/router/stats`)) as { routesGeneration: number };
    return stats.routesGeneration === router.generation ? true : undefined;
  });
}

/** The revision's drift once the router has observed `rows` rows (observation follows the answer). */
async function driftAt(router: Router, rows: number): Promise<DriftFigures> {
  return until(`${rows} rows observed`, async () => {
    const stats = JSON.parse(await get(`${router.metricsUrl}/router/stats`)) as {
      revisions: Record<string, { drift?: DriftFigures }>;
    };
    const drift = stats.revisions['digits-a']?.drift;
    return drift && drift.rows >= rows ? drift : undefined;
  });
}

async function send(router: Router, rows: string[], concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < rows.length) {
      const reply = await post(`${router.url}/v2/models/digits/infer`, rows[next++]);
      if (reply.status !== 200) throw new Error(`bench: request answered ${reply.status}: ${reply.text}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** A process answering every request with `response` (a canned digits answer): the router is the bottleneck. */
async function startStub(response: string): Promise<string> {
  const script = `const http=require('http');const b=${JSON.stringify(response)};
http.createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json','content-length':Buffer.byteLength(b)});s.end(b);});})
.listen(0,'127.0.0.1',function(){console.log(JSON.stringify({msg:'stub listening',port:this.address().port}));});`;
  const stub = await spawnImage<{ port: number }>('the stub backend', {}, 'stub listening', ['-e', script]);
  stops.push(stub.stop);
  return `http://127.0.0.1:${stub.listening.port}`;
}

function wrk(url: string, body: string): number {
  const script = path.join(work, 'post.lua');
  fs.writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '${body.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'\n`,
  );
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '-s', script, url], {
    encoding: 'utf8',
  });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!m || /Non-2xx/.test(out)) throw new Error(`bench: wrk failed:\n${out}`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  const test = bodies('test.v2.jsonl');
  const profileSha = sha256Of(path.join(EXAMPLES, 'digits.profile.json'));
  const server = await startModelServer(path.join(EXAMPLES, 'digits.onnx'), {
    MODELSHIP_PROFILE_URI: path.join(EXAMPLES, 'digits.profile.json'),
    MODELSHIP_PROFILE_SHA256: profileSha,
    MODELSHIP_PROCESSES: '1',
    MODELSHIP_CACHE_DIR: path.join(work, 'cache'),
  });
  stops.push(server.stop);
  const serverUrl = server.url;

  // (a) throughput through a stub backend, alternating in the same run: drift off, on with the
  // default sample, and on for every request (census).
  const canned = (await post(`${serverUrl}/v2/models/digits/infer`, test[0])).text;
  const stub = await startStub(canned);
  const a = await startRouter('default');
  const c = await startRouter('census');
  const runs: { off: number[]; on: number[]; census: number[] } = { off: [], on: [], census: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of ['off', 'on', 'census'] as const) {
      const router = mode === 'census' ? c : a;
      await setRoutes(router, stub, mode !== 'off', false);
      runs[mode].push(wrk(`${router.url}/v2/models/digits/infer`, test[round]));
    }
  }
  const throughput = {
    rpsOff: median(runs.off),
    rpsOn: median(runs.on),
    rpsCensus: median(runs.census),
    ratio: median(runs.on) / median(runs.off),
    censusRatio: median(runs.census) / median(runs.off),
    runs,
    rowsObservedWithDriftOn: (await driftAt(a, 1)).rows,
    rowsObservedCensus: (await driftAt(c, 1)).rows,
  };
  console.log('throughput', JSON.stringify(throughput));

  // (b) false alarms on test-set traffic, against the model's profile.
  const b = await startRouter('census');
  await setRoutes(b, serverUrl, true, true);
  await until('the profile', async () => {
    const stats = JSON.parse(await get(`${b.metricsUrl}/router/stats`)) as {
      revisions: Record<string, { drift?: { reference: string } }>;
    };
    return stats.revisions['digits-a']?.drift ? true : undefined;
  });
  // Seeded: every run sends the same rows in the same order.
  const random = mulberry32(20240611);
  const pick = (rows: string[]) => rows[Math.floor(random() * rows.length)];
  let checks = 0;
  let alarms = 0;
  let maxInput = 0;
  let maxOutput = 0;
  let maxFeature = '';
  let sent = 0;
  while (sent < FALSE_ALARM_REQUESTS) {
    await send(
      b,
      Array.from({ length: CHECK_EVERY }, () => pick(test)),
    );
    sent += CHECK_EVERY;
    const d = await driftAt(b, sent);
    if (d.inputPsi === null) continue;
    checks++;
    if (d.inputPsi > THRESHOLD || (d.outputPsi ?? 0) > THRESHOLD) alarms++;
    if (d.inputPsi > maxInput) {
      maxInput = d.inputPsi;
      maxFeature = d.feature ?? '';
    }
    maxOutput = Math.max(maxOutput, d.outputPsi ?? 0);
  }
  const falseAlarms = {
    requests: sent,
    checks,
    alarms,
    maxInputPsi: maxInput,
    maxInputFeature: maxFeature,
    maxOutputPsi: maxOutput,
  };
  console.log('false alarms', JSON.stringify(falseAlarms));

  // (c) detection latency per shifted set: a window of test rows, then shifted rows one by one.
  const detection: Record<string, { runs: number[]; medianRows: number; firstBy: string[] }> = {};
  for (const set of SETS) {
    const shifted = bodies(`shifted/${set}.v2.jsonl`);
    const result = { runs: [] as number[], medianRows: 0, firstBy: [] as string[] };
    for (let run = 0; run < DETECTION_RUNS; run++) {
      await send(
        b,
        Array.from({ length: WINDOW }, () => pick(test)),
      );
      sent += WINDOW;
      const calm = await driftAt(b, sent);
      if ((calm.inputPsi ?? 0) > THRESHOLD || (calm.outputPsi ?? 0) > THRESHOLD) {
        throw new Error(`bench: the window of test rows before ${set} run ${run} already drifted`);
      }
      let rows = 0;
      for (;;) {
        await send(b, [pick(shifted)], 1);
        rows++;
        sent++;
        const d = await driftAt(b, sent);
        if ((d.inputPsi ?? 0) > THRESHOLD || (d.outputPsi ?? 0) > THRESHOLD) {
          result.firstBy.push((d.inputPsi ?? 0) > THRESHOLD ? `input ${d.feature}` : 'output');
          break;
        }
        if (rows > WINDOW) throw new Error(`bench: ${set} not detected within a window`);
      }
      result.runs.push(rows);
    }
    result.medianRows = median(result.runs);
    detection[set] = result;
    console.log('detection', set, JSON.stringify(result));
  }

  const doc = {
    when: new Date().toISOString(),
    machine: { cpus: os.cpus().length, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) },
    settings: { windowRows: WINDOW, threshold: THRESHOLD, profile: 'digits.profile.json', profileSha256: profileSha },
    throughput,
    falseAlarms,
    detection,
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'drift.json'), JSON.stringify(doc, null, 2) + '\n');
  const md = `# Drift detection (make bench-drift)

${doc.when}, ${doc.machine.cpus} CPUs, load average ${doc.machine.loadavg.join(' ')}. Router and servers on loopback.
Window ${WINDOW} rows, threshold PSI ${THRESHOLD}, reference: digits.profile.json (the training split).

## Router throughput, drift off vs on (same run)

wrk -t1 -c${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} rounds alternating off / on / census, one digits row per
request, a stub backend answering a canned digits response (the router is the bottleneck). "on" is drift as it ships:
each revision's requests observed up to ${DEFAULT_DRIFT_SAMPLE_RPS} per second per router pod
(MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS), the rest passing unobserved; "census" observes every request (=0).

| drift | req/s (median) | runs | ratio to off |
|---|---|---|---|
| off | ${throughput.rpsOff.toFixed(0)} | ${runs.off.map((x) => x.toFixed(0)).join(', ')} | 1 |
| on (sampled) | ${throughput.rpsOn.toFixed(0)} | ${runs.on.map((x) => x.toFixed(0)).join(', ')} | **${throughput.ratio.toFixed(3)}** |
| census | ${throughput.rpsCensus.toFixed(0)} | ${runs.census.map((x) => x.toFixed(0)).join(', ')} | ${throughput.censusRatio.toFixed(3)} |

Rows observed: ${throughput.rowsObservedWithDriftOn} in the last sampled run (turning drift off and on starts it over),
${throughput.rowsObservedCensus} over every census run. The
false-alarm and detection figures below observe every request (census), so their row counts are exact.

## False alarms on test-set traffic

${falseAlarms.requests} requests drawn from the digits test split (450 rows, seeded), through the router to a real
digits server; the stats read every ${CHECK_EVERY} requests once the window is full: **${falseAlarms.alarms} of
${falseAlarms.checks} checks** exceeded the threshold. Largest PSI seen: input ${falseAlarms.maxInputPsi.toFixed(3)}
(${falseAlarms.maxInputFeature}), predicted classes ${falseAlarms.maxOutputPsi.toFixed(3)}.

## Detection latency

After a full window of test rows, rows of the shifted set one request at a time until a PSI exceeds the threshold
(${DETECTION_RUNS} runs each).

| shifted set | rows to detection (median) | runs | first over the threshold |
|---|---|---|---|
${SETS.map((s) => `| ${s} | ${detection[s].medianRows} | ${detection[s].runs.join(', ')} | ${[...new Set(detection[s].firstBy)].join('; ')} |`).join('\n')}

Sets (examples/models/samples/shifted/): noise = test rows + gaussian noise (sd 3, clipped to 0..16); inverted = 16 - x;
images = 8x8 grey patches of scikit-learn's sample photos scaled to 0..16.
`;
  fs.writeFileSync(path.join(RESULTS, 'drift.md'), md);
  console.log(md);
}

try {
  await main();
} finally {
  closeClient();
  await Promise.all(stops.map((stop) => stop()));
  fs.rmSync(work, { recursive: true, force: true });
}
