/**
 * The model-source benchmark's figures (pure): medians, MB/s, ratios, and sources.md's tables.
 * bench.ts measures and writes; this only shapes what it measured.
 */

/** One copy of the object: its wall time (process start to exit) and, where measured, the transfer alone. */
export interface CopyRun {
  wallMs: number;
  /** The copy inside the process, its start-up and imports excluded (unset: only the wall is measured). */
  transferMs?: number;
  /** Start-up inside the process that the transfer excludes (interpreter imports, client library import). */
  importMs?: number;
  /** CPU time (user + system) of the copying process, its start-up included. */
  cpuMs?: number;
}

/** A copier (ours or a baseline) of one source, every round. */
export interface Copier {
  id: string;
  /** How it is shown: `aws s3 cp`, `ours (downloadVerified)`... */
  label: string;
  /** A few words for the chart. */
  short: string;
  /** What its wall time includes beyond the transfer, said plainly in the table. */
  startup: string;
  runs: CopyRun[];
}

/** One source's throughput: ours and its baselines. */
export interface ThroughputRow {
  source: string;
  bytes: number;
  ours: Copier;
  baselines: Copier[];
  /** Our source's stream read and discarded (no hash, no disk): the client's own reading speed. */
  readOnly: Copier;
}

/** One pod's start, process spawn to /v2/health/ready answering 200. */
export interface PodStart {
  readyMs: number;
  /** The server's fetch (download or cache copy, hash, verify), from its `model fetched` log line. */
  fetchMs?: number;
  /** modelship_model_load_seconds: fetch + session load + warm-up. */
  loadMs?: number;
  /** The node cache's answer as the pod logged it (`hit`/`miss`), or `direct`. */
  path: string;
  /** The agent's downloads from the store so far, read after this pod was ready (undefined: no agent). */
  agentDownloads?: number;
}

/** The start scenarios, in the order they run on one node. */
export const SCENARIOS = [
  { id: 'cold', label: 'first pod (agent cold: downloads from the store)' },
  { id: 'warm', label: 'second pod, same model (agent warm)' },
  { id: 'other', label: 'a different model served (agent cold for it)' },
  { id: 'rollback', label: 'rollback target: the first model again, after the other (agent warm)' },
  { id: 'direct', label: 'baseline: a pod with no agent (direct download)' },
] as const;

/** One of SCENARIOS' ids. */
export type ScenarioId = (typeof SCENARIOS)[number]['id'];

/** One source's starts, every round, by scenario. */
export interface StartRow {
  source: string;
  rounds: Record<ScenarioId, PodStart>[];
}

/** The median (the lower middle for an even count), NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Megabytes (10^6 bytes) a second. */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** A copier's median wall and transfer times (transfer: the wall where only the wall is measured). */
export function copierMedians(c: Copier): { wallMs: number; transferMs: number; cpuMs: number } {
  return {
    wallMs: median(c.runs.map((r) => r.wallMs)),
    transferMs: median(c.runs.map((r) => r.transferMs ?? r.wallMs)),
    cpuMs: median(c.runs.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs]))),
  };
}

/** Our throughput over the baseline's (> 1: ours is faster), from median times. */
export function ratio(oursMs: number, baselineMs: number): number {
  return baselineMs / oursMs;
}

/** The throughput goal of the issue: ours at least 0.9x the store's own client. */
export const THROUGHPUT_GOAL = 0.9;

const f0 = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');

