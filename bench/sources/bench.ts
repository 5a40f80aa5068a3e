/**
 * Model sources benchmark (issue 14): for a ~100 MB model (bench/sources/large_model.py) on the real
 * stores of test/stores/ (MinIO, fake-gcs-server, the distribution registry), started on loopback:
 *
 * 1. Download throughput: our fetch pipeline (downloadVerified with the scheme's real source: sha256
 *    while downloading, temp file, verify, rename) against the store's own client copying the same
 *    object to a file on the same machine: s3 -> `aws s3 cp` and the AWS SDK's GetObject; gs ->
 *    @google-cloud/storage's file.download; oci -> `oras pull`; http -> `curl -o` (the object of a
 *    public MinIO bucket). Every copy runs in a process of its own; rounds alternate ours and the
 *    baselines (the order rotating each round).
 * 2. Cold vs warm start: the real server (dist/server-image/src/main.js, MODELSHIP_PROCESSES=1) as
 *    one "pod" per process, with the node cache agent (MODELSHIP_MODE=cache) running: the first pod
 *    of a model (agent cold), a second pod of it (warm), a pod of another model, the first model
 *    again (a rollback target, warm), and a pod without the agent (direct download). A fresh agent
 *    and node cache per round; the agent's own download counter shows what reached the store.
 *
 * Usage: node dist/bench/sources/bench.js (from the repository root; `make bench-sources`).
 * Env: BENCH_ROUNDS (throughput rounds, default 5), BENCH_START_ROUNDS (start rounds, default 3).
 * Writes bench/results/sources.{json,md,png}; logs in .state/bench/logs/sources/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeGcs, type TestGcs } from '../../test/stores/gcs.js';
import { orasPull, orasPush } from '../../test/stores/oras.js';
import { startRegistry, type RegistryAuth, type TestRegistry } from '../../test/stores/registry.js';
import { startS3, type TestS3 } from '../../test/stores/s3.js';
import type { StoreSettings } from '../../server-image/src/model/remote.js';
import type { CopyJob } from './copy.js';
import {
  pipelineTable,
  SCENARIOS,
  startSummary,
  startTable,
  throughputTable,
  roundsTable,
  type Copier,
  type CopyRun,
  type PodStart,
  type ScenarioId,
  type StartRow,
  type ThroughputRow,
} from './report.js';

const ROOT = process.cwd();
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const START_ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 3);
const PY = path.join(ROOT, '.state/venv/bin/python');
const SERVER_MAIN = path.join(ROOT, 'dist/server-image/src/main.js');
const COPY = path.join(ROOT, 'dist/bench/sources/copy.js');
const LOGS = path.join(ROOT, '.state/bench/logs/sources');
const OUT = path.join(ROOT, 'bench/results');
const WORK = mkdtempSync(path.join(tmpdir(), 'modelship-bench-sources-'));
const REGISTRY_AUTH: RegistryAuth = { username: 'bench', password: 'bench-registry-password' };

/** The two models: `a` is the one measured; `b` is "another model" served in between (same size). */
type ModelId = 'a' | 'b';

interface Model {
  file: string;
  sha256: string;
  bytes: number;
}

/** A source under test: its URIs, the settings our pipeline takes, and the server's environment. */
interface Source {
  id: 'http' | 's3' | 'gs' | 'oci';
  uri(model: ModelId): string;
  settings: StoreSettings;
  /** MODELSHIP_STORAGE_* for a pod (credentials as a mounted Secret's files). */
  env: Record<string, string>;
  baselines: Baseline[];
}

interface Baseline {
  id: string;
  label: string;
  short: string;
  startup: string;
  /** Copies model a's object to `file`. */
  copy(file: string): Promise<CopyRun>;
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Runs a command to its end; its wall time from spawn to exit, and its output. Rejects naming it on failure. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ wallMs: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => reject(new Error(`run ${command}: ${err.message}`)));
    child.once('close', (code) => {
      const wallMs = performance.now() - started;
      if (code === 0) resolve({ wallMs, stdout, stderr });
      else
        reject(
          new Error(`run ${path.basename(command)} ${args.join(' ')}: exit ${code}: ${stderr.trim().slice(-800)}`),
        );
    });
  });
}

