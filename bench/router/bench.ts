/**
 * Router benchmark (`make bench-router`): the router against nginx doing the same 10/90 weighted
 * split (upstream weights, keep-alive) to the same two backends, in the same run, measured with
 * the same load generator (wrk); plus rollback latency: from writing new routes to every new
 * request landing on stable, over many trials, with the file source and, when the local control
 * plane is up, the ConfigMap source. Writes bench/results/router.{json,md}.
 *
 * Backends are an nginx serving a fixed V2 response, so they cost little and the proxies are what
 * is measured. Runs alternate (direct, nginx, router, ...) over several rounds so background load
 * hits every contestant alike; medians are reported.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { sha256Of } from '../../server-image/test/helpers/server.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const ROLLBACK_TRIALS = Number(process.env.BENCH_ROLLBACK_TRIALS ?? 200);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5);
/** Requests per target in the interleaved 1-connection latency probe. */
const PROBES = Number(process.env.BENCH_LATENCY_REQUESTS ?? 1000);
const RESULTS = path.resolve('bench/results');
const ENTRY = path.resolve('dist/server-image/src/main.js');
/**
 * The local control plane's admin kubeconfig (`make cluster-up`; MODELSHIP_CLUSTER_DIR moves it, as in test/cluster).
 */
const KUBECONFIG = path.resolve(process.env.MODELSHIP_CLUSTER_DIR ?? '.state/cluster', 'kubeconfig');

/** One wrk run's figures (latencies in µs). */
interface WrkResult {
  /** CPU µs the proxy (router or nginx) spent per request; 0 for direct runs. */
  cpuUsPerRequest?: number;
  requests: number;
  seconds: number;
  rps: number;
  errors: number;
  non2xx: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Rollback latency over trials, in ms. */
interface RollbackResult {
  trials: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Requests that landed on the old revision after the first one on stable (must be 0). */
  stragglers: number;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-bench-router-'));
const children: ChildProcess[] = [];

async function freePort(): Promise<number> {
  const s = http.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function median(xs: number[]): number {
  return quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
}

async function waitHttp(url: string, ok: (status: number) => boolean = (s) => s === 200): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get(url, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
      if (ok(status)) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`bench: ${url} did not come up`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startNginx(name: string, body: string): ChildProcess {
  const dir = path.join(work, name);
  fs.mkdirSync(dir, { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const conf = `${user}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
${body}
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

function startRouter(
  env: Record<string, string>,
): { child: ChildProcess; port: number; metricsPort: number } & { ready: Promise<void> } {
  const port = Number(env.MODELSHIP_PORT);
  const metricsPort = Number(env.MODELSHIP_METRICS_PORT);
  const child = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH,
      MODELSHIP_MODE: 'router',
      MODELSHIP_HOST: '127.0.0.1',
      MODELSHIP_LOG_LEVEL: 'warn',
      MODELSHIP_POD_NAME: 'bench-router',
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return { child, port, metricsPort, ready: waitHttp(`http://127.0.0.1:${port}/v2/health/ready`) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

const WRK_SCRIPT = `
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '__BODY__'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {\\"requests\\":%d,\\"duration\\":%d,\\"errors\\":%d,\\"non2xx\\":%d,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
`;

const TICK_US = 1e6 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

/** CPU time (µs) used so far by a process and its children (nginx's workers), from /proc. */
function cpuMicros(pid: number): number {
  const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  let ticks = 0;
  for (const p of [pid, ...kids]) {
    try {
      const fields = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // exited between listing and reading
    }
  }
  return ticks * TICK_US;
}

function wrk(url: string, lua: string, connections: number, seconds: number): WrkResult {
  const script = path.join(work, 'post.lua');
  fs.writeFileSync(script, lua);
  const out = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url], {
    encoding: 'utf8',
  });
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`bench: wrk printed no result:\n${out}`);
  const r = JSON.parse(line.slice(8)) as {
    requests: number;
    duration: number;
    errors: number;
    non2xx: number;
    p50: number;
    p90: number;
    p99: number;
  };
  const secs = r.duration / 1e6;
  return {
    requests: r.requests,
    seconds: secs,
    rps: r.requests / secs,
    errors: r.errors,
    non2xx: r.non2xx,
    p50: r.p50,
    p90: r.p90,
    p99: r.p99,
  };
}

/** Sequential keep-alive requests until one is served by `revision`; returns its completion time. */
function served(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.headers['x-modelship-revision'])));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

/**
 * Rollback trials: routes start at 100% canary; `write` puts 100% stable; the clock runs from just
 * before the write to the completion of the first request served by stable (so it includes one
 * request's round trip). The next 20 requests must all be on stable too.
 */
async function rollbackTrials(
  routerUrl: string,
  trials: number,
  write: (generation: number, toStable: boolean) => Promise<void>,
): Promise<RollbackResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${routerUrl}/v2/models/m/infer`;
  const samples: number[] = [];
  let stragglers = 0;
  let generation = 1000;
  for (let t = 0; t < trials; t++) {
    await write(++generation, false);
    while ((await served(url, agent)) !== 'canary');
    const t0 = performance.now();
    await write(++generation, true);
    while ((await served(url, agent)) !== 'stable');
    samples.push(performance.now() - t0);
    for (let i = 0; i < 20; i++) if ((await served(url, agent)) !== 'stable') stragglers++;
  }
  agent.destroy();
  const sorted = samples.sort((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    trials,
    p50: r2(quantile(sorted, 0.5)),
    p90: r2(quantile(sorted, 0.9)),
    p99: r2(quantile(sorted, 0.99)),
    max: r2(sorted[sorted.length - 1]),
    stragglers,
  };
}

function routesDoc(generation: number, canaryPort: number, stablePort: number, canaryWeight: number): string {
  return JSON.stringify({
    version: 1,
    generation,
    revisions: [
      { name: 'canary', url: `http://127.0.0.1:${canaryPort}`, weight: canaryWeight },
      { name: 'stable', url: `http://127.0.0.1:${stablePort}`, weight: 100 - canaryWeight },
    ],
  });
}

