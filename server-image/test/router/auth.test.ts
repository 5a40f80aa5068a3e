/**
 * The router in front of real model servers with bearer-token auth on (spec.auth). Its own
 * metadata fetches, which feed the operator's contract gate, carry the token file its route names
 * (before that file existed in routes, every fetch got a 401 and a canary never left the gate);
 * clients' requests pass through with their own Authorization header, never the router's; the
 * token file is re-read, so a rotated Secret is used without a restart; no token reaches the log.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  closeClient,
  request,
  routesFileWith,
  startModelServer,
  startReadyRouter,
  tempDir,
  waitFor,
  writeAtomically,
  type ModelServer,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
const TOKEN = 'router-auth-test-token-4f1c';
const STALE = 'router-auth-stale-token-91d0';
let stable: ModelServer;
let candidate: ModelServer;
let router: RouterProcess;
let tokenDir: string;

type Stats = { models?: Record<string, { metadata: unknown }> };
const statsOf = async () => (await request(`${router.metricsUrl}/router/stats`)).json<Stats>();
const infer = JSON.stringify({
  inputs: [
    { name: 'input', datatype: 'FP32', shape: [1, 784], data: Array.from({ length: 784 }, (_, i) => (i % 256) / 255) },
  ],
});

beforeAll(async () => {
  // The servers' token file (their Secret), and the router's token directory as the operator
  // mounts it: <secret>/<key>. The candidate's copy starts out stale (a rotation in progress).
  const serverTokens = path.join(tempDir(), 'token');
  fs.writeFileSync(serverTokens, `# serving tokens\n${TOKEN}\n`);
  tokenDir = tempDir();
  fs.mkdirSync(path.join(tokenDir, 'mlp-token'));
  fs.mkdirSync(path.join(tokenDir, 'rotated'));
  fs.writeFileSync(path.join(tokenDir, 'mlp-token', 'token'), `${TOKEN}\n`);
  fs.writeFileSync(path.join(tokenDir, 'rotated', 'token'), `${STALE}\n`);
  [stable, candidate] = await Promise.all([
    startModelServer('mlp.onnx', { MODELSHIP_AUTH_TOKEN_FILE: serverTokens }),
    startModelServer('mlp.onnx', { MODELSHIP_AUTH_TOKEN_FILE: serverTokens }),
  ]);
  const file = routesFileWith({
    version: 1,
    generation: 1,
    revisions: [
      { name: 'mlp-stable', url: stable.url, weight: 100, model: 'mlp', tokenFile: 'mlp-token/token' },
      { name: 'mlp-candidate', url: candidate.url, weight: 0, model: 'mlp', tokenFile: 'rotated/token' },
      // What the operator wrote before routes could name a token: the gate's fetch is refused.
      { name: 'mlp-bare', url: candidate.url, weight: 0, model: 'mlp' },
    ],
  });
  router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file, MODELSHIP_ROUTER_TOKEN_DIR: tokenDir });
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await Promise.all([stable.stop(), candidate.stop()]);
  closeClient();
}, LONG);

it(
  'publishes the metadata of a revision that requires a token, fetched with the token its route names',
  async () => {
    const direct = (
      await request(`${stable.url}/v2/models/mlp`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json();
    expect(direct).toMatchObject({ name: 'mlp', inputs: [{ name: 'input' }] });
    const models = await waitFor(
      'metadata of the stable revision',
      async () => (await statsOf()).models?.['mlp-stable'],
      30_000,
    );
    expect(models).toEqual({ metadata: direct });
  },
  LONG,
);

it(
  'says why a refused fetch is refused, once, without the token, and publishes nothing for it',
  async () => {
    await waitFor(
      'both refusals logged',
      () =>
        /revision mlp-bare.*names no tokenFile/.test(router.output()) &&
        /revision mlp-candidate.*HTTP 401/.test(router.output()),
      30_000,
    );
    const stats = await statsOf();
    expect(stats.models?.['mlp-bare']).toBeUndefined();
    expect(stats.models?.['mlp-candidate']).toBeUndefined();
    expect(router.output().match(/revision mlp-bare/g)).toHaveLength(1);
  },
  LONG,
);

it(
  'uses a rotated token file on its next attempt, without a restart',
  async () => {
    writeAtomically(path.join(tokenDir, 'rotated', 'token'), `${TOKEN}\n`);
    const direct = (
      await request(`${candidate.url}/v2/models/mlp`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json();
    // The fetcher retries every 5 s.
    expect(
      await waitFor('metadata of the candidate', async () => (await statsOf()).models?.['mlp-candidate'], 30_000),
    ).toEqual({ metadata: direct });
  },
  LONG,
);

it(
  "passes each client's own Authorization through and never lends the router's token",
  async () => {
    const url = `${router.url}/v2/models/mlp/infer`;
    const json = { 'content-type': 'application/json' };
    const ok = await request(url, { body: infer, headers: { ...json, authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ model_name: 'mlp', outputs: [expect.objectContaining({ name: 'logits' })] });
    const anonymous = await request(url, { body: infer, headers: json });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(anonymous.headers['x-modelship-revision']).toBe('mlp-stable');
    const wrong = await request(url, { body: infer, headers: { ...json, authorization: `Bearer ${STALE}` } });
    expect(wrong.status).toBe(401);
    // The metadata read through the router is the client's request too: no token, no metadata.
    expect((await request(`${router.url}/v2/models/mlp`)).status).toBe(401);
    // Its own probes need none.
    expect((await request(`${router.url}/v2/health/ready`)).status).toBe(200);
    expect((await request(`${router.url}/v2/health/live`)).status).toBe(200);
  },
  LONG,
);

it('never writes a token to its log', () => {
  expect(router.output()).toContain('model metadata fetched');
  expect(router.output()).not.toContain(TOKEN);
  expect(router.output()).not.toContain(STALE);
});