/** The last line of text, parsed as JSON. */
const lastJson = <T>(text: string): T => JSON.parse(text.trim().split('\n').at(-1) ?? '') as T;

/** Our pipeline or a Node baseline (copy.ts) in a process of its own. */
async function copyProcess(method: string, job: CopyJob): Promise<CopyRun> {
  const out = await run(process.execPath, [COPY, method], { PATH: process.env.PATH, BENCH_COPY: JSON.stringify(job) });
  const inside = lastJson<{ importMs: number; transferMs: number }>(out.stdout);
  return { wallMs: out.wallMs, transferMs: inside.transferMs, importMs: inside.importMs };
}

async function makeModels(): Promise<Record<ModelId, Model>> {
  const models = {} as Record<ModelId, Model>;
  for (const [id, seed] of [
    ['a', 14],
    ['b', 15],
  ] as const) {
    const file = path.join(WORK, `large-${id}.onnx`);
    await run(PY, [path.join(ROOT, 'bench/sources/large_model.py'), file, '100', String(seed)]);
    models[id] = { file, sha256: await sha256File(file), bytes: statSync(file).size };
  }
  return models;
}

/** A credentials directory as the operator mounts a Secret: one file per key. */
function secretDir(name: string, keys: Record<string, string>): string {
  const dir = path.join(WORK, `secret-${name}`);
  mkdirSync(dir, { mode: 0o700 });
  for (const [key, value] of Object.entries(keys)) writeFileSync(path.join(dir, key), value, { mode: 0o400 });
  return dir;
}

interface Stores {
  s3: TestS3;
  gcs: TestGcs;
  registry: TestRegistry;
}

