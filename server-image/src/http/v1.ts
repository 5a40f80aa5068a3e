/**
 * KServe V1 adapter: liveness at `GET /`, the model list at `GET /v1/models`, model status at
 * `GET /v1/models/{name}` and `POST /v1/models/{name}:predict`, as KServe's model server answers
 * them (its Python client's V1 `is_server_live()` asks `GET /` for `{"status": "alive"}`). Instances are
 * rows: for a model with one input each instance is that input's row (nested arrays or a scalar),
 * stacked into one batch tensor whose datatype comes from the model's metadata; a model with
 * several inputs takes each instance as an object keyed by input name. Predictions are the rows of
 * the single output, or objects keyed by output name when there are several (see predictionsFrom
 * for outputs without a batch dimension). Integers are exact both ways (./jsonexact.ts).
 */
import { Router, type Request, type Response } from 'express';
import { InferError, type InferRequest, type InferResponse, type Tensor } from '../dataplane/types.js';
import type { ModelMetadata } from '../../../contract/metadata.js';
import { HttpError } from './errors.js';
import { parseJsonExact } from './jsonexact.js';
import { elementCount, flatten, rowToJsonValue, tensorToJsonValue, typedFromJson } from './tensors.js';
import { methodNotAllowed, modelReadiness, routeName, sendBody, sendJson, type HttpContext } from './context.js';
import { checkResponseSize } from './limits.js';

