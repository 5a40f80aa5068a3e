/**
 * `make bench-server`: measure our inference server against Flask+gunicorn and a bare node:http
 * echo, one server at a time, with wrk at fixed concurrency; write bench/results/server.{json,md,png}.
 * See bench/README.md for the method. Settings come from BENCH_* environment variables.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { batchTotals, meanBatchRows, type BatchTotals } from './batches.js';
import { groupCpuSeconds } from './cpu.js';
import { benchPlan, type Cell, type ServerSpec } from './plan.js';
import { freePort, pinned, runCommand, startProcess, stopProcess, waitReady, type RunningServer } from './processes.js';
import { renderMarkdown, type BenchReport, type BenchSettings, type MachineInfo } from './report.js';
import { combineRounds, summarize, type CellResult } from './summary.js';
import { decodeInferResponse, type DecodedOutput } from './v2response.js';
import { parseWrkOutput, wrkArgs } from './wrk.js';

const ROOT = process.cwd();
const STATE = join(ROOT, '.state', 'bench');
const PAYLOAD_DIR = join(STATE, 'payloads');
const LOG_DIR = join(STATE, 'logs');
const PYTHON = join(ROOT, '.state', 'venv', 'bin', 'python');
const GUNICORN = join(ROOT, '.state', 'venv', 'bin', 'gunicorn');
const SERVER_MAIN = join(ROOT, 'dist', 'server-image', 'src', 'main.js');
const ECHO_MAIN = join(ROOT, 'dist', 'bench', 'server', 'echo.js');
const SCRIPT = join(ROOT, 'bench', 'server', 'v2.lua');
const modelPath = (model: string): string => join(ROOT, 'test', 'fixtures', 'models', `${model}.onnx`);

/** Runner settings beyond the recorded BenchSettings. */
interface Options extends BenchSettings {
  outDir: string;
  /** Server ids to run (all when empty), for trying the harness quickly. */
  only: string[];
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`read ${name}: expected an integer >= 1, got ${JSON.stringify(raw)}`);
  return n;
}

function optionsFrom(env: NodeJS.ProcessEnv): Options {
  const n = availableParallelism();
  return {
    rounds: intFrom(env, 'BENCH_ROUNDS', 3),
    connections: intFrom(env, 'BENCH_CONNECTIONS', 32),
    wrkThreads: intFrom(env, 'BENCH_WRK_THREADS', 1),
    warmupSeconds: intFrom(env, 'BENCH_WARMUP', 3),
    durationSeconds: intFrom(env, 'BENCH_DURATION', 10),
    cpus: env.BENCH_CPUS ?? `0-${n - 1}`,
    modelship: {
      processes: intFrom(env, 'BENCH_MODELSHIP_PROCESSES', n),
      workers: intFrom(env, 'BENCH_MODELSHIP_WORKERS', 1),
      intraOpThreads: 1,
      maxBatchSize: intFrom(env, 'BENCH_MAX_BATCH_SIZE', 32),
      maxLatencyMs: intFrom(env, 'BENCH_MAX_LATENCY_MS', 0),
    },
    flask: { workers: 2, workerClass: 'sync', intraOpThreads: 1 },
    outDir: resolve(ROOT, env.BENCH_OUT ?? 'bench/results'),
    only: (env.BENCH_ONLY ?? '').split(',').filter((s) => s !== ''),
  };
}

const sha256Of = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A started server: its process, base URL, and (ours only) its metrics URL. */
interface Launched {
  server: RunningServer;
  base: string;
  metricsUrl?: string;
}