async function setUpSources(models: Record<ModelId, Model>, stores: Stores): Promise<Source[]> {
  const { s3, gcs, registry } = stores;
  await s3.createBucket('models');
  await s3.createBucket('public', { anonymousRead: true });
  await gcs.createBucket('models');
  for (const id of ['a', 'b'] as const) {
    const name = `large-${id}.onnx`;
    await s3.upload('models', name, models[id].file);
    await s3.upload('public', name, models[id].file);
    await gcs.upload('models', name, models[id].file);
    await orasPush({
      address: registry.address,
      repository: 'models/large',
      tag: id,
      file: models[id].file,
      auth: REGISTRY_AUTH,
    });
  }
  const awsEnv = {
    PATH: process.env.PATH,
    AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.rootCredentials.secretAccessKey,
    AWS_DEFAULT_REGION: s3.region,
    // Nothing of this machine's own AWS set-up is read, and no instance metadata is asked for.
    AWS_CONFIG_FILE: path.join(WORK, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(WORK, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const s3Settings: StoreSettings = {
    endpoint: s3.endpoint,
    region: s3.region,
    pathStyle: true,
    credentials: { s3: s3.rootCredentials },
  };
  const dockerConfig = JSON.stringify({
    auths: {
      [registry.address]: {
        auth: Buffer.from(`${REGISTRY_AUTH.username}:${REGISTRY_AUTH.password}`).toString('base64'),
      },
    },
  });
  const publicUrl = (id: ModelId): string => `${s3.endpoint}/public/large-${id}.onnx`;
  return [
    {
      id: 'http',
      uri: publicUrl,
      settings: { credentials: {} },
      env: {},
      baselines: [
        {
          id: 'curl',
          label: '`curl -o`',
          short: 'curl -o',
          startup: 'curl start (a few ms)',
          copy: async (file) => ({ wallMs: (await run('curl', ['-sS', '--fail', '-o', file, publicUrl('a')])).wallMs }),
        },
      ],
    },
    {
      id: 's3',
      uri: (id) => `s3://models/large-${id}.onnx`,
      settings: s3Settings,
      env: {
        MODELSHIP_STORAGE_ENDPOINT: s3.endpoint,
        MODELSHIP_STORAGE_REGION: s3.region,
        MODELSHIP_STORAGE_PATH_STYLE: 'true',
        MODELSHIP_STORAGE_CREDENTIALS_DIR: secretDir('s3', {
          AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.rootCredentials.secretAccessKey,
        }),
      },
      baselines: [
        {
          id: 'aws-cli',
          label: '`aws s3 cp` (awscli 1.46, 10 parallel ranged GETs of 8 MiB)',
          short: 'aws s3 cp',
          startup: "Python's start and awscli's imports (transfer: the command alone, its session set-up included)",
          copy: async (file) => {
            const out = await run(
              PY,
              [
                path.join(ROOT, 'bench/sources/awscp.py'),
                '--endpoint-url',
                s3.endpoint,
                's3',
                'cp',
                's3://models/large-a.onnx',
                file,
                '--only-show-errors',
              ],
              awsEnv,
            );
            const inside = lastJson<{ importMs: number; commandMs: number }>(out.stderr);
            return { wallMs: out.wallMs, transferMs: inside.commandMs, importMs: inside.importMs };
          },
        },
        {
          id: 's3-sdk',
          label: 'AWS SDK GetObject → file (SDK defaults)',
          short: 'SDK GetObject',
          startup: "Node's start and the SDK's import",
          copy: (file) =>
            copyProcess('s3-sdk', { uri: 's3://models/large-a.onnx', dest: file, sha256: '', settings: s3Settings }),
        },
      ],
    },
    {
      id: 'gs',
      uri: (id) => `gs://models/large-${id}.onnx`,
      settings: { endpoint: gcs.endpoint, credentials: {} },
      env: { MODELSHIP_STORAGE_ENDPOINT: gcs.endpoint },
      baselines: [
        {
          id: 'gcs-download',
          label: '@google-cloud/storage `file.download({destination})` (defaults: its CRC32C/MD5 check on)',
          short: 'file.download',
          startup: "Node's start and the library's import",
          copy: (file) =>
            copyProcess('gcs', {
              uri: 'gs://models/large-a.onnx',
              dest: file,
              sha256: '',
              settings: { endpoint: gcs.endpoint, credentials: {} },
            }),
        },
      ],
    },
    {
      id: 'oci',
      uri: (id) => `oci://${registry.address}/models/large:${id}`,
      settings: { plainHttp: true, credentials: { ociDockerConfigJson: dockerConfig } },
      env: {
        MODELSHIP_STORAGE_PLAIN_HTTP: 'true',
        MODELSHIP_STORAGE_CREDENTIALS_DIR: secretDir('oci', { '.dockerconfigjson': dockerConfig }),
      },
      baselines: [
        {
          id: 'oras',
          label: '`oras pull` (oras 1.3.6; checks the layer digest)',
          short: 'oras pull',
          startup: 'oras start (a Go binary: a few ms) and its own auth round trips',
          copy: async (file) => {
            const started = performance.now();
            const dir = `${file}.d`;
            await orasPull({ reference: `${registry.address}/models/large:a`, outputDir: dir, auth: REGISTRY_AUTH });
            return { wallMs: performance.now() - started };
          },
        },
      ],
    },
  ];
}

/** Kernel clock ticks a second (USER_HZ: 100 on every Linux the project runs on). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, ms) of this process's children that have exited and been waited for
 * (cutime + cstime in /proc/self/stat): read around one copy, it is that copy's whole CPU cost,
 * whatever the command (Node, Python, Go, C) and its threads. Far less moved by other work on the
 * machine than elapsed time.
 */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, cutime 16, cstime 17.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND;
}

/** Rotates a list by n (round n starts with its n-th entry). */
const rotate = <T>(items: readonly T[], n: number): T[] => items.map((_, i) => items[(i + n) % items.length]);

async function throughput(sources: Source[], model: Model): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = sources.map((s) => ({
    source: s.id,
    bytes: model.bytes,
    ours: {
      id: 'ours',
      label: 'ours (downloadVerified)',
      short: 'ours',
      startup: "Node's start and the source's imports",
      runs: [],
    },
    baselines: s.baselines.map((b) => ({ id: b.id, label: b.label, short: b.short, startup: b.startup, runs: [] })),
    readOnly: {
      id: 'read',
      label: 'our source, stream read and discarded',
      short: 'read only',
      startup: "Node's start and the source's imports",
      runs: [],
    },
  }));
  const dl = path.join(WORK, 'dl');
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, source] of sources.entries()) {
      const row = rows[i];
      const copiers: { copier: Copier; copy(target: string): Promise<CopyRun> }[] = [
        {
          copier: row.ours,
          copy: (cacheDir) =>
            copyProcess('ours', {
              uri: source.uri('a'),
              dest: cacheDir,
              sha256: model.sha256,
              settings: source.settings,
            }),
        },
        ...source.baselines.map((b, j) => ({ copier: row.baselines[j], copy: (file: string) => b.copy(file) })),
        {
          copier: row.readOnly,
          copy: () => copyProcess('read', { uri: source.uri('a'), dest: '', sha256: '', settings: source.settings }),
        },
      ];
      for (const { copier, copy } of rotate(copiers, round)) {
        rmSync(dl, { recursive: true, force: true });
        mkdirSync(dl);
        const target = path.join(dl, copier.id === 'ours' ? 'cache' : 'model.onnx');
        const cpuBefore = childrenCpuMs();
        const result = { ...(await copy(target)) };
        result.cpuMs = childrenCpuMs() - cpuBefore;
        // The first round proves every copier wrote the very model (ours verifies itself every time).
        if (round === 0 && copier.id !== 'ours' && copier.id !== 'read')
          await checkCopy(source.id, copier.id, dl, model);
        copier.runs.push(result);
        process.stdout.write(
          `throughput ${source.id} ${copier.id} round ${round + 1}: wall ${Math.round(result.wallMs)} ms, transfer ${Math.round(result.transferMs ?? result.wallMs)} ms, CPU ${result.cpuMs} ms\n`,
        );
      }
    }
  }
  rmSync(dl, { recursive: true, force: true });
  return rows;
}

