/**
 * A test of the operator↔router seam (so it lives outside operator/, which may not import the router).
 * The canary's pure pieces driven together as the operator and the router will drive them: the
 * decision's weights become a Routes document (traffic/routes.ts), the router's own Balancer
 * splits simulated requests by it, the router's own RouterStats counts them, analysis reads two
 * stats snapshots, and the next decision follows. Only the backends are simulated (their status
 * codes, latencies and agreement); time advances in 5-second ticks.
 */
import type { RouterStatsDocument } from '../../contract/stats.js';
import type { ModelDeploymentSpec } from '../../operator/src/api/types.js';
import { analyse } from '../../operator/src/rollout/analysis.js';
import { checkDue, nextCanary, type CanaryDecision, type CanaryState } from '../../operator/src/rollout/canary.js';
import { mdFixture } from '../../operator/test/fixtures.js';
import { routeNameOf } from '../../operator/src/traffic/names.js';
import { routesFor } from '../../operator/src/traffic/routes.js';
import { Balancer } from '../../server-image/src/router/balancer.js';
import { RouterStats } from '../../server-image/src/router/stats.js';

const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const STABLE = 'aaaaaaaaaa';
const CANDIDATE = 'bbbbbbbbbb';
const TICK_SECONDS = 5;
const REQUESTS_PER_TICK = 500;

/** How the simulated candidate answers: every n-th request fails, its latency, every n-th comparison disagrees. */
interface Behaviour {
  failEvery?: number;
  latencyMs?: number;
  disagreeEvery?: number;
}

interface Outcome {
  decisions: CanaryDecision[];
  final: CanaryState;
  /** Seconds from the start until the final phase was reached. */
  seconds: number;
  /** Failed responses callers received. */
  failedLive: number;
  maxCandidateWeight: number;
}

const SPEC: ModelDeploymentSpec = {
  model: { uri: 'file:///models/digits.onnx', sha256: 'b'.repeat(64) },
  replicas: 4,
  rollout: {
    steps: [
      { weight: 10, pauseSeconds: 30 },
      { weight: 50, pauseSeconds: 30 },
    ],
    analysis: { intervalSeconds: 10, maxErrorRate: 0.01, maxLatencyP99Ms: 250, minRequests: 50, failureLimit: 2 },
  },
};

function simulate(spec: ModelDeploymentSpec, candidate: Behaviour): Outcome {
  const md = mdFixture(spec);
  const routeOf = { stable: routeNameOf(md, STABLE), candidate: routeNameOf(md, CANDIDATE) };
  const stats = new RouterStats('router-0', new Date(T0));
  let balancer: Balancer | undefined;
  let generation: number | undefined;
  let previousReading: RouterStatsDocument[] = [];
  let state: CanaryState | undefined;
  let stable = STABLE;
  let sent = 0;
  let compared = 0;
  const outcome: Outcome = {
    decisions: [],
    final: undefined as unknown as CanaryState,
    seconds: 0,
    failedLive: 0,
    maxCandidateWeight: 0,
  };

  for (let seconds = 0; seconds <= 600; seconds += TICK_SECONDS) {
    const now = new Date(T0 + seconds * 1000);
    let check;
    if (checkDue(spec, state, now)) {
      const reading = [stats.snapshot(now, generation ?? null)];
      const shadow = state!.step < 0;
      check = analyse(previousReading, reading, routeOf, spec.rollout?.analysis, shadow);
      previousReading = reading;
    }
    const decision = nextCanary({
      spec,
      stable,
      candidate: CANDIDATE,
      contract: { status: 'Compatible', differences: [], message: 'ok' },
      candidateAvailable: true,
      candidatePods: { available: 4, atFullScale: true },
      now,
      ...(state ? { previous: state } : {}),
      ...(check ? { check } : {}),
    });
    outcome.decisions.push(decision);
    state = decision.state!;
    stable = decision.stableRevision;
    outcome.final = state;
    outcome.seconds = seconds;
    if (state.phase === 'Promoted' || state.phase === 'RolledBack') break;

    const routes = routesFor(md, decision);
    if (routes.generation !== generation) [balancer, generation] = [new Balancer(routes), routes.generation];
    outcome.maxCandidateWeight = Math.max(
      outcome.maxCandidateWeight,
      decision.weights.find((w) => w.revision === CANDIDATE)!.percent,
    );
    for (let i = 0; i < REQUESTS_PER_TICK; i++) {
      const route = balancer!.decide();
      const toCandidate = (kind: 'live' | 'mirror') => {
        sent++;
        const failed = candidate.failEvery !== undefined && sent % candidate.failEvery === 0;
        stats.record(routeOf.candidate, kind, failed ? 500 : 200, candidate.latencyMs ?? 3);
        return failed;
      };
      if (route.revision === routeOf.candidate) {
        if (toCandidate('live')) outcome.failedLive++;
      } else {
        stats.record(route.revision, 'live', 200, 3);
      }
      if (route.mirror !== undefined && !toCandidate('mirror')) {
        compared++;
        stats.recordAgreement(
          routeOf.candidate,
          !(candidate.disagreeEvery !== undefined && compared % candidate.disagreeEvery === 0),
          0,
        );
      }
    }
  }
  return outcome;
}

