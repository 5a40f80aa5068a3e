/**
 * From measured cells to the comparisons the issue asks for (ours vs Flask, ours vs the echo
 * ceiling, batching on vs off), each with its target marked met or not. Pure.
 */
import { MODELS, PAYLOADS, type Cell, type ModelName, type Payload } from './plan.js';
import { maxAbsDifference, type DecodedOutput } from './v2response.js';
import type { LoadResult } from './wrk.js';

/** One cell as measured (or as it failed). */
export interface CellResult extends Cell {
  /** wrk's figures; absent when the cell could not be measured. */
  load?: LoadResult;
  /** Why the cell could not be measured (server did not start, preflight request failed, ...). */
  failure?: string;
  /** The preflight request's decoded outputs (not for the echo, whose body is fixed). */
  outputs?: DecodedOutput[];
  /** 1-minute load average just before the measured run: the machine is shared, this shows how much. */
  loadAverageBefore: number;
  /** CPU seconds the server's process group used during the measured run. */
  serverCpuSeconds?: number;
  /** Our server only: mean rows per inference run during the measured run, from its metrics. */
  meanBatchRows?: number;
  /** Every round's req/s (null where the round failed), when the cell was measured in rounds. */
  roundsRequestsPerSecond?: (number | null)[];
}

/**
 * One cell measured in several rounds, reduced to one result: the median round by req/s (the lower
 * middle one for an even count), with errors summed over ALL rounds and any round's failure kept,
 * so a problem in one round still flags the cell.
 */
export function combineRounds(rounds: CellResult[]): CellResult {
  if (rounds.length === 0) throw new Error('combine rounds: no rounds to combine');
  const measured = rounds.filter((r) => r.load !== undefined && r.failure === undefined);
  const failures = rounds.flatMap((r, i) => (r.failure !== undefined ? [`round ${i + 1}: ${r.failure}`] : []));
  const roundsRequestsPerSecond = rounds.map((r) =>
    r.failure === undefined ? (r.load?.requestsPerSecond ?? null) : null,
  );
  const failure = failures.length > 0 ? failures.join('; ') : undefined;
  const outputs = rounds.find((r) => r.outputs !== undefined)?.outputs;
  if (measured.length === 0)
    return { ...rounds[0], load: undefined, serverCpuSeconds: undefined, failure, outputs, roundsRequestsPerSecond };
  const sorted = [...measured].sort(
    (a, b) => (a.load as LoadResult).requestsPerSecond - (b.load as LoadResult).requestsPerSecond,
  );
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const sum = (f: (l: LoadResult) => number): number => measured.reduce((n, r) => n + f(r.load as LoadResult), 0);
  const load = {
    ...(median.load as LoadResult),
    badStatus: sum((l) => l.badStatus),
    socketErrors: sum((l) => l.socketErrors),
  };
  return { ...median, load, failure, outputs, roundsRequestsPerSecond };
}

/** Server CPU milliseconds per completed request, or null when not measured. */
export function cpuMsPerRequest(cell: CellResult): number | null {
  if (cell.serverCpuSeconds === undefined || !cell.load || cell.load.requests === 0) return null;
  return (cell.serverCpuSeconds * 1000) / cell.load.requests;
}

/** Why a cell's numbers cannot be trusted, or null when they can. */
export function cellProblem(cell: CellResult): string | null {
  if (cell.failure !== undefined) return cell.failure;
  if (!cell.load) return 'not measured';
  if (cell.load.requests === 0) return 'no request completed';
  const problems: string[] = [];
  if (cell.load.badStatus > 0) problems.push(`${cell.load.badStatus} responses with status >= 400`);
  if (cell.load.socketErrors > 0) problems.push(`${cell.load.socketErrors} socket errors/timeouts`);
  return problems.length > 0 ? problems.join(', ') : null;
}

/** A target: the ratio must be at least, or strictly below, the value. */
export interface Target {
  op: '>=' | '<';
  value: number;
}

