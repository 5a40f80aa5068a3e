/**
 * rollback.md and the per-kind summary of rollback.json (pure): per kind of trial, the latency from
 * the action to every new request on the target revision, its stages, stragglers and failed requests.
 */
import { comparisonMarkdown } from './compare.js';
import type { BenchNode } from './platform.js';
import { breakdown, distribution, type Distribution } from './settle.js';
import type { KindSummary, RollbackReport, Trial, TrialKind } from './trials.js';

/** The platform a report was measured on. */
export function nodeOf(r: RollbackReport): BenchNode {
  return r.setup.node ?? 'kwok';
}

function defined(values: (number | undefined)[]): number[] {
  return values.filter((v): v is number => v !== undefined);
}

/** Summaries per kind of trial (kinds without trials are left out). */
export function summarizeTrials(trials: readonly Trial[]): Partial<Record<TrialKind, KindSummary>> {
  const out: Partial<Record<TrialKind, KindSummary>> = {};
  for (const kind of ['abort', 'rollback-after-promotion'] as const) {
    const mine = trials.filter((t) => t.kind === kind);
    if (mine.length === 0) continue;
    const stages = mine.map((t) => {
      const times = {
        actionAt: t.actionAt,
        patchedAt: t.patchedAt,
        routersAppliedAt: t.routersAppliedAt,
        ...(t.routesSeenAt !== undefined ? { routesSeenAt: t.routesSeenAt } : {}),
      };
      return breakdown(t.settled ? { ...times, settledAt: t.settled.settledAt } : times);
    });
    const latency = distribution(defined(mine.map((t) => t.settled?.latencyMs)));
    out[kind] = {
      trials: mine.length,
      unsettled: mine.filter((t) => !t.settled).length,
      latencyMs: latency,
      untilRoutersAndDataMs: distribution(
        mine.flatMap((t) =>
          t.settled ? [Math.max(t.settled.latencyMs, ...t.routersAppliedAt.map((a) => a - t.actionAt))] : [],
        ),
      ),
      stages: {
        patchMs: distribution(stages.map((s) => s.patchMs)),
        operatorMs: distribution(defined(stages.map((s) => s.operatorMs))),
        routersMs: distribution(defined(stages.map((s) => s.routersMs))),
        dataPathMs: distribution(defined(stages.map((s) => s.dataPathMs))),
      },
      routerSkewMs: distribution(
        mine
          .filter((t) => t.routersAppliedAt.length > 1)
          .map((t) => Math.max(...t.routersAppliedAt) - Math.min(...t.routersAppliedAt)),
      ),
      loopSpreadMs: distribution(
        mine.flatMap((t) =>
          t.settled ? [Math.max(...t.settled.loopSwitchMs) - Math.min(...t.settled.loopSwitchMs)] : [],
        ),
      ),
      stragglers: mine.reduce((sum, t) => sum + (t.stragglers ?? 0), 0),
      failed: mine.reduce((sum, t) => sum + t.failed, 0),
      requests: mine.reduce((sum, t) => sum + t.requests, 0),
      loadAverage: distribution(mine.map((t) => t.loadAverage)),
      p99UnderOneSecond: mine.every((t) => t.settled) && latency.p99 < 1000,
    };
  }
  return out;
}

const ms = (v: number): string => (Number.isNaN(v) ? '–' : `${Math.round(v)}`);
const row = (name: string, d: Distribution): string =>
  `| ${name} | ${d.n} | ${ms(d.p50)} | ${ms(d.p90)} | ${ms(d.p99)} | ${ms(d.max)} |`;

/** Recomputes a report's summaries from its trials (after a change in how they are summarised). */
export function resummarize(r: RollbackReport): RollbackReport {
  return { ...r, summary: summarizeTrials(r.trials) };
}

const TITLES: Record<TrialKind, string> = {
  abort: 'Abort of a candidate at 50% (`abort@<nonce>`)',
  'rollback-after-promotion': 'Rollback after promotion onto the warm retained revision (`rollback@<nonce>`)',
};

/** What differs in the text between the platforms. */
const PLATFORM: Record<
  BenchNode,
  { title: string; setup: (routerPods: number) => string[]; pod: string; target: string; logs: string }
> = {
  kwok: {
    title: 'Rollback latency, end to end',
    setup: (routerPods) => [
      'a local control plane (kube-apiserver, etcd,',
      "controller-manager, scheduler, kwok), the real operator process with the chart's RBAC, and the local pod runner running",
      `the model servers and ${routerPods} router pods as processes.`,
    ],
    pod: 'process',
    target: '`make bench-rollback`',
    logs: '`.state/bench/rollback/requests.json`, the operator, runner and pod logs beside it',
  },
  real: {
    title: 'Rollback latency, end to end, on real pods',
    setup: (routerPods) => [
      'a local control plane with one real node',
      '(containerd, kubelet, kube-proxy in nftables mode, CoreDNS, a local registry), Modelship installed from its Helm chart',
      `(the operator in two pods, leader election), the model servers and ${routerPods} router pods as real pods.`,
    ],
    pod: 'pod',
    target: '`make bench-rollback-real` (root on Linux)',
    logs: "`.state/bench/rollback-real/requests.json`, every pod's log in `pods/` beside it",
  },
};

/**
 * rollback.md (kwok) or rollback-real.md (real pods). A real-pod report given the kwok report as
 * `baseline` starts with the two side by side.
 */