async function clusterApi(): Promise<{ api: CoreV1Api; reason?: undefined } | { api?: undefined; reason: string }> {
  if (!fs.existsSync(KUBECONFIG))
    return { reason: `no local control plane (${path.relative(process.cwd(), KUBECONFIG)} missing; make cluster-up)` };
  const kc = new KubeConfig();
  kc.loadFromFile(KUBECONFIG);
  const api = kc.makeApiClient(CoreV1Api);
  try {
    await api.readNamespace({ name: 'default' });
    return { api };
  } catch (err) {
    return { reason: `local control plane unreachable: ${(err as Error).message}` };
  }
}

/** The figures of one contestant in one scenario (medians over rounds; latencies in µs). */
interface Summary {
  rps: number;
  /** Proxy CPU µs per request (median over rounds); robust to how much CPU the proxy was given. */
  cpuUsPerRequest?: number;
  loadedP50us: number;
  loadedP99us: number;
  p50us: number;
  p99us: number;
  errors: number;
}

/** One backend setup: how to reach the two backends and what to send them. */
interface Scenario {
  name: string;
  description: string;
  canaryPort: number;
  stablePort: number;
  /** Path and body of the request (wrk sends it as a Lua script). */
  path: string;
  body: string;
}

/** Latency at one connection, per target (µs). */
interface ProbeResult {
  p50: number;
  p99: number;
  errors: number;
}

/** One POST over `agent`; resolves with its latency in µs, or -1 for a failed or non-2xx request. */
function timedPost(url: string, agent: http.Agent, body: string): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve(res.statusCode !== undefined && res.statusCode < 300 ? (performance.now() - t0) * 1000 : -1),
        );
      },
    );
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

/**
 * Added latency at one connection: `n` sequential requests per target, the targets interleaved
 * request by request (in rotating order) so drift in the backends' speed or in background load
 * hits all of them alike; the differences between targets are then the proxies' own latency.
 */