/** Start one server of the plan on a free loopback port. */
async function launch(spec: ServerSpec, o: Options): Promise<Launched> {
  const port = await freePort();
  let metricsUrl: string | undefined;
  const logPath = join(LOG_DIR, `${spec.id}.log`);
  let command: [string, string[]];
  let env: NodeJS.ProcessEnv = { ...process.env };
  switch (spec.kind) {
    case 'echo':
      command = pinned(o.cpus, process.execPath, [ECHO_MAIN, String(port)]);
      break;
    case 'flask':
      command = pinned(o.cpus, GUNICORN, [
        '--workers',
        String(o.flask.workers),
        '--worker-class',
        o.flask.workerClass,
        '--bind',
        `127.0.0.1:${port}`,
        '--chdir',
        join(ROOT, 'bench', 'server'),
        // gunicorn >= 23 opens a control socket under $HOME by default; a benchmark needs none.
        '--no-control-socket',
        'flask_app:app',
      ]);
      env = { ...env, BENCH_MODEL: modelPath(spec.model as string), BENCH_MODEL_NAME: spec.model };
      break;
    case 'modelship': {
      const model = modelPath(spec.model as string);
      const metricsPort = await freePort();
      metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
      command = pinned(o.cpus, process.execPath, [SERVER_MAIN]);
      env = {
        ...env,
        MODELSHIP_MODEL_URI: `file://${model}`,
        MODELSHIP_SHA256: sha256Of(model),
        MODELSHIP_MODEL_NAME: spec.model,
        MODELSHIP_HOST: '127.0.0.1',
        MODELSHIP_PORT: String(port),
        MODELSHIP_METRICS_PORT: String(metricsPort),
        MODELSHIP_PROCESSES: String(o.modelship.processes),
        MODELSHIP_WORKERS: String(o.modelship.workers),
        MODELSHIP_INTRA_OP_THREADS: String(o.modelship.intraOpThreads),
        MODELSHIP_MAX_BATCH_SIZE: String(spec.batching === false ? 1 : o.modelship.maxBatchSize),
        MODELSHIP_MAX_LATENCY_MS: String(o.modelship.maxLatencyMs),
        MODELSHIP_CACHE_DIR: join(STATE, 'cache'),
        MODELSHIP_TERMINATION_LOG: join(STATE, 'termination-log'),
      };
      break;
    }
  }
  const base = `http://127.0.0.1:${port}`;
  const server = startProcess(spec.id, command[0], command[1], env, logPath);
  return { server, base, metricsUrl };
}

/** The body file and headers for a cell, exactly as v2.lua sends them. */
function requestFor(cell: Cell): { bodyPath: string; headers: Record<string, string> } {
  if (cell.payload === 'json') {
    return { bodyPath: join(PAYLOAD_DIR, `${cell.model}.json`), headers: { 'Content-Type': 'application/json' } };
  }
  const meta = JSON.parse(readFileSync(join(PAYLOAD_DIR, `${cell.model}.meta.json`), 'utf8')) as {
    binaryHeaderLength: number;
  };
  // tritonclient sends no Content-Type with a binary body; neither do we.
  return {
    bodyPath: join(PAYLOAD_DIR, `${cell.model}.bin`),
    headers: { 'Inference-Header-Content-Length': String(meta.binaryHeaderLength) },
  };
}

/** One request before the load: it must answer 200 with a decodable V2 body (echo: just 200). */
async function preflight(cell: Cell, url: string): Promise<DecodedOutput[] | undefined> {
  const { bodyPath, headers } = requestFor(cell);
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: readFileSync(bodyPath),
    signal: AbortSignal.timeout(30_000),
  });
  const body = new Uint8Array(await res.arrayBuffer());
  if (res.status !== 200) {
    throw new Error(
      `preflight ${cell.server} ${cell.model}/${cell.payload}: status ${res.status}: ${new TextDecoder().decode(body.subarray(0, 300))}`,
    );
  }
  if (cell.kind === 'echo') return undefined;
  const headerLength = res.headers.get('inference-header-content-length');
  return decodeInferResponse(body, headerLength === null ? null : Number(headerLength));
}

async function runWrk(cell: Cell, url: string, seconds: number, o: Options): Promise<string> {
  const { bodyPath, headers } = requestFor(cell);
  const env = {
    ...process.env,
    BENCH_BODY: bodyPath,
    BENCH_CONTENT_TYPE: headers['Content-Type'] ?? '',
    BENCH_HEADER_LENGTH: headers['Inference-Header-Content-Length'] ?? '',
  };
  const args = wrkArgs({
    url,
    script: SCRIPT,
    threads: o.wrkThreads,
    connections: o.connections,
    seconds,
    timeoutSeconds: 10,
  });
  const [command, pinnedArgs] = pinned(o.cpus, 'wrk', args);
  return runCommand(command, pinnedArgs, env);
}

/** Preflight, warm up, then measure one cell; failures are recorded in the cell, never thrown. */
async function scrapeBatches(metricsUrl: string): Promise<BatchTotals> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  return batchTotals(await res.text());
}

async function measure(cell: Cell, { base, server, metricsUrl }: Launched, o: Options): Promise<CellResult> {
  const url = `${base}/v2/models/${cell.model}/infer`;
  const name = `${cell.server} ${cell.model}/${cell.payload}`;
  try {
    const outputs = await preflight(cell, url);
    await runWrk(cell, url, o.warmupSeconds, o);
    const loadAverageBefore = loadavg()[0];
    const group = server.child.pid as number;
    const batchesBefore = metricsUrl ? await scrapeBatches(metricsUrl) : undefined;
    const cpuBefore = groupCpuSeconds(group);
    const stdout = await runWrk(cell, url, o.durationSeconds, o);
    const serverCpuSeconds = groupCpuSeconds(group) - cpuBefore;
    const batchRows =
      metricsUrl && batchesBefore ? meanBatchRows(batchesBefore, await scrapeBatches(metricsUrl)) : null;
    writeFileSync(join(LOG_DIR, `${cell.server}-${cell.model}-${cell.payload}.wrk.txt`), stdout);
    const load = parseWrkOutput(stdout);
    console.log(
      `bench: ${name}: ${load.requestsPerSecond.toFixed(0)} req/s, p50 ${load.latencyMs.p50.toFixed(2)} ms, p99 ${load.latencyMs.p99.toFixed(2)} ms, errors ${load.badStatus + load.socketErrors}`,
    );
    return {
      ...cell,
      load,
      outputs,
      loadAverageBefore,
      serverCpuSeconds,
      ...(batchRows !== null ? { meanBatchRows: batchRows } : {}),
    };
  } catch (err) {
    console.log(`bench: ${name}: FAILED: ${(err as Error).message}`);
    return { ...cell, failure: (err as Error).message, loadAverageBefore: loadavg()[0] };
  }
}