/** The copied file under dir (oras writes it under its title) has the model's sha256. */
async function checkCopy(source: string, copier: string, dir: string, model: Model): Promise<void> {
  const file =
    copier === 'oras' ? path.join(dir, 'model.onnx.d', path.basename(model.file)) : path.join(dir, 'model.onnx');
  const sha256 = await sha256File(file);
  if (sha256 !== model.sha256) throw new Error(`${source} ${copier}: copied ${file} has sha256 ${sha256}`);
}

/** A running server or agent process: its JSON log lines so far. */
interface Proc {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  exited: Promise<void>;
  gone: boolean;
}

const running = new Set<Proc>();

/** Spawns dist/server-image/src/main.js (its own process group) with env, logs to logName. */
function spawnMain(env: Record<string, string>, logName: string): Proc {
  const log = createWriteStream(path.join(LOGS, logName));
  const child = spawn(process.execPath, [SERVER_MAIN], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { child, logs: [], exited: Promise.resolve(), gone: false };
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    log.write(chunk);
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        proc.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        proc.logs.push({ unparsed: line });
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  proc.exited = new Promise((resolve) =>
    child.once('close', () => {
      proc.gone = true;
      running.delete(proc);
      log.end();
      resolve();
    }),
  );
  running.add(proc);
  return proc;
}

/** Polls check every 20 ms until it returns a value; fails naming what after timeoutMs or when proc exits. */
async function until<T>(
  what: string,
  proc: Proc,
  check: () => Promise<T | undefined>,
  timeoutMs = 180_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.gone) throw new Error(`${what}: the process exited (${JSON.stringify(proc.logs.slice(-3))})`);
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const logLine = (proc: Proc, msg: string): Record<string, unknown> | undefined => proc.logs.find((l) => l.msg === msg);

/** SIGTERM the process group, SIGKILL after 10 s. */
async function stop(proc: Proc): Promise<void> {
  if (proc.gone || proc.child.pid === undefined) return;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-(proc.child.pid as number), s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  if (!(await Promise.race([proc.exited.then(() => true), sleep(10_000).then(() => false)]))) {
    signal('SIGKILL');
    await proc.exited;
  }
}

/**
 * GET url on a connection of its own, closed after the answer: a kept-alive idle connection would
 * hold the server's shutdown for its idle grace (3 s), for nothing but this benchmark's polls.
 */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { connection: 'close' }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: no answer in 5 s`)));
    req.once('error', reject);
  });
}

/** The value of a metric (the sum of its series) in a Prometheus text page. */
async function metric(metricsUrl: string, name: string): Promise<number> {
  const text = (await get(`${metricsUrl}/metrics`)).body;
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

interface Agent {
  proc: Proc;
  url: string;
  metricsUrl: string;
}

async function startAgent(name: string): Promise<Agent> {
  const proc = spawnMain(
    {
      PATH: process.env.PATH ?? '',
      MODELSHIP_MODE: 'cache',
      MODELSHIP_HOST: '127.0.0.1',
      MODELSHIP_PORT: '0',
      MODELSHIP_METRICS_PORT: '0',
      MODELSHIP_CACHE_DIR: mkdtempSync(path.join(WORK, 'node-cache-')),
    },
    `agent-${name}.log`,
  );
  const listening = await until('the node cache agent to listen', proc, async () => logLine(proc, 'listening'));
  return {
    proc,
    url: `http://127.0.0.1:${String(listening.port)}`,
    metricsUrl: `http://127.0.0.1:${String(listening.metricsPort)}`,
  };
}