async function latencyProbe<N extends string>(
  targets: Record<N, string>,
  body: string,
  n: number,
): Promise<Record<N, ProbeResult>> {
  const names = Object.keys(targets) as N[];
  const agents = names.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const samples = names.map(() => [] as number[]);
  const errors = names.map(() => 0);
  for (let i = 0; i < n + 20; i++) {
    for (let k = 0; k < names.length; k++) {
      const j = (i + k) % names.length;
      const us = await timedPost(targets[names[j]], agents[j], body);
      if (us < 0) errors[j]++;
      else if (i >= 20) samples[j].push(us); // the first 20 warm connections and code paths
    }
  }
  for (const a of agents) a.destroy();
  return Object.fromEntries(
    names.map((name, j) => {
      const sorted = samples[j].sort((a, b) => a - b);
      return [
        name,
        { p50: Math.round(quantile(sorted, 0.5)), p99: Math.round(quantile(sorted, 0.99)), errors: errors[j] },
      ];
    }),
  ) as Record<N, ProbeResult>;
}

function luaFor(body: string): string {
  return WRK_SCRIPT.replace('__BODY__', () => body.replace(/\\/g, '\\\\').replace(/'/g, "\\'"));
}

/**
 * Runs direct / nginx / router alternately for ROUNDS rounds against one scenario's backends, with
 * a fresh nginx proxy and router on the same 10/90 split. Returns medians, raw runs and the
 * router's own count of where requests went.
 */
async function runScenario(sc: Scenario) {
  const [nginxPort, routerPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const proxy = startNginx(
    `proxy-${sc.name}`,
    `  upstream split { server 127.0.0.1:${sc.canaryPort} weight=10; server 127.0.0.1:${sc.stablePort} weight=90; keepalive 256; }
  server { listen 127.0.0.1:${nginxPort}; location / { proxy_pass http://split; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_request_buffering off; } }`,
  );
  const routesFile = path.join(work, `routes-${sc.name}.json`);
  fs.writeFileSync(routesFile, routesDoc(1, sc.canaryPort, sc.stablePort, 10));
  const router = startRouter({
    MODELSHIP_ROUTES_FILE: routesFile,
    MODELSHIP_PORT: String(routerPort),
    MODELSHIP_METRICS_PORT: String(metricsPort),
  });
  await Promise.all([waitHttp(`http://127.0.0.1:${nginxPort}/v2/health/ready`), router.ready]);
  const targets = {
    direct: `http://127.0.0.1:${sc.stablePort}${sc.path}`,
    nginx: `http://127.0.0.1:${nginxPort}${sc.path}`,
    router: `http://127.0.0.1:${routerPort}${sc.path}`,
  };
  type Name = keyof typeof targets;
  const names = Object.keys(targets) as Name[];
  const throughput: Record<Name, WrkResult[]> = { direct: [], nginx: [], router: [] };
  const lua = luaFor(sc.body);
  // Warm-up: connection pools, and the router's JIT (V8 was still optimising after 2 s at model
  // servers' rates: a quarter of the router's CPU then went to the compiler thread).
  for (const name of names) wrk(targets[name], lua, CONNECTIONS, WARMUP_SECONDS);
  const pids: Partial<Record<Name, number>> = { nginx: proxy.pid, router: router.child.pid };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const pid = pids[name];
      const cpuBefore = pid ? cpuMicros(pid) : 0;
      const run = wrk(targets[name], lua, CONNECTIONS, SECONDS);
      if (pid) run.cpuUsPerRequest = Math.round((cpuMicros(pid) - cpuBefore) / Math.max(1, run.requests));
      throughput[name].push(run);
      console.log(
        `${sc.name} round ${round + 1}/${ROUNDS} ${name}: ${Math.round(run.rps)} req/s at ${CONNECTIONS} conns, ${run.cpuUsPerRequest ?? '-'} µs proxy CPU per request`,
      );
    }
  }
  console.log(`${sc.name}: latency probe, ${PROBES} requests per target at 1 connection, interleaved`);
  const latency = await latencyProbe(targets, sc.body, PROBES);
  const stats = JSON.parse(await getText(`http://127.0.0.1:${metricsPort}/router/stats`)) as {
    revisions: Record<string, { live: { requests: number } }>;
  };
  await stop(router.child);
  await stop(proxy);
  const routed = {
    canary: stats.revisions.canary?.live.requests ?? 0,
    stable: stats.revisions.stable?.live.requests ?? 0,
  };
  const med = (xs: WrkResult[], k: Exclude<keyof WrkResult, 'cpuUsPerRequest'>) => median(xs.map((x) => x[k]));
  const errors = (n: Name) => throughput[n].reduce((a, x) => a + x.errors + x.non2xx, 0) + latency[n].errors;
  const summary = Object.fromEntries(
    names.map((n) => [
      n,
      {
        rps: Math.round(med(throughput[n], 'rps')),
        cpuUsPerRequest: n === 'direct' ? undefined : median(throughput[n].map((x) => x.cpuUsPerRequest ?? 0)),
        loadedP50us: med(throughput[n], 'p50'),
        loadedP99us: med(throughput[n], 'p99'),
        p50us: latency[n].p50,
        p99us: latency[n].p99,
        errors: errors(n),
      },
    ]),
  ) as Record<Name, Summary>;
  // Each round's router/nginx ratio: consecutive runs share the machine's conditions best.
  const roundRatios = throughput.router.map((r, i) => Math.round((r.rps / throughput.nginx[i].rps) * 1000) / 1000);
  return {
    name: sc.name,
    description: sc.description,
    summary,
    routerVsNginxThroughput: Math.round((summary.router.rps / summary.nginx.rps) * 1000) / 1000,
    routerVsNginxByRound: roundRatios,
    routerAddedLatencyUs: {
      p50: summary.router.p50us - summary.direct.p50us,
      p99: summary.router.p99us - summary.direct.p99us,
    },
    nginxAddedLatencyUs: {
      p50: summary.nginx.p50us - summary.direct.p50us,
      p99: summary.nginx.p99us - summary.direct.p99us,
    },
    routerSplit: { ...routed, canaryShare: routed.canary / Math.max(1, routed.canary + routed.stable) },
    runs: { throughput, latency },
  };
}

function getText(url: string): Promise<string> {
  return new Promise((resolve, reject) =>
    http
      .get(url, (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve(s));
      })
      .on('error', reject),
  );
}

