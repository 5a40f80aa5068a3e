/**
 * Open Inference Protocol (V2) REST adapter: health, server and model metadata, readiness and
 * inference, in JSON or with the binary tensor data extension (see ./binary.ts). The request
 * decoder and response encoder are pure; the routes only move bytes between them and the data plane.
 */
import type { ServerResponse } from 'node:http';
import { Router, type Request, type Response } from 'express';
import { InferError, type InferRequest, type InferResponse, type Tensor } from '../dataplane/types.js';
import type { DataType } from '../../../contract/metadata.js';
import { HEADER_LENGTH, decodeTensorBytes, encodeBinaryBody, encodeTensorBytes, splitBody } from './binary.js';
import { HttpError } from './errors.js';
import { parseInferJson } from './inferjson.js';
import { checkResponseSize } from './limits.js';
import { dataToJson, describeValue, elementCount, flatten, isDataType, parseShape, typedFromJson } from './tensors.js';
import { methodNotAllowed, modelReadiness, routeName, sendBody, sendJson, type HttpContext } from './context.js';

/** A decoded V2 request plus which outputs the client wants back as binary data. */
export interface DecodedInfer {
  request: InferRequest;
  /** Whether output `name` is to be sent as binary data. */
  binaryOutput(name: string): boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `parameters` as the protocol defines them: an object whose values are strings, numbers or booleans. */
function optionalParameters(where: string, v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw new InferError('invalid', `${where}: parameters must be a JSON object`);
  for (const [key, value] of Object.entries(v)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new InferError(
        'invalid',
        `${where}: parameter '${key}' must be a string, number or boolean, got ${describeValue(value)}`,
      );
    }
  }
  return v;
}

/**
 * Decode a V2 infer body. `headerLength` is the Inference-Header-Content-Length value when the
 * request uses the binary extension; then inputs with `parameters.binary_data_size` take their
 * bytes, in order, from after the JSON header, and the bytes must be used up exactly.
 */
export function decodeInferRequest(body: Buffer, headerLength: string | undefined): DecodedInfer {
  const { header, data } =
    headerLength === undefined ? { header: body, data: Buffer.alloc(0) } : splitBody(body, headerLength);
  let json: unknown;
  try {
    json = parseInferJson(header);
  } catch (err) {
    throw new HttpError(400, `malformed JSON in request body: ${(err as Error).message}`);
  }
  if (!isObject(json)) throw new InferError('invalid', 'request body must be a JSON object with "inputs"');
  if (json.id !== undefined && typeof json.id !== 'string')
    throw new InferError('invalid', `"id" must be a string, got ${describeValue(json.id)}`);
  const parameters = optionalParameters('request', json.parameters);
  if (!Array.isArray(json.inputs) || json.inputs.length === 0)
    throw new InferError('invalid', '"inputs" must be a non-empty array');

  let offset = 0;
  const inputs: Tensor[] = json.inputs.map((raw: unknown, i: number): Tensor => {
    if (!isObject(raw)) throw new InferError('invalid', `inputs[${i}] must be an object`);
    if (typeof raw.name !== 'string' || raw.name === '')
      throw new InferError('invalid', `inputs[${i}]: "name" must be a non-empty string`);
    const name = raw.name;
    if (!isDataType(raw.datatype))
      throw new InferError('invalid', `input '${name}': unknown datatype ${describeValue(raw.datatype)}`);
    const datatype: DataType = raw.datatype;
    const shape = parseShape(name, raw.shape);
    const count = elementCount(shape);
    const params = optionalParameters(`input '${name}'`, raw.parameters);
    const { binary_data_size: binarySize, ...rest } = params ?? {};
    const tensorParams = Object.keys(rest).length > 0 ? rest : undefined;
    if (binarySize !== undefined) {
      if (headerLength === undefined) {
        throw new InferError(
          'invalid',
          `input '${name}': binary_data_size given but the request has no Inference-Header-Content-Length header`,
        );
      }
      if (!Number.isSafeInteger(binarySize) || (binarySize as number) < 0) {
        throw new InferError('invalid', `input '${name}': binary_data_size must be a non-negative integer`);
      }
      const size = binarySize as number;
      if (offset + size > data.length) {
        throw new InferError(
          'invalid',
          `input '${name}': binary_data_size ${size} runs past the end of the body (${data.length - offset} bytes left)`,
        );
      }
      const bytes = data.subarray(offset, offset + size);
      offset += size;
      return { name, datatype, shape, data: decodeTensorBytes(name, datatype, bytes, count), parameters: tensorParams };
    }
    // parseInferJson has already read an array of numbers into a flat Float64Array.
    if (!Array.isArray(raw.data) && !(raw.data instanceof Float64Array)) {
      throw new InferError('invalid', `input '${name}': "data" must be an array (or use binary_data_size)`);
    }
    const values = raw.data instanceof Float64Array ? raw.data : flatten(name, raw.data);
    if (values.length !== count) {
      throw new InferError(
        'invalid',
        `input '${name}': shape ${JSON.stringify(shape)} needs ${count} elements, data has ${values.length}`,
      );
    }
    return { name, datatype, shape, data: typedFromJson(name, datatype, values), parameters: tensorParams };
  });
  if (offset !== data.length) {
    throw new InferError(
      'invalid',
      `binary data has ${data.length} bytes but the inputs' binary_data_size add up to ${offset}`,
    );
  }

  let outputs: InferRequest['outputs'];
  const binaryByName = new Map<string, boolean>();
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) throw new InferError('invalid', '"outputs" must be an array');
    outputs = json.outputs.map((raw: unknown, i: number) => {
      if (!isObject(raw) || typeof raw.name !== 'string')
        throw new InferError('invalid', `outputs[${i}] must be an object with a "name"`);
      const params = optionalParameters(`output '${raw.name}'`, raw.parameters);
      if (typeof params?.binary_data === 'boolean') binaryByName.set(raw.name, params.binary_data);
      return params ? { name: raw.name, parameters: params } : { name: raw.name };
    });
  }
  const binaryAll = parameters?.binary_data_output === true;
  return {
    request: { id: json.id as string | undefined, inputs, outputs, parameters },
    binaryOutput: (name) => binaryByName.get(name) ?? binaryAll,
  };
}