/** Starts a "pod" of model on source (through agent when given) and waits until it is ready. */
async function startPod(
  source: Source,
  model: Model,
  modelId: ModelId,
  agent: Agent | undefined,
  name: string,
): Promise<{ proc: Proc; start: PodStart }> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    MODELSHIP_MODEL_URI: source.uri(modelId),
    MODELSHIP_SHA256: model.sha256,
    MODELSHIP_MODEL_NAME: 'large',
    MODELSHIP_HOST: '127.0.0.1',
    MODELSHIP_PORT: '0',
    MODELSHIP_METRICS_PORT: '0',
    MODELSHIP_PROCESSES: '1',
    MODELSHIP_WORKERS: '1',
    // Each pod has its own cache (an emptyDir): nothing of an earlier pod's download is reused.
    MODELSHIP_CACHE_DIR: mkdtempSync(path.join(WORK, 'pod-cache-')),
    MODELSHIP_TERMINATION_LOG: '/dev/null',
    ...source.env,
    ...(agent === undefined ? {} : { MODELSHIP_NODE_CACHE_URL: agent.url }),
  };
  const started = performance.now();
  const proc = spawnMain(env, `pod-${name}.log`);
  const listening = await until(`pod ${name} to listen`, proc, async () => logLine(proc, 'listening'));
  const url = `http://127.0.0.1:${String(listening.port)}`;
  await until(`pod ${name} to be ready`, proc, async () =>
    (await get(`${url}/v2/health/ready`)).status === 200 ? true : undefined,
  );
  const readyMs = performance.now() - started;
  const fetched = logLine(proc, 'model fetched');
  const viaAgent = logLine(proc, 'fetching the model through the node cache');
  const loadSeconds = await metric(`http://127.0.0.1:${String(listening.metricsPort)}`, 'modelship_model_load_seconds');
  return {
    proc,
    start: {
      readyMs,
      ...(typeof fetched?.seconds === 'number' ? { fetchMs: fetched.seconds * 1000 } : {}),
      loadMs: loadSeconds * 1000,
      path: agent === undefined ? 'direct' : String(viaAgent?.cache ?? 'direct (agent not used)'),
      ...(agent === undefined
        ? {}
        : { agentDownloads: await metric(agent.metricsUrl, 'modelship_cache_downloads_total') }),
    },
  };
}