/** The shape of a JSON value: [] for a scalar, [len, ...] for a (rectangular) nested array. */
export function shapeOf(value: unknown): number[] {
  const shape: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse a V1 body into its instances; 400 for malformed JSON or a missing `instances` array.
 * Every number in it is instance data, so every integer beyond 2^53 is read exactly (a bigint).
 */
export function parseInstances(body: Buffer): unknown[] {
  let json: unknown;
  try {
    json = parseJsonExact(body.toString('utf8'), false);
  } catch (err) {
    throw new HttpError(400, `malformed JSON in request body: ${(err as Error).message}`);
  }
  const instances = isObject(json) ? (json.instances ?? json.inputs) : undefined;
  if (!Array.isArray(instances) || instances.length === 0) {
    throw new InferError('invalid', 'request body must be a JSON object with a non-empty "instances" array');
  }
  return instances;
}

/** Build one batch request from V1 instances, using the model's input metadata for names and dtypes. */
export function instancesToRequest(instances: readonly unknown[], meta: ModelMetadata): InferRequest {
  const keyed = meta.inputs.length > 1 || instances.every(isObject);
  if (keyed && !instances.every(isObject)) {
    const names = meta.inputs.map((i) => i.name).join(', ');
    throw new InferError(
      'invalid',
      `model '${meta.name}' has inputs ${names}: send each instance as an object keyed by input name`,
    );
  }
  const inputs: Tensor[] = meta.inputs.map((input) => {
    let rowShape: number[] | undefined;
    const values: unknown[] = [];
    instances.forEach((instance, i) => {
      const row = keyed ? (instance as Record<string, unknown>)[input.name] : instance;
      if (row === undefined) throw new InferError('invalid', `instances[${i}]: missing input '${input.name}'`);
      const shape = shapeOf(row);
      const flat = Array.isArray(row) ? flatten(input.name, row) : [row];
      if (flat.length !== elementCount(shape)) {
        throw new InferError('invalid', `instances[${i}]: input '${input.name}' is not a rectangular array`);
      }
      if (rowShape === undefined) rowShape = shape;
      else if (shape.length !== rowShape.length || shape.some((d, k) => d !== rowShape?.[k])) {
        throw new InferError(
          'invalid',
          `instances[${i}]: input '${input.name}' has shape ${JSON.stringify(shape)}, instances[0] has ${JSON.stringify(rowShape)}`,
        );
      }
      for (const v of flat) values.push(v);
    });
    const shape = [instances.length, ...(rowShape ?? [])];
    return {
      name: input.name,
      datatype: input.datatype,
      shape,
      data: typedFromJson(input.name, input.datatype, values),
    };
  });
  return { inputs };
}

/** Whether an output has one row per instance: a first dimension equal to the number of rows. */
function splitsIntoRows(o: Tensor, rows: number): boolean {
  return o.shape.length > 0 && o.shape[0] === rows;
}

/**
 * One prediction per row: the output's row, or objects keyed by output name when there are
 * several. An output without one row per instance (a scalar, say) belongs to no row in
 * particular, so each row's object carries it whole.
 */
export function rowPredictions(response: InferResponse, rows: number): unknown[] {
  const valueAt = (o: Tensor, r: number): unknown =>
    splitsIntoRows(o, rows)
      ? rowToJsonValue(o.datatype, o.data, o.shape, r)
      : tensorToJsonValue(o.datatype, o.data, o.shape);
  const predictions: unknown[] = new Array(rows);
  for (let r = 0; r < rows; r++) {
    if (response.outputs.length === 1) predictions[r] = valueAt(response.outputs[0], r);
    else predictions[r] = Object.fromEntries(response.outputs.map((o) => [o.name, valueAt(o, r)]));
  }
  return predictions;
}

/**
 * The `predictions` value for a response to `rows` instances. KServe's own model server answers
 * `{"predictions": result.tolist()}`: for a model's single output that is its list of rows, and for
 * an output without one row per instance (a scalar, shape []) the output itself, unsplit. So
 * here: one output that does not split into rows is the predictions whole (a bare number for a
 * scalar); otherwise see rowPredictions.
 */
export function predictionsFrom(response: InferResponse, rows: number): unknown {
  const only = response.outputs.length === 1 ? response.outputs[0] : undefined;
  if (only !== undefined && !splitsIntoRows(only, rows)) return tensorToJsonValue(only.datatype, only.data, only.shape);
  return rowPredictions(response, rows);
}

/** Run one V1 predict request end to end; resolves with the JSON response text. */
export async function predictV1(ctx: HttpContext, name: string, body: Buffer): Promise<string> {
  // The model first: a request to a model not served here is a 404 whatever its body.
  const meta = ctx.dataPlane.metadata(name);
  const instances = parseInstances(body);
  // A model with a fixed batch of 1 cannot take the rows stacked: run each row on its own.
  const fixedSingle = meta.inputs.every((i) => i.shape[0] === 1) && instances.length > 1;
  const groups = fixedSingle ? instances.map((i) => [i]) : [instances];
  const responses = await Promise.all(
    groups.map((g) => ctx.dataPlane.infer(name, undefined, instancesToRequest(g, meta))),
  );
  checkResponseSize(
    responses.flatMap((r) => r.outputs),
    { maxBytes: ctx.maxResponseBytes, binary: () => false, fewer: 'instances' },
  );
  // Run row by row, each instance's prediction is its response's only row.
  const predictions = fixedSingle
    ? responses.map((r) => rowPredictions(r, 1)[0])
    : predictionsFrom(responses[0], instances.length);
  return JSON.stringify({ predictions });
}

/**
 * The V1 routes, mounted at the app's root. Predictions usually arrive through the hot path
 * (./hotpath.ts); this route serves what it passes on (compressed bodies).
 */
export function v1Routes(ctx: HttpContext): Router {
  const router = Router();

  router
    .route(/^\/v1\/models\/([^/]+):predict$/)
    .post(routeName('v1_predict'), async (req: Request, res: Response) => {
      const name = (req.params as Record<string, string>)[0];
      sendBody(
        res,
        200,
        'application/json',
        await predictV1(ctx, name, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)),
      );
    })
    .all(methodNotAllowed('POST'));
  router
    .route('/')
    .get(routeName('v1_live'), (_req, res) =>
      ctx.dataPlane.live() ? sendJson(res, 200, { status: 'alive' }) : sendJson(res, 503, { status: 'not alive' }),
    )
    .all(methodNotAllowed('GET'));
  router
    .route('/v1/models')
    .get(routeName('v1_models'), (_req, res) => sendJson(res, 200, { models: ctx.dataPlane.models() }))
    .all(methodNotAllowed('GET'));
  router
    .route('/v1/models/:name')
    .get(routeName('v1_model'), (req, res) => {
      const name = req.params.name as string;
      const ready = modelReadiness(ctx, name, undefined);
      sendJson(res, ready ? 200 : 503, { name, ready });
    })
    .all(methodNotAllowed('GET'));
  return router;
}