/** The throughput table: one line per baseline, ours beside it, transfer-only and wall ratios. */
export function throughputTable(rows: readonly ThroughputRow[]): string {
  const lines = [
    '| source | copier | its wall time includes | transfer ms | transfer MB/s | wall ms | wall MB/s | CPU ms | ours / it, transfer | ours / it, wall | goal ≥ 0.9× (transfer) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const ours = copierMedians(row.ours);
    lines.push(
      `| ${row.source} | **${row.ours.label}** | ${row.ours.startup} | ${f0(ours.transferMs)} | ${f0(mbPerSecond(row.bytes, ours.transferMs))} | ${f0(ours.wallMs)} | ${f0(mbPerSecond(row.bytes, ours.wallMs))} | ${f0(ours.cpuMs)} | | | |`,
    );
    for (const b of row.baselines) {
      const m = copierMedians(b);
      const transfer = ratio(ours.transferMs, m.transferMs);
      lines.push(
        `| ${row.source} | ${b.label} | ${b.startup} | ${f0(m.transferMs)} | ${f0(mbPerSecond(row.bytes, m.transferMs))} | ${f0(m.wallMs)} | ${f0(mbPerSecond(row.bytes, m.wallMs))} | ${f0(m.cpuMs)} | ${f2(transfer)} | ${f2(ratio(ours.wallMs, m.wallMs))} | ${transfer >= THROUGHPUT_GOAL ? 'met' : 'not met'} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Ours against its own source read alone: what the pipeline (hash, disk, verify, rename) adds. */
export function pipelineTable(rows: readonly ThroughputRow[]): string {
  const lines = [
    '| source | source stream read and discarded ms (MB/s) | ours ms (MB/s) | the pipeline adds ms | CPU ms, read / ours |',
    '|---|---:|---:|---:|---|',
  ];
  for (const row of rows) {
    const read = copierMedians(row.readOnly);
    const ours = copierMedians(row.ours);
    lines.push(
      `| ${row.source} | ${f0(read.transferMs)} (${f0(mbPerSecond(row.bytes, read.transferMs))}) | ${f0(ours.transferMs)} (${f0(mbPerSecond(row.bytes, ours.transferMs))}) | ${f0(ours.transferMs - read.transferMs)} | ${f0(read.cpuMs)} / ${f0(ours.cpuMs)} |`,
    );
  }
  return lines.join('\n');
}

/** Every round's transfer times, so the spread is visible. */
export function roundsTable(rows: readonly ThroughputRow[]): string {
  const lines = [
    '| source | copier | transfer ms each round | wall ms each round | CPU ms each round |',
    '|---|---|---|---|---|',
  ];
  for (const row of rows) {
    for (const c of [row.ours, ...row.baselines, row.readOnly]) {
      lines.push(
        `| ${row.source} | ${c.label} | ${c.runs.map((r) => f0(r.transferMs ?? r.wallMs)).join(', ')} | ${c.runs.map((r) => f0(r.wallMs)).join(', ')} | ${c.runs.map((r) => f0(r.cpuMs ?? NaN)).join(', ')} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Median of a field of one scenario over the rounds (NaN when never measured). */
export function scenarioMedian(row: StartRow, scenario: ScenarioId, field: 'readyMs' | 'fetchMs' | 'loadMs'): number {
  return median(row.rounds.flatMap((r) => (r[scenario][field] === undefined ? [] : [r[scenario][field] as number])));
}

/** The start table: per source and scenario, the median time to ready and its parts, and what the agent did. */
export function startTable(rows: readonly StartRow[]): string {
  const lines = [
    '| source | pod | ready ms | fetch ms | session load + warm-up ms | process start + rest ms | path (each round) | agent downloads after it (each round) |',
    '|---|---|---:|---:|---:|---:|---|---|',
  ];
  for (const row of rows) {
    for (const s of SCENARIOS) {
      const ready = scenarioMedian(row, s.id, 'readyMs');
      const fetch = scenarioMedian(row, s.id, 'fetchMs');
      const load = scenarioMedian(row, s.id, 'loadMs');
      const paths = row.rounds.map((r) => r[s.id].path).join(', ');
      const downloads = row.rounds.map((r) => r[s.id].agentDownloads ?? '-').join(', ');
      lines.push(
        `| ${row.source} | ${s.label} | ${f0(ready)} | ${f0(fetch)} | ${f0(load - fetch)} | ${f0(ready - load)} | ${paths} | ${downloads} |`,
      );
    }
  }
  return lines.join('\n');
}

/** Warm over cold and over direct, per source: how much of a start the node cache saves. */
export function startSummary(rows: readonly StartRow[]): string {
  const lines = [
    '| source | cold ms | warm ms | rollback ms | direct ms | warm / cold | rollback / cold | warm / direct |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const [cold, warm, rollback, direct] = (['cold', 'warm', 'rollback', 'direct'] as const).map((s) =>
      scenarioMedian(row, s, 'readyMs'),
    );
    lines.push(
      `| ${row.source} | ${f0(cold)} | ${f0(warm)} | ${f0(rollback)} | ${f0(direct)} | ${f2(warm / cold)} | ${f2(rollback / cold)} | ${f2(warm / direct)} |`,
    );
  }
  return lines.join('\n');
}
