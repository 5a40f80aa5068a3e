/**
 * Drift detection on real processes: model servers on the digits example serving its reference
 * profile (verified by digest), and a router comparing the live inputs and predictions of the
 * revision with it. Test-set rows raise no drift; inverted images do, in the stats document and in
 * the metrics. A server refuses a profile whose digest is wrong, as it refuses such a model.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { sha256Of } from '../helpers/server.js';
import {
  ENTRY,
  closeClient,
  load,
  request,
  routesFileWith,
  startModelServer,
  startReadyRouter,
  tempDir,
  type ModelServer,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
const EXAMPLES = path.resolve('examples/models');
const MODEL = path.join(EXAMPLES, 'digits.onnx');
const PROFILE = path.join(EXAMPLES, 'digits.profile.json');
const WINDOW = 300;
const THRESHOLD = 0.2;

/** The env of a digits server with its profile (the harness's fixture model replaced by digits). */
const digitsEnv = (profileSha256 = sha256Of(PROFILE)): Record<string, string> => ({
  MODELSHIP_MODEL_URI: MODEL,
  MODELSHIP_SHA256: sha256Of(MODEL),
  MODELSHIP_PROFILE_URI: PROFILE,
  MODELSHIP_PROFILE_SHA256: profileSha256,
  MODELSHIP_CACHE_DIR: path.join(tempDir(), 'cache'),
});

/** V2 request bodies, one row each. */
const bodies = (file: string): string[] =>
  fs
    .readFileSync(path.join(EXAMPLES, 'samples', file), 'utf8')
    .trim()
    .split('\n');

describe('a model server with a drift profile', () => {
  it(
    'serves the verified profile, and 404 for a model it does not serve',
    async () => {
      const server = await startModelServer('mlp.onnx', digitsEnv());
      try {
        const reply = await request(`${server.url}/modelship/v1/models/digits/profile`);
        expect(reply.status).toBe(200);
        expect(reply.json()).toEqual(JSON.parse(fs.readFileSync(PROFILE, 'utf8')));
        const other = await request(`${server.url}/modelship/v1/models/other/profile`);
        expect(other.status).toBe(404);
        expect(other.json()).toEqual({ error: expect.stringContaining('other') });
      } finally {
        await server.stop();
      }
    },
    LONG,
  );

  it(
    'answers 404 {"error"} without a profile',
    async () => {
      const server = await startModelServer('mlp.onnx');
      try {
        const reply = await request(`${server.url}/modelship/v1/models/mlp/profile`);
        expect(reply.status).toBe(404);
        expect(reply.json()).toEqual({ error: 'model mlp has no drift profile' });
      } finally {
        await server.stop();
      }
    },
    LONG,
  );

  it(
    'refuses a profile whose digest is wrong: exits non-zero, saying why in the termination log',
    async () => {
      const terminationLog = path.join(tempDir(), 'termination-log');
      const child = spawn(process.execPath, [ENTRY], {
        env: {
          PATH: process.env.PATH,
          MODELSHIP_HOST: '127.0.0.1',
          MODELSHIP_PORT: '0',
          MODELSHIP_METRICS_PORT: '0',
          MODELSHIP_WORKERS: '1',
          MODELSHIP_PROCESSES: '1',
          MODELSHIP_TERMINATION_LOG: terminationLog,
          ...digitsEnv('0'.repeat(64)),
        },
        stdio: 'ignore',
      });
      const [code] = await once(child, 'exit');
      expect(code).not.toBe(0);
      const message = fs.readFileSync(terminationLog, 'utf8');
      expect(message).toContain('profile');
      expect(message).toContain('sha256');
    },
    LONG,
  );
});