/** One ratio between two cells, with its target when the issue sets one. */
export interface Comparison {
  what: string;
  model: ModelName;
  payload: Payload;
  ratio: number | null;
  target: Target | null;
  /** null when there is no target or a cell is missing or flagged. */
  met: boolean | null;
  /** Why `met` is null although a target exists. */
  note?: string;
}

/** Everything the report shows besides the raw cells. */
export interface Summary {
  comparisons: Comparison[];
  /** Largest |ours - Flask| over all outputs, per model and payload (Infinity = different shapes). */
  agreement: { model: ModelName; payload: Payload; maxAbsDifference: number | null }[];
}

type Pick = (c: CellResult) => boolean;

function find(cells: CellResult[], model: ModelName, payload: Payload, pick: Pick): CellResult | undefined {
  return cells.find((c) => c.model === model && c.payload === payload && pick(c));
}

const ours: Pick = (c) => c.kind === 'modelship' && c.batching !== false;
const oursUnbatched: Pick = (c) => c.kind === 'modelship' && c.batching === false;
const flask: Pick = (c) => c.kind === 'flask';
const echo: Pick = (c) => c.kind === 'echo';

function compare(
  what: string,
  model: ModelName,
  payload: Payload,
  a: CellResult | undefined,
  b: CellResult | undefined,
  metric: (l: LoadResult) => number,
  target: Target | null,
): Comparison {
  const base = { what, model, payload, target };
  if (!a?.load || !b?.load || metric(b.load) === 0) {
    return { ...base, ratio: null, met: null, note: target ? 'not measured' : undefined };
  }
  const ratio = metric(a.load) / metric(b.load);
  const problems = [a, b].map(cellProblem).filter((p): p is string => p !== null);
  if (!target) return { ...base, ratio, met: null };
  if (problems.length > 0) return { ...base, ratio, met: null, note: `flagged: ${problems.join('; ')}` };
  return { ...base, ratio, met: target.op === '>=' ? ratio >= target.value : ratio < target.value };
}

/** Like compare(), on CPU ms per request: how many times cheaper `cheap` is than `dear` (info only). */
function cpuCompare(
  what: string,
  model: ModelName,
  payload: Payload,
  dear: CellResult | undefined,
  cheap: CellResult | undefined,
): Comparison {
  const a = dear ? cpuMsPerRequest(dear) : null;
  const b = cheap ? cpuMsPerRequest(cheap) : null;
  return { what, model, payload, ratio: a !== null && b !== null && b > 0 ? a / b : null, target: null, met: null };
}

const rps = (l: LoadResult): number => l.requestsPerSecond;
const p99 = (l: LoadResult): number => l.latencyMs.p99;

/** The comparisons, in report order, for every model and payload. */
export function summarize(cells: CellResult[]): Summary {
  const comparisons: Comparison[] = [];
  const agreement: Summary['agreement'] = [];
  for (const model of MODELS) {
    for (const payload of PAYLOADS) {
      const o = find(cells, model, payload, ours);
      const f = find(cells, model, payload, flask);
      const e = find(cells, model, payload, echo);
      const u = find(cells, model, payload, oursUnbatched);
      comparisons.push(compare('throughput Modelship / Flask', model, payload, o, f, rps, { op: '>=', value: 4 }));
      comparisons.push(compare('p99 latency Modelship / Flask', model, payload, o, f, p99, { op: '<', value: 1 }));
      comparisons.push(
        compare(
          'throughput Modelship / echo',
          model,
          payload,
          o,
          e,
          rps,
          model === 'tiny' ? { op: '>=', value: 0.5 } : null,
        ),
      );
      comparisons.push(cpuCompare('CPU per request Flask / Modelship', model, payload, f, o));
      if (u) {
        comparisons.push(compare('throughput batching on / off', model, payload, o, u, rps, { op: '>=', value: 2 }));
        comparisons.push(cpuCompare('CPU per request batching off / on', model, payload, u, o));
      }
      agreement.push({
        model,
        payload,
        maxAbsDifference: o?.outputs && f?.outputs ? maxAbsDifference(o.outputs, f.outputs) : null,
      });
    }
  }
  return { comparisons, agreement };
}
