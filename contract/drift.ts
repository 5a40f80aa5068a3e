/**
 * Part of the cross-process contract (contract/): drift detection, between the operator (which
 * writes a route's `monitoring.drift` from spec.monitoring.drift and marks the revisions that serve
 * a reference profile), the model server (which fetches the profile named in spec.model.profile,
 * verifies its digest and serves it at {@link PROFILE_PATH}), and the router (which compares the
 * live inputs and outputs of each revision with its reference and publishes the figures in its
 * stats document as `revisions.<rev>.drift`).
 */

/** The drift part of a Routes document's `monitoring`. */
export interface DriftRoute {
  /** Rows (not requests) in the sliding live window compared with the reference. */
  windowRows: number;
  /** Without a profile: the first this many rows a revision serves become its reference. */
  referenceRows: number;
  /** The PSI above which a revision counts as drifted (exported beside the score, for alerts). */
  threshold: number;
}

/** Where a model server serves its verified reference profile: `GET` with the model's name. */
export const PROFILE_PATH = (model: string): string => `/modelship/v1/models/${encodeURIComponent(model)}/profile`;

/** A revision's drift figures in a router pod's stats document (`revisions.<rev>.drift`). */
export interface RevisionDrift {
  /** Where the reference came from: the model's profile, or the revision's first rows. */
  reference: 'profile' | 'live';
  /** Rows observed since the router started (cumulative). */
  rows: number;
  /**
   * Exchanges not decoded since the router started (cumulative): binary-extension bodies, error
   * answers, bodies whose tensors do not match the reference.
   */
  skipped?: number;
  /** Rows in the live window now (≤ the route's windowRows). */
  windowRows: number;
  /** The largest PSI over the input features, null until the window is full. */
  inputPsi: number | null;
  /** The input feature with that PSI (`<input>[<index>]`). */
  feature?: string;
  /** PSI of the predicted class distribution, null until the window is full or without a class output. */
  outputPsi: number | null;
}

/** Bounds of a drift route's windows (rows). */
export const DRIFT_ROWS = { min: 50, max: 1_000_000 } as const;

/** Validates a route's `monitoring.drift`; the error names the field. */
export function validateDriftRoute(
  v: unknown,
  where: string,
): { ok: true; value: DriftRoute } | { ok: false; error: string } {
  const fail = (error: string) => ({ ok: false as const, error: `${where}${error}` });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(': must be an object');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['windowRows', 'referenceRows', 'threshold'].includes(key)) return fail(`.${key}: unknown field`);
  }
  for (const key of ['windowRows', 'referenceRows'] as const) {
    const n = o[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < DRIFT_ROWS.min || n > DRIFT_ROWS.max) {
      return fail(`.${key}: must be an integer between ${DRIFT_ROWS.min} and ${DRIFT_ROWS.max}`);
    }
  }
  if (typeof o.threshold !== 'number' || !(o.threshold > 0) || !Number.isFinite(o.threshold)) {
    return fail('.threshold: must be a finite number above 0');
  }
  return {
    ok: true,
    value: { windowRows: o.windowRows as number, referenceRows: o.referenceRows as number, threshold: o.threshold },
  };
}

/**
 * A model's reference profile (`<model>.profile.json`, built from its training split beside the
 * model and pinned by its sha256 like the model): per input feature, the bins its values fall in
 * and the share of reference rows in each; per class output, the share of each predicted class.
 *
 * ```json
 * {"version": 1, "rows": 1347,
 *  "inputs":  [{"name": "input", "features": [{"edges": [0, 1, 2], "proportions": [0.9, 0.05, 0.03, 0.02]}, ...]}],
 *  "outputs": [{"name": "label", "classes": [0, 1, 2], "proportions": [0.3, 0.3, 0.4]}]}
 * ```
 *
 * Bins: a feature's `edges` are strictly ascending upper bounds; bin `i` holds the values
 * `edges[i-1] < v <= edges[i]` (bin 0 everything up to `edges[0]`), and one more bin holds the
 * values above the last edge, so `proportions` has `edges.length + 1` entries. For a feature with
 * few distinct values (the digits' pixels, integers 0..16) the edges are those values, one bin
 * per value (quantile edges would collapse onto the mode); otherwise they are its deciles. The top
 * bin catches values never seen in the reference, which is how a pixel that was always 0 notices
 * an inverted image. A class output's live predictions outside `classes` count in one more bin
 * whose reference share is 0.
 */