describe('the router with drift on, in front of a server with a profile', () => {
  let server: ModelServer;
  let router: RouterProcess;

  beforeAll(async () => {
    server = await startModelServer('mlp.onnx', digitsEnv());
    const file = routesFileWith({
      version: 1,
      generation: 1,
      revisions: [{ name: 'digits-a', url: server.url, weight: 100, model: 'digits', profile: true }],
      monitoring: { drift: { windowRows: WINDOW, referenceRows: WINDOW, threshold: THRESHOLD } },
    });
    // Every row observed (no sampling), so the counts below are exact.
    router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file, MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS: '0' });
  }, LONG);

  afterAll(async () => {
    expect(await router.stop()).toBe(0);
    await server.stop();
    closeClient();
  }, LONG);

  const send = async (rows: string[]): Promise<void> => {
    const replies = await load(rows.length, 8, (i) =>
      request(`${router.url}/v2/models/digits/infer`, {
        body: rows[i],
        headers: { 'content-type': 'application/json' },
      }),
    );
    expect(replies.map((r) => r.status)).toEqual(rows.map(() => 200));
  };
  /** The revision's drift figures once the router has observed `rows` rows (observation is after the answer). */
  const driftAfter = async (rows: number): Promise<Record<string, unknown>> => {
    let drift: Record<string, unknown> | undefined;
    for (let i = 0; i < 100; i++) {
      const doc = (await request(`${router.metricsUrl}/router/stats`)).json<{
        revisions: Record<string, { drift?: Record<string, unknown> }>;
      }>();
      drift = doc.revisions['digits-a']?.drift;
      if (drift?.rows === rows) return drift;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the router did not observe ${rows} rows: ${JSON.stringify(drift)}`);
  };
  const metric = async (pattern: RegExp): Promise<number | undefined> => {
    const text = (await request(`${router.metricsUrl}/metrics`)).body.toString();
    const m = pattern.exec(text);
    return m ? Number(m[1]) : undefined;
  };

  it(
    'raises no drift on test-set rows, and scores inverted images far above the threshold',
    async () => {
      const test = bodies('test.v2.jsonl');
      await send(test);
      const calm = await driftAfter(test.length);
      expect(calm).toMatchObject({ reference: 'profile', windowRows: WINDOW, skipped: 0 });
      expect(calm.inputPsi).toBeLessThan(THRESHOLD);
      expect(calm.outputPsi).toBeLessThan(THRESHOLD);
      expect(await metric(/^modelship_router_drift_psi\{revision="digits-a",kind="input"\} (\S+)$/m)).toBeLessThan(
        THRESHOLD,
      );
      expect(await metric(/^modelship_router_drift_threshold (\S+)$/m)).toBe(THRESHOLD);

      const inverted = bodies('shifted/inverted.v2.jsonl').slice(0, WINDOW);
      await send(inverted);
      const drifted = await driftAfter(test.length + WINDOW);
      expect(drifted.inputPsi).toBeGreaterThan(THRESHOLD);
      expect(drifted.feature).toMatch(/^input\[\d+\]$/);
      expect(await metric(/^modelship_router_drift_psi\{revision="digits-a",kind="input"\} (\S+)$/m)).toBeGreaterThan(
        THRESHOLD,
      );
      expect(await metric(/^modelship_router_drift_rows_total\{revision="digits-a"\} (\S+)$/m)).toBe(
        test.length + WINDOW,
      );
    },
    LONG,
  );

  it(
    "observes at most MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS of a revision's requests per second, and answers every one",
    async () => {
      const file = routesFileWith({
        version: 1,
        generation: 1,
        revisions: [{ name: 'digits-a', url: server.url, weight: 100, model: 'digits', profile: true }],
        monitoring: { drift: { windowRows: WINDOW, referenceRows: WINDOW, threshold: THRESHOLD } },
      });
      const sampled = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file, MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS: '50' });
      try {
        const rows = bodies('test.v2.jsonl').slice(0, 400);
        const started = performance.now();
        const replies = await load(rows.length, 8, (i) =>
          request(`${sampled.url}/v2/models/digits/infer`, {
            body: rows[i],
            headers: { 'content-type': 'application/json' },
          }),
        );
        const seconds = (performance.now() - started) / 1000;
        expect(replies.map((r) => r.status)).toEqual(rows.map(() => 200));
        // Observation follows each answer: wait until the count stands still.
        let observed = -1;
        for (let last = -2; observed !== last; await new Promise((r) => setTimeout(r, 200))) {
          last = observed;
          const doc = (await request(`${sampled.metricsUrl}/router/stats`)).json<{
            revisions: Record<string, { drift?: { rows: number } }>;
          }>();
          observed = doc.revisions['digits-a']?.drift?.rows ?? 0;
        }
        // A second's burst at once, then 50 per second: never more, however fast the requests came.
        expect(observed).toBeGreaterThanOrEqual(50);
        expect(observed).toBeLessThanOrEqual(50 * (seconds + 1));
      } finally {
        expect(await sampled.stop()).toBe(0);
      }
    },
    LONG,
  );
});