export function renderMarkdown(r: RollbackReport, baseline?: RollbackReport): string {
  const node = nodeOf(r);
  const p = PLATFORM[node];
  const lines = [
    `# ${p.title} (${r.date}, commit ${r.commit})`,
    '',
    `Machine: ${r.machine.cpus} × ${r.machine.model}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; ${p.setup(r.setup.routerPods).join('\n')}`,
    `Load average (1/5/15 min) at start ${r.loadAverage.start.map((v) => v.toFixed(2)).join(' / ')},`,
    `at end ${r.loadAverage.end.map((v) => v.toFixed(2)).join(' / ')}: the machine was shared with other work.`,
    '',
    `Load: ${r.setup.loops} request loops, each sending V2 requests back to back on its own keep-alive connection through the apex`,
    `Service${node === 'real' ? "'s ClusterIP" : ''}. ${r.setup.stable} is stable, ${r.setup.candidate} (digits-v2) is held at a fixed ${r.setup.candidateWeight}% (\`spec.rollout.weight\`), analysis every ${r.setup.intervalSeconds} s.`,
    '',
    ...(node === 'real' && baseline ? comparisonMarkdown(baseline, r) : []),
    ...(node === 'kwok'
      ? ['The same trials on real pods, side by side with this run: [rollback-real.md](rollback-real.md).', '']
      : []),
    '**Latency** = from just before the `modelship.dev/action` annotation is written (a merge patch, as `kubectl annotate` or',
    '`npx modelship` does, from a process of its own) to the first moment after which every request sent was answered 200 by the target revision:',
    "the send time of the first request after the last one that was not (an upper bound; loops send every few ms). A trial's",
    `window closes once every loop has been on the target for ${r.setup.tailMs / 1000} s in a row.`,
    '',
  ];
  if (r.stoppedEarly !== undefined) lines.push(`**The run stopped early** ${r.stoppedEarly}`, '');
  for (const kind of ['abort', 'rollback-after-promotion'] as const) {
    const s = r.summary[kind];
    if (!s) continue;
    lines.push(
      `## ${TITLES[kind]}`,
      '',
      `${s.trials} trials${s.unsettled ? `, **${s.unsettled} never settled**` : ''}; p99 under one second (the first row): **${s.p99UnderOneSecond ? 'met' : 'not met'}**` +
        ` (nearest rank: with fewer than 100 trials p99 is the maximum). Load average during the trials: median ${s.loadAverage.p50.toFixed(2)}, max ${s.loadAverage.max.toFixed(2)}.`,
      '',
      '| ms | n | p50 | p90 | p99 | max |',
      '|---|---:|---:|---:|---:|---:|',
      row('**action → every new request on the target**', s.latencyMs),
      row(
        'action → every router applied the routes and every new request on the target (the later of the two)',
        s.untilRoutersAndDataMs,
      ),
      row('stage: action → annotation patch answered', s.stages.patchMs),
      row('stage: patch answered → routes ConfigMap update seen on a watch (operator)', s.stages.operatorMs),
      row('stage: routes seen → last router pod applied them', s.stages.routersMs),
      row('stage: last router applied → every new request on the target', s.stages.dataPathMs),
      row('router pods: last applied − first applied', s.routerSkewMs),
      row('loops: last switched − first switched', s.loopSpreadMs),
      '',
      `Requests during the rollbacks: ${s.requests}, **failed: ${s.failed}**; stragglers (answered by the old revision though sent after the routes update was seen): ${s.stragglers}.`,
      '',
    );
  }
  lines.push(
    '## Whole run',
    '',
    `${r.requests.total} requests, ${r.requests.failed} failed (${r.requests.failedOutsideTrials} of them outside the rollback windows: re-arming, promotion` +
      `${
        r.requests.failedOutsideTrials
          ? `; by status and revision: ${Object.entries(r.requests.failedOutsideTrialsBy)
              .map(([k, v]) => `${k} × ${v}`)
              .join(', ')}`
          : ''
      }).`,
    `Re-arm (\`retry@<nonce>\` until every loop sees the candidate again; it restarts the candidate's ${p.pod}; the load ${(r.setup.loadPausedWhileRearming ?? true) ? 'paused' : 'kept running'} meanwhile):` +
      ` median ${ms(distribution(r.rearmMs).p50)} ms, max ${ms(distribution(r.rearmMs).max)} ms.`,
    r.promoteMs.length
      ? `Promotion (\`promote@<nonce>\` until every loop is on it): median ${ms(distribution(r.promoteMs).p50)} ms, max ${ms(distribution(r.promoteMs).max)} ms.`
      : '',
    '',
    '| trial | latency ms | routes seen ms | routers applied ms | failed | stragglers | load |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.trials.map((t) => {
      const routers = t.routersAppliedAt.map((a) => a - t.actionAt).join(', ');
      return `| ${t.kind} #${t.index} | ${t.settled ? t.settled.latencyMs : 'not settled'} | ${t.routesSeenAt !== undefined ? t.routesSeenAt - t.actionAt : '–'} | ${routers || '–'} | ${t.failed} | ${t.stragglers ?? '–'} | ${t.loadAverage.toFixed(2)} |`;
    }),
    '',
    `Reproduce: ${p.target} (BENCH_ROLLBACK_TRIALS, BENCH_ROLLBACK_PROMOTED_TRIALS, BENCH_ROLLBACK_LOOPS). Every request`,
    `is in ${p.logs}.`,
    '',
  );
  return lines.join('\n');
}
