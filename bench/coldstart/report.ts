/**
 * The cold-start benchmark's report: per scenario, the median time from the trigger to the first
 * correct answer, and the median of each part (marks.ts) over the rounds, as coldstart.md. Pure.
 */
import { MARKS, PART_NAMES, afterAnswer, median, partsOf, type Mark, type Marks } from './marks.js';

/** How a round leaves zero (bench.ts). */
export type Scenario = 'hand' | 'spec' | 'one' | 'request';

/** One start from zero. */
export interface Round {
  scenario: Scenario;
  index: number;
  marks: Marks;
  /** Requests the client sent until the first correct answer (1 when the router held it). */
  tries: number;
  /** Of those, answered with another status than 200 (or not at all). */
  failedTries: number;
  /** The client's first failed try: its status, when it ended (ms after the trigger) and its error. */
  firstFailure?: { status: number; ms: number; error?: string };
  /** Whether a correct answer came. */
  answered: boolean;
  /** Requests the routers held for the revision in this round (their stats' heldTotal). */
  held?: number;
}

/** bench/results/coldstart.json. */
export interface ColdStartReport {
  when: string;
  commit: string;
  cpus: number;
  memGiB: number;
  loadStart: number[];
  loadEnd: number[];
  rounds: Round[];
  /** Per scenario, what the table shows (and chart.py draws). */
  summary: ScenarioSummary[];
}

/** One scenario's medians. */
export interface ScenarioSummary {
  scenario: Scenario;
  name: string;
  rounds: number;
  answered: number;
  /** Median trigger → first answer, ms. */
  totalMs?: number;
  /** Median trigger → the server's "model ready" (loaded and warmed up: it could answer), ms. */
  serverReadyMs?: number;
  /** Each round's trigger → first answer, ms. */
  eachMs: (number | null)[];
  /** Median requests held per round, when the routers held any. */
  held?: number;
  /** Median client tries per round. */
  tries?: number;
  /** Requests that failed over all rounds. */
  failed?: number;
  parts: { mark: Exclude<Mark, 'trigger'>; name: string; ms: number; seen: number }[];
  /** Moments seen after the first answer (off its path), median ms after it. */
  afterAnswer: { mark: Exclude<Mark, 'trigger'>; name: string; ms: number; seen: number }[];
}

/** What each scenario is, for the table. */
export const SCENARIO_NAMES: Record<Scenario, string> = {
  hand: "revision Deployment scaled 0 → 1 by hand (operator stopped): the pod's own start",
  spec: "ModelDeployment `replicas` 0 → 1 (the operator scales): today's control plane",
  one: 'as spec, with `server.processes: 1` (one Node process loads the model, not one per CPU)',
  request: 'requests to a revision at zero (the routers hold them, the operator activates it)',
};

/** Trigger to first answer, in ms, or undefined when none came. */
export function totalMs(r: Round): number | undefined {
  return r.marks.answered === undefined || r.marks.trigger === undefined
    ? undefined
    : r.marks.answered - r.marks.trigger;
}

/** Per part, its median over the rounds (ms), in MARKS order; a part no round saw is left out. */
export function medianParts(
  rounds: readonly Round[],
  of: (marks: Marks) => { mark: Exclude<Mark, 'trigger'>; ms: number }[] = partsOf,
): { mark: Exclude<Mark, 'trigger'>; ms: number; seen: number }[] {
  const parts = rounds.map((r) => of(r.marks));
  return (MARKS.slice(1) as Exclude<Mark, 'trigger'>[]).flatMap((mark) => {
    const values = parts.map((p) => p.find((x) => x.mark === mark)?.ms);
    const m = median(values);
    return m === undefined ? [] : [{ mark, ms: m, seen: values.filter((v) => v !== undefined).length }];
  });
}