async function machineInfo(): Promise<Omit<MachineInfo, 'loadAverageEnd'>> {
  const [python, ortPython] = (
    await runCommand(PYTHON, ['-c', 'import sys, onnxruntime; print(sys.version.split()[0], onnxruntime.__version__)'])
  )
    .trim()
    .split(' ');
  const ortNode = (
    JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  // `wrk -v` prints its version on stdout, then the usage text, and exits 1.
  const wrk = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const wrkVersion = /wrk \S*\d\S*/.exec(`${wrk.stdout}${wrk.stderr}`)?.[0] ?? 'wrk (unknown version)';
  const commit = (await runCommand('git', ['describe', '--always', '--dirty'])).trim();
  const serverChanges = (await runCommand('git', ['status', '--porcelain', '--', 'server-image']))
    .split('\n')
    .filter((l) => l.trim() !== '');
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    python,
    onnxruntimeNode: ortNode,
    onnxruntimePython: ortPython,
    wrk: wrkVersion,
    gitCommit: commit,
    serverImageUncommitted: serverChanges.map((l) => l.slice(3)),
    loadAverageStart: loadavg(),
  };
}

async function main(): Promise<void> {
  const o = optionsFrom(process.env);
  for (const path of [SERVER_MAIN, ECHO_MAIN, PYTHON, GUNICORN, modelPath('tiny'), modelPath('mlp')]) {
    if (!existsSync(path)) throw new Error(`bench: ${path} is missing (make build, make pydeps, test fixtures)`);
  }
  mkdirSync(LOG_DIR, { recursive: true });
  mkdirSync(o.outDir, { recursive: true });
  for (const model of ['tiny', 'mlp']) {
    await runCommand(PYTHON, [join(ROOT, 'bench', 'server', 'payloads.py'), modelPath(model), model, PAYLOAD_DIR]);
  }
  const startedAt = new Date().toISOString();
  const machineStart = await machineInfo();
  const plan = benchPlan().filter(({ spec }) => o.only.length === 0 || o.only.includes(spec.id));
  const measured = new Map<string, CellResult[]>();
  const keyOf = (c: Cell): string => `${c.server} ${c.model} ${c.payload}`;
  const record = (c: CellResult): void => {
    measured.set(keyOf(c), [...(measured.get(keyOf(c)) ?? []), c]);
  };
  for (let round = 1; round <= o.rounds; round++) {
    console.log(`bench: round ${round} of ${o.rounds}`);
    for (const { spec, cells: planned } of plan) {
      const launched = await launch(spec, o);
      const { server, base } = launched;
      try {
        await waitReady(server, `${base}/v2/health/ready`, 180_000);
        for (const cell of planned) record(await measure(cell, launched, o));
      } catch (err) {
        console.log(`bench: ${spec.id}: FAILED: ${(err as Error).message}`);
        for (const cell of planned)
          record({ ...cell, failure: (err as Error).message, loadAverageBefore: loadavg()[0] });
      } finally {
        await stopProcess(server, 15_000);
      }
    }
  }
  const cells = plan.flatMap(({ cells: planned }) => planned.map((c) => combineRounds(measured.get(keyOf(c)) ?? [])));
  const { outDir, only: _only, ...settings } = o;
  const report: BenchReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: { ...machineStart, loadAverageEnd: loadavg() },
    settings,
    cells,
    summary: summarize(cells),
  };
  const jsonPath = join(outDir, 'server.json');
  // Infinity (outputs that differ in shape) is not JSON; it is written as the string "Infinity".
  writeFileSync(jsonPath, JSON.stringify(report, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v), 2) + '\n');
  writeFileSync(join(outDir, 'server.md'), renderMarkdown(report));
  await runCommand(PYTHON, [join(ROOT, 'bench', 'server', 'chart.py'), jsonPath, join(outDir, 'server.png')]);
  console.log(`bench: wrote ${join(outDir, 'server.json')}, server.md, server.png`);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