/** Starts the image in server mode on a fixture model; resolves when it is ready. */
async function startModelServer(file: string, port: number): Promise<void> {
  const dir = path.resolve('test/fixtures/models');
  const sha = sha256Of(path.join(dir, file));
  const child = spawn(process.execPath, [ENTRY], {
    env: {
      PATH: process.env.PATH,
      MODELSHIP_MODEL_URI: path.join(dir, file),
      MODELSHIP_SHA256: sha,
      MODELSHIP_HOST: '127.0.0.1',
      MODELSHIP_PORT: String(port),
      MODELSHIP_METRICS_PORT: String(await freePort()),
      MODELSHIP_LOG_LEVEL: 'warn',
      MODELSHIP_TERMINATION_LOG: path.join(work, `termination-${port}`),
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  await waitHttp(`http://127.0.0.1:${port}/v2/health/ready`);
}

async function main(): Promise<void> {
  for (const tool of ['nginx', 'wrk']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`]);
    } catch {
      throw new Error(`bench: ${tool} not installed (make bench-router installs it with apt-get)`);
    }
  }
  const [canaryPort, stablePort, mlpCanary, mlpStable] = await Promise.all(Array.from({ length: 4 }, freePort));
  const answer = (name: string) =>
    JSON.stringify({
      model_name: 'm',
      model_version: '1',
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] }],
      backend: name,
    });
  startNginx(
    'backends',
    [
      ['canary', canaryPort],
      ['stable', stablePort],
    ]
      .map(
        ([name, port]) =>
          `  server { listen 127.0.0.1:${port}; default_type application/json; location / { return 200 '${answer(String(name))}'; } }`,
      )
      .join('\n'),
  );
  await waitHttp(`http://127.0.0.1:${stablePort}/`);
  const small = JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 64], data: Array.from({ length: 64 }, (_, i) => i / 64) }],
  });
  const scenarios: Awaited<ReturnType<typeof runScenario>>[] = [];
  scenarios.push(
    await runScenario({
      name: 'static',
      description:
        'backends: nginx returning a fixed V2 response (the proxies are the bottleneck); request: V2 JSON, 64 floats',
      canaryPort,
      stablePort,
      path: '/v2/models/m/infer',
      body: small,
    }),
  );
  if (process.env.BENCH_MODELS !== '0') {
    await Promise.all([startModelServer('mlp.onnx', mlpCanary), startModelServer('mlp.onnx', mlpStable)]);
    const image = JSON.stringify({
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [1, 784],
          data: Array.from({ length: 784 }, (_, i) => ((i * 7919) % 256) / 255),
        },
      ],
    });
    scenarios.push(
      await runScenario({
        name: 'models',
        description:
          'backends: two real model servers (this image, mlp.onnx 784->10, 1 worker each); request: V2 JSON, one 784-float row',
        canaryPort: mlpCanary,
        stablePort: mlpStable,
        path: '/v2/models/mlp/infer',
        body: image,
      }),
    );
  }

  const routesFile = path.join(work, 'routes-rollback.json');
  fs.writeFileSync(routesFile, routesDoc(1, canaryPort, stablePort, 100));
  const [rbPort, rbMetrics] = await Promise.all([freePort(), freePort()]);
  const router = startRouter({
    MODELSHIP_ROUTES_FILE: routesFile,
    MODELSHIP_PORT: String(rbPort),
    MODELSHIP_METRICS_PORT: String(rbMetrics),
  });
  await router.ready;
  console.log(`rollback trials (file source): ${ROLLBACK_TRIALS}`);
  const fileRollback = await rollbackTrials(
    `http://127.0.0.1:${rbPort}`,
    ROLLBACK_TRIALS,
    async (generation, toStable) => {
      const tmp = `${routesFile}.tmp`;
      fs.writeFileSync(tmp, routesDoc(generation, canaryPort, stablePort, toStable ? 0 : 100));
      fs.renameSync(tmp, routesFile);
    },
  );
  await stop(router.child);

  let cmRollback: RollbackResult | { skipped: string };
  const cluster = await clusterApi();
  if (cluster.api) {
    const api = cluster.api;
    const name = 'bench-router-routes';
    const namespace = 'default';
    const body = (generation: number, canaryWeight: number) => ({
      metadata: { name },
      data: { 'routes.json': routesDoc(generation, canaryPort, stablePort, canaryWeight) },
    });
    try {
      await api.deleteNamespacedConfigMap({ name, namespace });
    } catch {
      // absent
    }
    await api.createNamespacedConfigMap({ namespace, body: body(1, 100) });
    const [cmPort, cmMetrics] = await Promise.all([freePort(), freePort()]);
    const cmRouter = startRouter({
      MODELSHIP_ROUTES_CONFIGMAP: name,
      MODELSHIP_NAMESPACE: namespace,
      KUBECONFIG,
      MODELSHIP_PORT: String(cmPort),
      MODELSHIP_METRICS_PORT: String(cmMetrics),
    });
    await cmRouter.ready;
    console.log(`rollback trials (ConfigMap source): ${ROLLBACK_TRIALS}`);
    cmRollback = await rollbackTrials(`http://127.0.0.1:${cmPort}`, ROLLBACK_TRIALS, async (generation, toStable) => {
      await api.replaceNamespacedConfigMap({ name, namespace, body: body(generation, toStable ? 0 : 100) });
    });
    await stop(cmRouter.child);
    await api.deleteNamespacedConfigMap({ name, namespace });
    await api.deleteNamespacedConfigMap({ name: `${name}-stats`, namespace }).catch(() => undefined);
  } else {
    cmRollback = { skipped: cluster.reason };
  }

  const result = {
    time: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      model: os.cpus()[0]?.model,
      loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10),
      node: process.version,
      nginx: spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim(),
    },
    setup: {
      rounds: ROUNDS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      latencyRequestsPerTarget: PROBES,
      split: '10/90',
      proxies:
        'nginx worker_processes 1, upstream weights, keepalive 256, proxy_request_buffering off; router: 1 process (undici pools)',
      load: 'wrk -t1; latency: interleaved sequential requests, 1 connection per target',
    },
    targets: { routerVsNginxThroughput: '>= 0.8', rollbackP99Ms: '< 1000' },
    scenarios,
    rollbackMs: { file: fileRollback, configMap: cmRollback },
  };
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'router.json'), JSON.stringify(result, null, 2) + '\n');
  const cm =
    'skipped' in cmRollback
      ? `skipped: ${cmRollback.skipped}`
      : `p50 ${cmRollback.p50} ms, p99 **${cmRollback.p99} ms**, max ${cmRollback.max} ms, stragglers ${cmRollback.stragglers}`;
  const ms = (us: number, digits = 2) => (us / 1000).toFixed(digits);
  const section = (s: (typeof scenarios)[number]) => `## ${s.name}

${s.description}

| target | req/s (${CONNECTIONS} conns) | proxy CPU per request | p50 / p99 under load | p50 / p99 at 1 conn | errors |
|---|---:|---:|---:|---:|---:|
${(['direct', 'nginx', 'router'] as const).map((n) => `| ${n} | ${s.summary[n].rps} | ${s.summary[n].cpuUsPerRequest === undefined ? '–' : `${s.summary[n].cpuUsPerRequest} µs`} | ${ms(s.summary[n].loadedP50us)} / ${ms(s.summary[n].loadedP99us)} ms | ${ms(s.summary[n].p50us, 3)} / ${ms(s.summary[n].p99us, 3)} ms | ${s.summary[n].errors} |`).join('\n')}

- Router throughput vs nginx: **${(s.routerVsNginxThroughput * 100).toFixed(1)} %** (target ≥ 80 %); round by round: ${s.routerVsNginxByRound.map((r) => `${(r * 100).toFixed(1)} %`).join(', ')}.
- Added latency at 1 connection, p50 / p99: router ${s.routerAddedLatencyUs.p50} / ${s.routerAddedLatencyUs.p99} µs; nginx ${s.nginxAddedLatencyUs.p50} / ${s.nginxAddedLatencyUs.p99} µs.
- Router split over the whole scenario: ${s.routerSplit.canary} canary / ${s.routerSplit.stable} stable (${(s.routerSplit.canaryShare * 100).toFixed(3)} % canary).
`;
  const md = `# Router benchmark

${result.time} · ${result.machine.cpus} CPUs (${result.machine.model}), load average ${result.machine.loadAverage.join(' ')} · Node ${result.machine.node} · ${result.machine.nginx}

"direct" is the stable backend without a proxy (the baseline); "nginx" and "router" do the same
10/90 split to the same two backends, with the same number of proxy processes: nginx runs 1 worker,
the router is 1 Node process. Throughput: wrk -t1 with ${CONNECTIONS} connections, ${ROUNDS} alternating
rounds of ${SECONDS} s after a ${WARMUP_SECONDS} s warm-up per target, medians. nginx: upstream weights, keep-alive pool, and request bodies streamed
(\`proxy_request_buffering off\`: with nginx's default buffering, every request with a body of a few
KB waited ~40 ms for a delayed ACK from the Node backends, which would flatter the router). The
router reads bodies up to 1 MiB whole and sends them with their headers in one write (larger ones
stream), over undici keep-alive pools.

Latency at 1 connection: ${PROBES} sequential requests per target from one Node client, the three
targets interleaved request by request, so drift in the backends' speed or in background load
hits all of them alike; "added latency" is the difference to direct (the client's own cost cancels).

"Proxy CPU per request" is user+system CPU time of the proxy process (nginx: master and worker)
divided by the requests it served, from /proc. It is the figure least disturbed by other load on
the machine: when the CPU is contended, each process gets a similar share of it, so throughput
follows 1 / (CPU per request). The load average above says how contended this run was.

${scenarios.map(section).join('\n')}
## Rollback latency

From writing the routes (100 % canary → 100 % stable) to the completion of the first request
served by stable, ${ROLLBACK_TRIALS} trials, one request at a time (so each figure includes one
request round trip); "stragglers" counts requests on the old revision among the 20 sent after
that (must be 0).

- File source (fs.watch): p50 ${fileRollback.p50} ms, p99 **${fileRollback.p99} ms**, max ${fileRollback.max} ms, stragglers ${fileRollback.stragglers} (target p99 < 1000 ms)
- ConfigMap source (API server watch): ${cm}
`;
  fs.writeFileSync(path.join(RESULTS, 'router.md'), md);
  console.log(md);
}

try {
  await main();
} finally {
  for (const c of children) await stop(c);
  fs.rmSync(work, { recursive: true, force: true });
}