/** Per scenario (in the order first seen), its medians. */
export function summarize(rounds: readonly Round[]): ScenarioSummary[] {
  return [...new Set(rounds.map((x) => x.scenario))].map((scenario) => {
    const of = rounds.filter((x) => x.scenario === scenario);
    return {
      scenario,
      name: SCENARIO_NAMES[scenario],
      rounds: of.length,
      answered: of.filter((x) => x.answered).length,
      totalMs: median(of.map(totalMs)),
      serverReadyMs: median(
        of.map((x) =>
          x.marks.modelReady === undefined || x.marks.trigger === undefined
            ? undefined
            : x.marks.modelReady - x.marks.trigger,
        ),
      ),
      eachMs: of.map((x) => totalMs(x) ?? null),
      held: of.some((x) => x.held !== undefined) ? median(of.map((x) => x.held)) : undefined,
      tries: median(of.map((x) => x.tries)),
      failed: of.reduce((sum, x) => sum + x.failedTries, 0),
      parts: medianParts(of).map((p) => ({ ...p, name: PART_NAMES[p.mark] })),
      afterAnswer: medianParts(of, afterAnswer).map((p) => ({ ...p, name: PART_NAMES[p.mark] })),
    };
  });
}

const s = (ms: number | undefined): string => (ms === undefined ? '–' : (ms / 1000).toFixed(2));

/** coldstart.md. */
export function markdown(r: ColdStartReport): string {
  const sections = r.summary.flatMap((x) => [
    `## ${x.scenario}: ${x.name}`,
    '',
    `First correct answer **${s(x.totalMs)} s** after the trigger (median of ${x.rounds}; each: ` +
      `${x.eachMs.map((ms) => s(ms ?? undefined)).join(', ')} s); answered in ${x.answered} of ${x.rounds}` +
      (x.held === undefined
        ? `; the client retried every 50 ms (no hold): tries per round (median) ${x.tries ?? '–'}.`
        : `; ${x.tries ?? '–'} requests sent at once per round (median), requests held per round (median) ${x.held}, ` +
          `failed ${x.failed ?? 0} in all.`),
    '',
    `The server could answer (model loaded, warm-up run) at **${s(x.serverReadyMs)} s** (median): the rest is probes, ` +
      'endpoints and routing.',
    '',
    '| part (ends when) | median s | rounds seen |',
    '|---|---:|---:|',
    ...x.parts.map((p) => `| ${p.name} (\`${p.mark}\`) | ${s(p.ms)} | ${p.seen} |`),
    '',
    ...(x.afterAnswer.length === 0
      ? []
      : [
          'After the first answer, off its path (median s after it, rounds): ' +
            x.afterAnswer.map((p) => `${p.name} (\`${p.mark}\`) +${s(p.ms)} (${p.seen})`).join('; ') +
            '.',
          '',
        ]),
  ]);
  return [
    `# Cold start from zero on real pods (${r.when}, commit ${r.commit})`,
    '',
    `Machine: ${r.cpus} cores, ${r.memGiB} GiB; load average (1/5/15 min) at start ${r.loadStart.map((l) => l.toFixed(2)).join(' / ')}, ` +
      `at end ${r.loadEnd.map((l) => l.toFixed(2)).join(' / ')}.`,
    '',
    'One real node (containerd, kubelet, kube-proxy, CoreDNS; test/cluster), Modelship from its chart, examples/digits.yaml',
    "(the image and the model already on the node: a warm node). Each part ends at a moment read from that part's own",
    "record: our watches of the API (Deployment, pod, EndpointSlice, the routes and the routers' stats ConfigMaps: when the",
    "change reached us), the kubelet's log (µs), /proc (the sandbox's and the server's first process start: 10 ms ticks),",
    "the server's JSON log (ms), a TCP connect to the revision Service's ClusterIP every 20 ms (kube-proxy), and the",
    "client's answer. Within a round a part is measured from the latest earlier moment seen, so a round's parts add up to",
    "its total (a moment seen before an earlier one counts 0); the table shows each part's median over the rounds, and",
    "medians do not add up. Pod Ready lands on the kubelet's 1 s probe ticks, so totals tend to cluster a second apart.",
    '',
    ...sections,
    'Reproduce: `make bench-coldstart` (root on Linux; BENCH_ROUNDS, default 5; BENCH_SCENARIOS).',
    '',
  ].join('\n');
}