/** One round of the start scenarios of a source, on a fresh node cache. */
async function startRound(
  source: Source,
  models: Record<ModelId, Model>,
  round: number,
): Promise<Record<ScenarioId, PodStart>> {
  const tag = `${source.id}-${round + 1}`;
  const agent = await startAgent(tag);
  try {
    const first = await startPod(source, models.a, 'a', agent, `${tag}-cold`);
    const second = await startPod(source, models.a, 'a', agent, `${tag}-warm`);
    await Promise.all([stop(first.proc), stop(second.proc)]);
    const other = await startPod(source, models.b, 'b', agent, `${tag}-other`);
    await stop(other.proc);
    const rollback = await startPod(source, models.a, 'a', agent, `${tag}-rollback`);
    await stop(rollback.proc);
    const direct = await startPod(source, models.a, 'a', undefined, `${tag}-direct`);
    await stop(direct.proc);
    const starts = {
      cold: first.start,
      warm: second.start,
      other: other.start,
      rollback: rollback.start,
      direct: direct.start,
    };
    for (const s of SCENARIOS) {
      const p = starts[s.id];
      process.stdout.write(
        `start ${source.id} round ${round + 1} ${s.id}: ready ${Math.round(p.readyMs)} ms (fetch ${Math.round(p.fetchMs ?? NaN)}, load ${Math.round(p.loadMs ?? NaN)}; ${p.path}; agent downloads ${p.agentDownloads ?? '-'})\n`,
      );
    }
    return starts;
  } finally {
    await stop(agent.proc);
  }
}

async function main(): Promise<void> {
  mkdirSync(LOGS, { recursive: true });
  const loadAtStart = loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
  const at = new Date().toISOString();
  const began = performance.now();
  let stores: Partial<Stores> = {};
  try {
    const models = await makeModels();
    process.stdout.write(`models: ${models.a.bytes} bytes (a: ${models.a.sha256}, b: ${models.b.sha256})\n`);
    const [s3, gcs, registry] = await Promise.all([startS3(), startFakeGcs(), startRegistry({ auth: REGISTRY_AUTH })]);
    stores = { s3, gcs, registry };
    const sources = await setUpSources(models, { s3, gcs, registry });
    const phases: Record<string, number> = { setup: (performance.now() - began) / 1000 };
    let mark = performance.now();
    const rows = await throughput(sources, models.a);
    phases.throughput = (performance.now() - mark) / 1000;
    mark = performance.now();
    const starts: StartRow[] = sources.map((s) => ({ source: s.id, rounds: [] }));
    for (let round = 0; round < START_ROUNDS; round++) {
      for (const [i, source] of sources.entries()) starts[i].rounds.push(await startRound(source, models, round));
    }
    phases.starts = (performance.now() - mark) / 1000;
    const loadAtEnd = loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ');
    await report({ at, loadAtStart, loadAtEnd, models, rows, starts, phases });
  } finally {
    await Promise.all([...running].map(stop));
    await Promise.all([stores.s3?.stop(), stores.gcs?.stop(), stores.registry?.stop()]);
    rmSync(WORK, { recursive: true, force: true });
  }
}

interface Results {
  at: string;
  loadAtStart: string;
  loadAtEnd: string;
  models: Record<ModelId, Model>;
  rows: ThroughputRow[];
  starts: StartRow[];
  /** Seconds of each phase: setup (models, stores, uploads), throughput, starts. */
  phases: Record<string, number>;
}