export interface ReferenceProfile {
  version: 1;
  /** Reference rows the proportions were counted over. */
  rows: number;
  inputs: ProfileInput[];
  outputs: ProfileOutput[];
}

/** One input tensor's features, in row-major order of a row's values. */
export interface ProfileInput {
  name: string;
  features: FeatureBins[];
}

/** One feature's bins (see {@link ReferenceProfile}). */
export interface FeatureBins {
  edges: number[];
  proportions: number[];
}

/** A class output (one class per row): its classes and the reference share of each. */
export interface ProfileOutput {
  name: string;
  classes: (number | string)[];
  proportions: number[];
}

/** Most bins a feature may have, so a row's bin index fits a byte. */
export const MAX_BINS = 255;

/**
 * Shares below this count as this in PSI, on both sides: an empty bin would make ln(a/e)
 * infinite. 1e-4 is the usual floor; with it a bin empty in the reference that gets 1% of a live
 * window adds 0.046, a quarter of the default threshold.
 */
export const PSI_FLOOR = 1e-4;

/** The spec's default PSI threshold: the conventional line of "significant shift" (PSI > 0.2). */
export const DEFAULT_DRIFT_THRESHOLD = 0.2;

/**
 * Population stability index of live shares `actual` against reference shares `expected` (same
 * length): Σ (a − e)·ln(a / e), each share floored at {@link PSI_FLOOR}. 0 means the same
 * distribution; < 0.1 is usually read as stable, > 0.2 as a significant shift.
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i], PSI_FLOOR);
    const a = Math.max(actual[i], PSI_FLOOR);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** The bin of `value` for ascending upper bounds `edges` (binary search; NaN goes to the top bin). */
