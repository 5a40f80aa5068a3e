/**
 * Memory at the response size limit: the peak RSS of one serving process (MODELSHIP_PROCESSES=1,
 * its inference thread included) answering one large request on an identity model
 * (test/fixtures/models/echo_fp32.onnx, [rows, 2] FP32 in and out), at the limit and just past
 * it, and for the issue's case: a 31 MiB binary request asking for a JSON answer.
 *
 * Baseline, in the same run: the same server with MODELSHIP_MAX_RESPONSE_SIZE=1gb, which no case
 * reaches, so it behaves as the server did before the limit (every answer built). Limited: the
 * default (32 MiB). Each case runs on a freshly started server, and its peak is the kernel's
 * high-water mark (VmHWM in /proc/<pid>/status) after the one request, so no sampling can miss it.
 * Times are shown for information only.
 *
 * Usage: node dist/bench/limits/bench.js   (env: BENCH_ROUNDS, default 3: the median peak is shown)
 * Writes bench/results/limits.json and bench/results/limits.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { freePort, startProcess, stopProcess, waitReady } from '../server/processes.js';

const ROOT = process.cwd();
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LIMIT = 32 * 1024 ** 2;
const MODEL = path.join(ROOT, 'test/fixtures/models/echo_fp32.onnx');
const SERVER_MAIN = path.join(ROOT, 'dist/server-image/src/main.js');
const LOGS = path.join(ROOT, '.state/bench/logs');
const MiB = 1024 ** 2;

/** The float every binary request carries (bytes 0x3d): 0.04620097950100899 in JSON, 19 characters. */
const BINARY_VALUE = new Float32Array(Buffer.alloc(4, 0x3d).buffer)[0];
/** The number every V1 instance carries; echoed as float32 it reads 0.10000000149011612, 19 characters. */
const V1_VALUE = 0.1;

/** Rows of [v, v] whose output JSON data, "[v,v,...]", is at most `limit` bytes: the most that fit. */
function rowsAtLimit(value: number, limit: number): number {
  const element = String(Math.fround(value)).length + 1;
  return Math.floor((limit - 1) / (2 * element));
}

interface Case {
  id: string;
  what: string;
  rows: number;
  protocol: 'v1' | 'v2';
  binaryOutput: boolean;
}

const atV2 = rowsAtLimit(BINARY_VALUE, LIMIT);
const atV1 = rowsAtLimit(V1_VALUE, LIMIT);
const ISSUE_ROWS = 4_000_000;
const CASES: Case[] = [
  {
    id: 'v2-json-at',
    what: 'V2 binary request, JSON answer of exactly the limit or just under',
    rows: atV2,
    protocol: 'v2',
    binaryOutput: false,
  },
  {
    id: 'v2-json-past',
    what: 'V2 binary request, JSON answer one row past the limit',
    rows: atV2 + 1,
    protocol: 'v2',
    binaryOutput: false,
  },
  {
    id: 'v2-json-issue',
    what: "V2 30.5 MiB binary request, JSON answer (the issue's case)",
    rows: ISSUE_ROWS,
    protocol: 'v2',
    binaryOutput: false,
  },
  {
    id: 'v2-binary-issue',
    what: 'V2 30.5 MiB binary request, binary answer',
    rows: ISSUE_ROWS,
    protocol: 'v2',
    binaryOutput: true,
  },
  {
    id: 'v1-at',
    what: 'V1 JSON instances, answer of exactly the limit or just under',
    rows: atV1,
    protocol: 'v1',
    binaryOutput: false,
  },
  {
    id: 'v1-past',
    what: 'V1 JSON instances, one row past the limit',
    rows: atV1 + 1,
    protocol: 'v1',
    binaryOutput: false,
  },
];

const CONFIGS = [
  { id: 'baseline', env: { MODELSHIP_MAX_RESPONSE_SIZE: '1gb' } },
  { id: 'limited', env: {} },
] as const;

/** The request body and headers for a case. */
function request(c: Case): { body: Buffer; headers: Record<string, string>; url: string } {
  if (c.protocol === 'v1') {
    const row = `[${V1_VALUE},${V1_VALUE}]`;
    return {
      url: '/v1/models/echo:predict',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(`{"instances":[${Array(c.rows).fill(row).join(',')}]}`),
    };
  }
  const data = Buffer.alloc(c.rows * 2 * 4, 0x3d);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [c.rows, 2], parameters: { binary_data_size: data.length } }],
      parameters: { binary_data_output: c.binaryOutput },
    }),
  );
  return {
    url: '/v2/models/echo/infer',
    headers: { 'inference-header-content-length': String(head.length) },
    body: Buffer.concat([head, data]),
  };
}

function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Measurement {
  status: number;
  answerBytes: number;
  idleRss: number;
  peakRss: number;
  ms: number;
}

/** The model's digest as its folder's SHA256SUMS records it. */
function modelSha256(): string {
  const sums = readFileSync(path.join(path.dirname(MODEL), 'SHA256SUMS'), 'utf8');
  const line = sums.split('\n').find((l) => l.trim().endsWith(path.basename(MODEL)));
  if (line === undefined) throw new Error(`no SHA256SUMS entry for ${MODEL}`);
  return line.split(/\s+/)[0];
}

