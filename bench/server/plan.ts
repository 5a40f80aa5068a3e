/**
 * What the server benchmark measures: which servers run (one at a time), and which cells each one
 * is measured in. Pure data; the runner executes it in order.
 */

/** The three architectures compared. */
export type ServerKind = 'modelship' | 'flask' | 'echo';
/** The V2 request encodings: plain JSON, or the binary tensor data extension. */
export type Payload = 'json' | 'binary';
/** The fixture models (test/fixtures/models/<name>.onnx). */
export type ModelName = 'tiny' | 'mlp';

export const MODELS: readonly ModelName[] = ['tiny', 'mlp'];
export const PAYLOADS: readonly Payload[] = ['json', 'binary'];

/** One server process as the runner starts it. */
export interface ServerSpec {
  /** Unique id, also the log file name. */
  id: string;
  kind: ServerKind;
  /** The model it loads; the echo loads none and answers every request alike. */
  model?: ModelName;
  /** Dynamic batching on or off (our server only). */
  batching?: boolean;
}

/** One measured cell: one server, one request body, fixed duration at fixed concurrency. */
export interface Cell {
  server: string;
  kind: ServerKind;
  model: ModelName;
  payload: Payload;
  /** Our server's batching setting; null for the other servers. */
  batching: boolean | null;
}

/** A server and the cells measured while it runs. */
export interface PlannedServer {
  spec: ServerSpec;
  cells: Cell[];
}

function cellsFor(spec: ServerSpec, models: readonly ModelName[]): Cell[] {
  return models.flatMap((model) =>
    PAYLOADS.map((payload) => ({
      server: spec.id,
      kind: spec.kind,
      model,
      payload,
      batching: spec.kind === 'modelship' ? (spec.batching ?? true) : null,
    })),
  );
}

/**
 * The whole benchmark in run order. The echo is measured with every model's bodies (its ceiling
 * depends on the body size, not the model); our server runs the MLP twice, batching on and off.
 */
export function benchPlan(): PlannedServer[] {
  const specs: { spec: ServerSpec; models: readonly ModelName[] }[] = [
    { spec: { id: 'echo', kind: 'echo' }, models: MODELS },
    ...MODELS.map((model) => ({ spec: { id: `flask-${model}`, kind: 'flask' as const, model }, models: [model] })),
    ...MODELS.map((model) => ({
      spec: { id: `modelship-${model}`, kind: 'modelship' as const, model, batching: true },
      models: [model],
    })),
    { spec: { id: 'modelship-mlp-unbatched', kind: 'modelship', model: 'mlp', batching: false }, models: ['mlp'] },
  ];
  return specs.map(({ spec, models }) => ({ spec, cells: cellsFor(spec, models) }));
}

/** A short human label for a cell's server, as tables and charts show it. */
export function serverLabel(cell: Pick<Cell, 'kind' | 'batching'>): string {
  switch (cell.kind) {
    case 'echo':
      return 'node:http echo';
    case 'flask':
      return 'Flask+gunicorn';
    case 'modelship':
      return cell.batching === false ? 'Modelship (no batching)' : 'Modelship';
  }
}