export function binOf(edges: readonly number[], value: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= edges[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Least share of the reference rows one bin holds (but the top bin); rarer values are merged up. */
export const MIN_BIN_SHARE = 0.05;

/**
 * Bin edges for a feature from reference values, the same rule as build_models.py: candidate
 * edges are the distinct values when there are at most `maxBins - 1` of them, else the distinct
 * deciles; walking up, a bin closes at the first candidate where it holds at least
 * {@link MIN_BIN_SHARE} of the values, and a remainder short of that joins the last bin, whose edge
 * becomes the largest candidate. Bins of a few reference rows would make PSI mostly sampling noise
 * (a pixel's rare bright values), while the top bin still catches values above any seen.
 */
export function edgesFor(values: readonly number[], maxBins = 20): number[] {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return [];
  const distinct = [...new Set(sorted)];
  let candidates = distinct;
  if (distinct.length > maxBins - 1) {
    candidates = [];
    for (let q = 1; q < 10; q++) {
      // The lower empirical quantile (numpy's method="lower"), so edges are values that occur.
      const cut = sorted[Math.floor((q / 10) * (sorted.length - 1))];
      if (candidates.length === 0 || cut > candidates[candidates.length - 1]) candidates.push(cut);
    }
  }
  const least = MIN_BIN_SHARE * sorted.length;
  const edges: number[] = [];
  let i = 0;
  let held = 0;
  for (const c of candidates) {
    while (i < sorted.length && sorted[i] <= c) {
      i++;
      held++;
    }
    if (held >= least) {
      edges.push(c);
      held = 0;
    }
  }
  const last = candidates[candidates.length - 1];
  if (held > 0) {
    if (edges.length > 0) edges[edges.length - 1] = last;
    else edges.push(last);
  }
  return edges;
}

type Check = { ok: true } | { ok: false; error: string };

function proportionsError(p: unknown, length: number, where: string): string | undefined {
  if (!Array.isArray(p) || p.length !== length) return `${where}.proportions: must be ${length} numbers`;
  let sum = 0;
  for (const x of p) {
    if (typeof x !== 'number' || !(x >= 0) || x > 1) return `${where}.proportions: must be numbers between 0 and 1`;
    sum += x;
  }
  if (Math.abs(sum - 1) > 1e-6) return `${where}.proportions: must sum to 1 (they sum to ${sum})`;
  return undefined;
}

function featureError(f: unknown, where: string): string | undefined {
  if (typeof f !== 'object' || f === null) return `${where}: must be an object`;
  const { edges, proportions } = f as Record<string, unknown>;
  if (!Array.isArray(edges) || edges.length + 1 > MAX_BINS) {
    return `${where}.edges: must be an array of at most ${MAX_BINS - 1} numbers`;
  }
  for (let i = 0; i < edges.length; i++) {
    const e: unknown = edges[i];
    if (typeof e !== 'number' || !Number.isFinite(e) || (i > 0 && e <= (edges[i - 1] as number))) {
      return `${where}.edges: must be finite numbers in strictly ascending order`;
    }
  }
  return proportionsError(proportions, edges.length + 1, where);
}

/** Validates a parsed reference profile; the error names the field. */
export function validateProfile(
  v: unknown,
  where = 'profile',
): { ok: true; value: ReferenceProfile } | { ok: false; error: string } {
  const fail = (error: string) => ({ ok: false as const, error });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${where}: must be an object`);
  const o = v as Record<string, unknown>;
  if (o.version !== 1) return fail(`${where}.version: must be 1`);
  if (typeof o.rows !== 'number' || !Number.isInteger(o.rows) || o.rows < 1) {
    return fail(`${where}.rows: must be a positive integer`);
  }
  if (!Array.isArray(o.inputs) || !Array.isArray(o.outputs)) return fail(`${where}: needs inputs and outputs arrays`);
  const names = new Set<string>();
  for (const [i, input] of (o.inputs as unknown[]).entries()) {
    const at = `${where}.inputs[${i}]`;
    const { name, features } = (input ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') return fail(`${at}.name: must be a non-empty string`);
    if (names.has(name)) return fail(`${at}.name: ${name} appears twice`);
    names.add(name);
    if (!Array.isArray(features) || features.length === 0) return fail(`${at}.features: must be a non-empty array`);
    for (const [j, f] of features.entries()) {
      const error = featureError(f, `${at}.features[${j}]`);
      if (error) return fail(error);
    }
  }
  for (const [i, output] of (o.outputs as unknown[]).entries()) {
    const at = `${where}.outputs[${i}]`;
    const { name, classes, proportions } = (output ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') return fail(`${at}.name: must be a non-empty string`);
    if (
      !Array.isArray(classes) ||
      classes.length === 0 ||
      classes.length + 1 > MAX_BINS ||
      !classes.every((c) => typeof c === 'number' || typeof c === 'string') ||
      new Set(classes.map(String)).size !== classes.length
    ) {
      return fail(`${at}.classes: must be 1 to ${MAX_BINS - 1} distinct numbers or strings`);
    }
    const error = proportionsError(proportions, classes.length, at);
    if (error) return fail(error);
  }
  return { ok: true, value: o as unknown as ReferenceProfile };
}

/**
 * Whether a profile fits a model's V2 metadata: each profiled input exists with as many values
 * per row as it has features, each profiled output exists. `shape`s start with the batch axis.
 */
export function checkProfileFits(
  profile: ReferenceProfile,
  model: { inputs: { name: string; shape: number[] }[]; outputs: { name: string }[] },
): Check {
  for (const input of profile.inputs) {
    const tensor = model.inputs.find((t) => t.name === input.name);
    if (!tensor) return { ok: false, error: `profile input ${input.name}: the model has no such input` };
    const perRow = tensor.shape.slice(1).reduce((a, b) => a * b, 1);
    if (perRow > 0 && perRow !== input.features.length) {
      return {
        ok: false,
        error: `profile input ${input.name}: ${input.features.length} features, the model takes ${perRow} values per row`,
      };
    }
  }
  for (const output of profile.outputs) {
    if (!model.outputs.some((t) => t.name === output.name)) {
      return { ok: false, error: `profile output ${output.name}: the model has no such output` };
    }
  }
  return { ok: true };
}

/**
 * Rows of one exchange as the drift window takes them: per input, its values flat in row-major
 * order (`rows` × features); per output, one value per row.
 */
export interface RowBatch {
  rows: number;
  inputs: ReadonlyMap<string, ArrayLike<number>>;
  outputs: ReadonlyMap<string, ArrayLike<unknown>>;
}

/** A bin index meaning "this row has no value here" (an input or output the exchange lacked). */
const ABSENT = 255;

interface Slot {
  /** `<input>[<index>]` or the output's name. */
  label: string;
  kind: 'input' | 'output';
  edges?: readonly number[];
  classes?: ReadonlyMap<string, number>;
  expected: Float64Array;
  /** Where this slot's bin counts start in the window's counts. */
  base: number;
  bins: number;
}

/** The drift figures of a window (see RevisionDrift). */
export interface DriftReading {
  inputPsi: number | null;
  feature?: string;
  outputPsi: number | null;
  windowRows: number;
}

/**
 * A sliding window of the last `windowRows` rows against a reference profile: each row is stored
 * as one bin index per feature and class output (a ring of bytes), with running counts per bin,
 * so adding a row and dropping the oldest are exact and O(features), and a reading is
 * O(features × bins) whatever the window's size.
 */
export class DriftWindow {
  private readonly slots: Slot[] = [];
  private readonly byInput = new Map<string, { first: number; features: number }>();
  private readonly byOutput = new Map<string, number>();
  private readonly ring: Uint8Array;
  private readonly counts: Uint32Array;
  /** Rows in the window with a value, per slot. */
  private readonly present: Uint32Array;
  private next = 0;
  private filled = 0;

  constructor(
    reference: ReferenceProfile,
    readonly windowRows: number,
  ) {
    let base = 0;
    for (const input of reference.inputs) {
      this.byInput.set(input.name, { first: this.slots.length, features: input.features.length });
      for (const [j, f] of input.features.entries()) {
        this.slots.push({
          label: `${input.name}[${j}]`,
          kind: 'input',
          edges: f.edges,
          expected: Float64Array.from(f.proportions),
          base,
          bins: f.proportions.length,
        });
        base += f.proportions.length;
      }
    }
    for (const output of reference.outputs) {
      this.byOutput.set(output.name, this.slots.length);
      this.slots.push({
        label: output.name,
        kind: 'output',
        classes: new Map(output.classes.map((c, i) => [String(c), i])),
        expected: Float64Array.from([...output.proportions, 0]),
        base,
        bins: output.proportions.length + 1,
      });
      base += output.proportions.length + 1;
    }
    this.ring = new Uint8Array(windowRows * this.slots.length).fill(ABSENT);
    this.counts = new Uint32Array(base);
    this.present = new Uint32Array(this.slots.length);
  }

  /** Rows in the window now. */
  get rows(): number {
    return this.filled;
  }

  /** Adds a batch's rows, dropping the oldest beyond the window; returns the rows added. */
  add(batch: RowBatch): number {
    const n = this.slots.length;
    const inputs: { first: number; features: number; values: ArrayLike<number> }[] = [];
    for (const [name, values] of batch.inputs) {
      const at = this.byInput.get(name);
      if (at && values.length === batch.rows * at.features) inputs.push({ ...at, values });
    }
    const outputs: { slot: number; values: ArrayLike<unknown> }[] = [];
    for (const [name, values] of batch.outputs) {
      const slot = this.byOutput.get(name);
      if (slot !== undefined && values.length === batch.rows) outputs.push({ slot, values });
    }
    for (let r = 0; r < batch.rows; r++) {
      const row = this.next * n;
      for (let s = 0; s < n; s++) {
        const old = this.ring[row + s];
        if (old !== ABSENT) {
          this.counts[this.slots[s].base + old]--;
          this.present[s]--;
        }
        this.ring[row + s] = ABSENT;
      }
      for (const { first, features, values } of inputs) {
        for (let j = 0; j < features; j++) {
          const s = first + j;
          const slot = this.slots[s];
          const bin = binOf(slot.edges as number[], Number(values[r * features + j]));
          this.ring[row + s] = bin;
          this.counts[slot.base + bin]++;
          this.present[s]++;
        }
      }
      for (const { slot: s, values } of outputs) {
        const slot = this.slots[s];
        const bin = (slot.classes as ReadonlyMap<string, number>).get(String(values[r])) ?? slot.bins - 1;
        this.ring[row + s] = bin;
        this.counts[slot.base + bin]++;
        this.present[s]++;
      }
      this.next = (this.next + 1) % this.windowRows;
      if (this.filled < this.windowRows) this.filled++;
    }
    return batch.rows;
  }

  /** PSI of every input feature (the largest) and class output, null until the window is full. */
  read(): DriftReading {
    if (this.filled < this.windowRows) return { inputPsi: null, outputPsi: null, windowRows: this.filled };
    let inputPsi: number | null = null;
    let feature: string | undefined;
    let outputPsi: number | null = null;
    for (const [s, slot] of this.slots.entries()) {
      if (this.present[s] === 0) continue;
      const actual = new Float64Array(slot.bins);
      for (let b = 0; b < slot.bins; b++) actual[b] = this.counts[slot.base + b] / this.present[s];
      const value = psi(slot.expected, actual);
      if (slot.kind === 'output') outputPsi = Math.max(outputPsi ?? 0, value);
      else if (inputPsi === null || value > inputPsi) {
        inputPsi = value;
        feature = slot.label;
      }
    }
    return { inputPsi, ...(feature === undefined ? {} : { feature }), outputPsi, windowRows: this.filled };
  }
}

/**
 * Collects a revision's first rows and makes them its reference ({@link edgesFor} per feature,
 * the classes seen per class output): for a model served without a profile. An output counts as a
 * class output when every value it gave is an integer or a string.
 */
export class LiveReference {
  private readonly inputs = new Map<string, { features: number; values: number[][] }>();
  private readonly outputs = new Map<string, unknown[]>();
  private rows = 0;

  constructor(readonly referenceRows: number) {}

  /** Whether enough rows came to build the reference. */
  get complete(): boolean {
    return this.rows >= this.referenceRows;
  }

  /**
   * Takes rows of a batch until the reference is complete; returns how many it took. The first
   * batch fixes the inputs and outputs (and each input's features); later batches must match.
   */
  add(batch: RowBatch): number {
    if (this.complete || batch.rows === 0) return 0;
    if (this.rows === 0) {
      for (const [name, values] of batch.inputs) {
        if (values.length % batch.rows === 0 && values.length > 0) {
          const features = values.length / batch.rows;
          this.inputs.set(name, { features, values: Array.from({ length: features }, () => []) });
        }
      }
      for (const name of batch.outputs.keys()) this.outputs.set(name, []);
    }
    for (const [name, at] of this.inputs) {
      if (batch.inputs.get(name)?.length !== batch.rows * at.features) return 0;
    }
    for (const name of this.outputs.keys()) if (batch.outputs.get(name)?.length !== batch.rows) return 0;
    const take = Math.min(batch.rows, this.referenceRows - this.rows);
    for (const [name, at] of this.inputs) {
      const values = batch.inputs.get(name) as ArrayLike<number>;
      for (let r = 0; r < take; r++) {
        for (let j = 0; j < at.features; j++) at.values[j].push(Number(values[r * at.features + j]));
      }
    }
    for (const [name, seen] of this.outputs) {
      const values = batch.outputs.get(name) as ArrayLike<unknown>;
      for (let r = 0; r < take; r++) seen.push(values[r]);
    }
    this.rows += take;
    return take;
  }

  /** The reference profile of the rows collected (call once {@link complete}). */
  profile(): ReferenceProfile {
    const share = (counts: number[], n: number) => counts.map((c) => c / n);
    const inputs = [...this.inputs].map(([name, at]) => ({
      name,
      features: at.values.map((values) => {
        const edges = edgesFor(values);
        const counts = new Array<number>(edges.length + 1).fill(0);
        for (const v of values) counts[binOf(edges, v)]++;
        return { edges, proportions: share(counts, values.length) };
      }),
    }));
    const outputs: ProfileOutput[] = [];
    for (const [name, seen] of this.outputs) {
      if (!seen.every((v) => typeof v === 'string' || Number.isInteger(v))) continue;
      const counts = new Map<string | number, number>();
      for (const v of seen as (string | number)[]) counts.set(v, (counts.get(v) ?? 0) + 1);
      if (counts.size + 1 > MAX_BINS) continue;
      const classes = [...counts.keys()];
      outputs.push({ name, classes, proportions: share([...counts.values()], seen.length) });
    }
    return { version: 1, rows: this.rows, inputs, outputs };
  }
}