async function measure(c: Case, config: (typeof CONFIGS)[number]): Promise<Measurement> {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const env = {
    PATH: process.env.PATH,
    MODELSHIP_MODEL_URI: MODEL,
    MODELSHIP_SHA256: modelSha256(),
    MODELSHIP_MODEL_NAME: 'echo',
    MODELSHIP_HOST: '127.0.0.1',
    MODELSHIP_PORT: String(port),
    MODELSHIP_METRICS_PORT: String(metricsPort),
    MODELSHIP_PROCESSES: '1',
    MODELSHIP_WORKERS: '1',
    MODELSHIP_CACHE_DIR: mkdtempSync(path.join(tmpdir(), 'modelship-bench-limits-')),
    MODELSHIP_TERMINATION_LOG: '/dev/null',
    ...config.env,
  };
  const url = `http://127.0.0.1:${port}`;
  const server = startProcess(
    `${c.id}-${config.id}`,
    process.execPath,
    [SERVER_MAIN],
    env,
    path.join(LOGS, `limits-${c.id}-${config.id}.log`),
  );
  try {
    await waitReady(server, `${url}/v2/health/ready`, 120_000);
    const pid = server.child.pid as number;
    const { body, headers, url: route } = request(c);
    const idle = memory(pid);
    const start = performance.now();
    const res = await fetch(url + route, { method: 'POST', headers, body });
    const answer = Buffer.from(await res.arrayBuffer());
    const ms = performance.now() - start;
    return { status: res.status, answerBytes: answer.length, idleRss: idle.rss, peakRss: memory(pid).hwm, ms };
  } finally {
    await stopProcess(server, 10_000);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

/** One result row: every round's measurement per config, and the median round by peak RSS. */
interface Row {
  case: Case;
  requestBytes: number;
  rounds: Record<string, Measurement[]>;
  median: Record<string, Measurement>;
}

/** The markdown table of the results, the baseline beside the limit, with ratios. */
function table(rows: readonly Row[]): string {
  const lines = [
    '| case | rows | request MiB | baseline: status, answer MiB | baseline peak RSS MiB | limited: status, answer MiB | limited peak RSS MiB | peak RSS limited / baseline | growth over idle, limited / baseline | ms baseline / limited |',
    '|---|---:|---:|---|---:|---|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const b = r.median.baseline;
    const l = r.median.limited;
    const growth = (m: Measurement): number => m.peakRss - m.idleRss;
    lines.push(
      `| ${r.case.what} | ${r.case.rows.toLocaleString('en-US')} | ${mib(r.requestBytes)} | ${b.status}, ${mib(b.answerBytes)} | ${mib(b.peakRss)} | ${l.status}, ${mib(l.answerBytes)} | ${mib(l.peakRss)} | ${(l.peakRss / b.peakRss).toFixed(2)} | ${(growth(l) / growth(b)).toFixed(2)} | ${Math.round(b.ms)} / ${Math.round(l.ms)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  mkdirSync(LOGS, { recursive: true });
  const load = loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
  const rows: Row[] = [];
  for (const c of CASES) {
    const rounds: Record<string, Measurement[]> = { baseline: [], limited: [] };
    // Rounds alternate the configs, so a burst of other work on the machine does not land on one only.
    for (let i = 0; i < ROUNDS; i++) {
      for (const config of CONFIGS) {
        const m = await measure(c, config);
        rounds[config.id].push(m);
        process.stdout.write(
          `${c.id} ${config.id} round ${i + 1}: ${m.status}, answer ${mib(m.answerBytes)} MiB, peak RSS ${mib(m.peakRss)} MiB, ${Math.round(m.ms)} ms\n`,
        );
      }
    }
    const pick = (ms: Measurement[]): Measurement =>
      ms.find((m) => m.peakRss === median(ms.map((x) => x.peakRss))) as Measurement;
    rows.push({
      case: c,
      requestBytes: request(c).body.length,
      rounds,
      median: { baseline: pick(rounds.baseline), limited: pick(rounds.limited) },
    });
  }
  const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
  const at = new Date().toISOString();
  const dir = path.join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'limits.json'),
    JSON.stringify({ at, commit, machine, loadAverageAtStart: load, limitBytes: LIMIT, rows }, null, 2) + '\n',
  );
  writeFileSync(
    path.join(dir, 'limits.md'),
    `# Memory at the response size limit (${at}, commit ${commit})

Machine: ${machine}; load average (1/5/15 min) at start ${load}, at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')}.

One serving process (\`MODELSHIP_PROCESSES=1\`, one inference thread) on \`test/fixtures/models/echo_fp32.onnx\`
(an identity model, [rows, 2] FP32), freshly started for every request. **Peak RSS** is the process's
high-water mark (VmHWM) after that one request; **growth over idle** subtracts its RSS just before it.
**Baseline**: \`MODELSHIP_MAX_RESPONSE_SIZE=1gb\`, which no case reaches: every answer is built, as before
the limit existed. **Limited**: the default, ${LIMIT} bytes (32 MiB) of output data. Median of ${ROUNDS} rounds
by peak RSS (every round in limits.json). Times are one request each, for information.

${table(rows)}

Reproduce: \`make bench-limits\` (BENCH_ROUNDS to change the rounds).
`,
  );
  process.stdout.write(`wrote ${path.join(dir, 'limits.md')}\n`);
}

await main();