async function report(r: Results): Promise<void> {
  const commit = (await run('git', ['rev-parse', '--short', 'HEAD'])).stdout.trim();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
  const size = `${(r.models.a.bytes / 1e6).toFixed(1)} MB`;
  mkdirSync(OUT, { recursive: true });
  const json = path.join(OUT, 'sources.json');
  writeFileSync(
    json,
    JSON.stringify(
      {
        at: r.at,
        commit,
        machine,
        loadAverageAtStart: r.loadAtStart,
        loadAverageAtEnd: r.loadAtEnd,
        phases: r.phases,
        rounds: ROUNDS,
        startRounds: START_ROUNDS,
        model: { bytes: r.models.a.bytes, sha256: r.models.a.sha256, other: r.models.b.sha256 },
        throughput: r.rows,
        starts: r.starts,
      },
      null,
      2,
    ) + '\n',
  );
  const png = path.join(OUT, 'sources.png');
  await run(PY, [path.join(ROOT, 'bench/sources/chart.py'), json, png]);
  writeFileSync(
    path.join(OUT, 'sources.md'),
    `# Model sources: download throughput and cold vs warm start (${r.at}, commit ${commit})

Machine: ${machine}; load average (1/5/15 min) at start ${r.loadAtStart}, at end ${r.loadAtEnd}; the whole run
took ${Object.entries(r.phases)
      .map(([phase, seconds]) => `${Math.round(seconds)} s (${phase})`)
      .join(' + ')}. Model: \`bench/sources/large_model.py\` (${size}, ${r.models.a.bytes} bytes, a real
ONNX MatMul model). Stores: test/stores/ on 127.0.0.1 (MinIO, fake-gcs-server, the distribution registry with
htpasswd auth, objects pushed by oras); http is a public MinIO bucket's object URL. MB = 10^6 bytes.

## Download throughput (median of ${ROUNDS} rounds)

Every copy is a process of its own writing to the same disk; each round runs ours and the baselines of a
source one after the other, the order rotating every round. **Ours** is the server's fetch pipeline
(\`downloadVerified\` with the scheme's real source; http and oci blobs read by \`http1.ts\` into 4 MiB slabs):
sha256 computed while downloading (on a worker thread) while the same pieces are written to a temp file in a
cache dir (from libuv's threadpool), verified, renamed. curl writes the file and hashes nothing; oras checks
the layer digest, as ours does; on these 2 cores the store takes one, so the hash ours computes (about 80 ms
of CPU per 100 MB) competes with the copy itself. **Transfer** is the copy alone: for ours and the Node
baselines the time inside the process with the client library already imported; for \`aws s3 cp\` the CLI's
command from dispatch to end (\`bench/sources/awscp.py\` runs awscli's own entry point, timed inside); for
\`oras pull\` and \`curl\` (native binaries) the wall time. **Wall** is process spawn to exit: it includes
Node's start (~50 ms) for ours and the SDK baselines, and **Python's start and awscli's imports** for
\`aws s3 cp\`. Ratios are ours / the baseline in throughput (> 1: ours is faster); the issue's goal (≥ 0.9×)
is judged on transfer.

${throughputTable(r.rows)}

Ours against its own source read alone (the same client and stream, bytes counted and dropped: no
hash, no disk), median transfer ms: what the pipeline's hashing, writing, verifying and renaming add to
the client's own reading.

${pipelineTable(r.rows)}

Every round (ms):

${roundsTable(r.rows)}

## Cold vs warm start, one node (median of ${START_ROUNDS} rounds)

Each "pod" is the real server (\`dist/server-image/src/main.js\`, \`MODELSHIP_PROCESSES=1\`, one inference
thread, its own empty cache dir as an emptyDir would be), with the node cache agent (\`MODELSHIP_MODE=cache\`,
a fresh cache dir every round) at \`MODELSHIP_NODE_CACHE_URL\`. In order on one node: the first pod of
model A (the agent downloads it), a second pod of A while the first runs, a pod of model B (another
${size} model) after both stopped, a pod of A again after B (a rollback target), and a pod of A with no
agent (direct download). **Ready** is process spawn to the first 200 of \`/v2/health/ready\` (polled every
20 ms). **Fetch** is the server's \`model fetched\` log line (download or copy from the agent, sha256,
verify, rename); **session load + warm-up** is \`modelship_model_load_seconds\` minus the fetch; the rest is
Node's start, imports and the poll. **Path** is the agent's answer the pod logged (\`miss\`: it downloaded
for this pod; \`hit\`: from the node's disk, after a metadata request to the store with the pod's
credentials). **Agent downloads** is its \`modelship_cache_downloads_total\` after that pod was ready: a warm
pod leaves it unchanged, so nothing was downloaded again.

${startTable(r.starts)}

${startSummary(r.starts)}

These loopback numbers isolate the fetch path: the store is on the same machine, so the network costs
next to nothing. Apply → Ready on a real node (the kubelet, image, probes) is measured separately.

![chart](sources.png)

Reproduce: \`make bench-sources\` (BENCH_ROUNDS, BENCH_START_ROUNDS to change the rounds; logs in
\`.state/bench/logs/sources/\`).
`,
  );
  process.stdout.write(`wrote ${path.join(OUT, 'sources.md')}\n`);
}

await main();