/** An encoded V2 response: JSON, or the binary extension's header + bytes. */
export interface EncodedResponse {
  body: Buffer | string;
  contentType: string;
  /** Set when the body uses the binary extension. */
  headerLength?: number;
}

/** Encode a data-plane response; outputs for which `binaryOutput` is true go as raw bytes. */
export function encodeInferResponse(response: InferResponse, binaryOutput: (name: string) => boolean): EncodedResponse {
  const blobs: Buffer[] = [];
  const outputs = response.outputs.map((o) => {
    const head = `{"name":${JSON.stringify(o.name)},"datatype":${JSON.stringify(o.datatype)},"shape":${JSON.stringify(o.shape)}`;
    if (binaryOutput(o.name)) {
      const bytes = encodeTensorBytes(o.data);
      blobs.push(bytes);
      return `${head},"parameters":${JSON.stringify({ ...o.parameters, binary_data_size: bytes.length })}}`;
    }
    const params =
      o.parameters && Object.keys(o.parameters).length > 0 ? `,"parameters":${JSON.stringify(o.parameters)}` : '';
    return `${head}${params},"data":${dataToJson(o.datatype, o.data)}}`;
  });
  let header = `{"model_name":${JSON.stringify(response.model_name)},"model_version":${JSON.stringify(response.model_version)}`;
  if (response.id !== undefined) header += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters && Object.keys(response.parameters).length > 0)
    header += `,"parameters":${JSON.stringify(response.parameters)}`;
  header += `,"outputs":[${outputs.join(',')}]}`;
  if (blobs.length === 0) return { body: header, contentType: 'application/json' };
  const { body, headerLength } = encodeBinaryBody(header, blobs);
  return { body, contentType: 'application/octet-stream', headerLength };
}

/** Run one V2 infer request end to end: decode, infer, encode. */
export async function inferV2(
  ctx: HttpContext,
  name: string,
  version: string | undefined,
  body: Buffer,
  headerLength: string | undefined,
): Promise<EncodedResponse> {
  // The model first: a request to a model or version not served here is a 404 whatever its body.
  ctx.dataPlane.checkServed(name, version);
  const decoded = decodeInferRequest(body, headerLength);
  const response = await ctx.dataPlane.infer(name, version, decoded.request);
  checkResponseSize(response.outputs, {
    maxBytes: ctx.maxResponseBytes,
    binary: decoded.binaryOutput,
    fewer: 'rows',
    askBinary: 'parameters.binary_data_output: true',
  });
  return encodeInferResponse(response, decoded.binaryOutput);
}

/** Write an encoded V2 response, with the binary extension's header when it applies. */
export function sendEncoded(res: ServerResponse, encoded: EncodedResponse): void {
  if (encoded.headerLength !== undefined)
    res.setHeader('Inference-Header-Content-Length', String(encoded.headerLength));
  sendBody(res, 200, encoded.contentType, encoded.body);
}

/**
 * The V2 routes, mounted at the app's root. Inference usually arrives through the hot path
 * (./hotpath.ts); this route serves what it passes on (compressed bodies).
 */
export function v2Routes(ctx: HttpContext): Router {
  const router = Router();
  const dp = ctx.dataPlane;
  const version = (req: Request): string | undefined => (req.params as Record<string, string | undefined>).version;

  router
    .route('/v2/health/live')
    .get(routeName('v2_live'), (_req, res) =>
      dp.live() ? sendJson(res, 200, { live: true }) : sendJson(res, 503, { live: false }),
    )
    .all(methodNotAllowed('GET'));
  router
    .route('/v2/health/ready')
    .get(routeName('v2_ready'), (_req, res) =>
      ctx.ready() ? sendJson(res, 200, { ready: true }) : sendJson(res, 503, { ready: false }),
    )
    .all(methodNotAllowed('GET'));
  router
    .route('/v2')
    .get(routeName('v2_server'), (_req, res) => sendJson(res, 200, dp.serverMetadata()))
    .all(methodNotAllowed('GET'));
  router
    .route('/v2/models/:name{/versions/:version}/ready')
    .get(routeName('v2_model_ready'), (req, res) => {
      const name = req.params.name as string;
      const ready = modelReadiness(ctx, name, version(req));
      sendJson(res, ready ? 200 : 503, { name, ready });
    })
    .all(methodNotAllowed('GET'));
  router
    .route('/v2/models/:name{/versions/:version}/infer')
    .post(routeName('v2_infer'), async (req: Request, res: Response) => {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      sendEncoded(res, await inferV2(ctx, req.params.name as string, version(req), body, req.get(HEADER_LENGTH)));
    })
    .all(methodNotAllowed('POST'));
  router
    .route('/v2/models/:name{/versions/:version}')
    .get(routeName('v2_model_metadata'), (req, res) =>
      sendJson(res, 200, dp.metadata(req.params.name as string, version(req))),
    )
    .all(methodNotAllowed('GET'));
  return router;
}