describe('canary flow: decisions → routes → router split and stats → analysis → decisions', () => {
  it('promotes a good candidate through every step, only after each pause, with no failed request', () => {
    const r = simulate(SPEC, {});
    expect(r.final).toMatchObject({ phase: 'Promoted', failures: 0 });
    expect(r.failedLive).toBe(0);
    const steps = r.decisions.map((d) => d.state!.weight);
    expect([...new Set(steps)]).toEqual([10, 50, 100]);
    expect(r.seconds).toBeGreaterThanOrEqual(60);
    expect(r.decisions.at(-1)!.weights).toEqual([
      { revision: CANDIDATE, percent: 100 },
      { revision: STABLE, percent: 0 },
    ]);
  });

  it('rolls back an erroring candidate at its first step, naming the error rate, with few failed requests', () => {
    const r = simulate(SPEC, { failEvery: 20 });
    expect(r.final).toMatchObject({ phase: 'RolledBack', reason: 'ErrorRateExceeded', failures: 2 });
    expect(r.final.message).toContain('error rate 5% > 1%');
    expect(r.final.figures).toMatchObject({ errorRate: 0.05 });
    expect(r.final.figures!.requests).toBeGreaterThanOrEqual(50);
    expect(r.maxCandidateWeight).toBe(10);
    // 10% of 100 req/s for at most failureLimit intervals plus a tick, 5% failing: well under 20.
    expect(r.failedLive).toBeGreaterThan(0);
    expect(r.failedLive).toBeLessThan(20);
    expect(r.decisions.at(-1)!.weights).toEqual([
      { revision: STABLE, percent: 100 },
      { revision: CANDIDATE, percent: 0 },
    ]);
  });

  it('rolls back a slow candidate for its p99 latency', () => {
    const r = simulate(SPEC, { latencyMs: 400 });
    expect(r.final).toMatchObject({ phase: 'RolledBack', reason: 'LatencyExceeded' });
    expect(r.final.message).toMatch(/p99 latency \d+(\.\d)?ms > 250ms \(stable \d/);
    expect(r.failedLive).toBe(0);
  });

  describe('with a shadow phase and an agreement limit', () => {
    const shadowed: ModelDeploymentSpec = {
      ...SPEC,
      rollout: {
        ...SPEC.rollout,
        shadowFirst: { percent: 100, seconds: 20 },
        analysis: { ...SPEC.rollout!.analysis, minAgreement: 0.98 },
      },
    };

    it('rolls back a disagreeing candidate before it serves a single live request', () => {
      const r = simulate(shadowed, { disagreeEvery: 5 });
      expect(r.final).toMatchObject({ phase: 'RolledBack', reason: 'AgreementTooLow', step: -1 });
      expect(r.final.message).toContain('agreement 80% < 98%');
      expect(r.maxCandidateWeight).toBe(0);
    });

    it('catches an erroring candidate on mirrored copies: callers never see its errors', () => {
      const r = simulate(shadowed, { failEvery: 10 });
      expect(r.final).toMatchObject({ phase: 'RolledBack', step: -1 });
      expect(r.final.message).toContain('error rate 10% > 1%');
      expect(r.failedLive).toBe(0);
    });

    it('promotes an agreeing candidate after the shadow and the steps', () => {
      const r = simulate(shadowed, {});
      expect(r.final.phase).toBe('Promoted');
      expect(r.decisions[0]!.mirror).toEqual({ revision: CANDIDATE, percent: 100 });
      expect(r.seconds).toBeGreaterThanOrEqual(80);
    });
  });
});
