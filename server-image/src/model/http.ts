/**
 * http(s):// models: a GET, following redirects, with the URI's user:password sent as Basic auth and
 * the storage CA bundle trusted beside the system's. Over http1.ts rather than node:http or fetch():
 * it reads the body in large buffers, for a fraction of their CPU per byte (its header says why).
 */
import { ModelLoadError } from '../dataplane/types.js';
import { causeMessage, errorCode, reasonForConnectionError, reasonForStatus } from './errors.js';
import { request as http1Request, type Http1Response } from './http1.js';
import type { RemoteObject, RemoteRequest, RemoteSource } from './remote.js';
import { redactUri } from './source.js';

/** As many as browsers and curl allow by default is more than any model host needs. */
const MAX_REDIRECTS = 5;

/** One request, without following redirects; rejects with a ModelLoadError when no answer comes. */
async function send(
  method: 'GET' | 'HEAD',
  verb: string,
  url: URL,
  headers: Record<string, string>,
  request: RemoteRequest,
): Promise<Http1Response> {
  try {
    return await http1Request(url, {
      method,
      headers,
      caPem: request.settings.caPem,
      signal: request.signal,
    });
  } catch (err) {
    throw new ModelLoadError(
      `${verb} model ${redactUri(request.uri)}: ${causeMessage(err)}`,
      reasonForConnectionError(errorCode(err)),
    );
  }
}

/**
 * GET or HEAD the URI, following redirects. Credentials in the URI become Basic auth and are sent to
 * the URI's own origin only, as fetch() does. `verb` names the step in errors.
 */
async function get(
  request: RemoteRequest,
  method: 'GET' | 'HEAD',
  verb: 'fetch' | 'probe',
  extra: Record<string, string> = {},
): Promise<Http1Response> {
  const origin = new URL(request.uri);
  const auth =
    origin.username !== '' || origin.password !== ''
      ? `Basic ${Buffer.from(`${decodeURIComponent(origin.username)}:${decodeURIComponent(origin.password)}`).toString('base64')}`
      : undefined;
  let url = new URL(origin);
  url.username = '';
  url.password = '';
  for (let redirects = 0; ; redirects++) {
    const headers: Record<string, string> = { ...extra };
    if (auth !== undefined && url.origin === origin.origin) headers.authorization = auth;
    const res = await send(method, verb, url, headers, request);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status < 300 || status >= 400 || location === undefined) return res;
    res.body.destroy();
    if (redirects === MAX_REDIRECTS) {
      throw new ModelLoadError(
        `${verb} model ${redactUri(request.uri)}: more than ${MAX_REDIRECTS} redirects`,
        'ModelSourceInvalid',
      );
    }
    url = new URL(location, url);
  }
}

/** A ModelLoadError for an answer that is not the object. */
function refused(request: RemoteRequest, verb: string, res: Http1Response): ModelLoadError {
  res.body.destroy();
  const status = res.statusCode ?? 0;
  return new ModelLoadError(
    `${verb} model ${redactUri(request.uri)}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd(),
    reasonForStatus(status),
  );
}

/** Models served over HTTP(S). */
export const httpSource: RemoteSource = {
  async open(request: RemoteRequest): Promise<RemoteObject> {
    const res = await get(request, 'GET', 'fetch');
    if (res.statusCode !== 200) throw refused(request, 'fetch', res);
    const length = Number(res.headers['content-length']);
    return { body: res.body, ...(Number.isSafeInteger(length) ? { bytes: length } : {}) };
  },

  async probe(request: RemoteRequest): Promise<void> {
    const head = await get(request, 'HEAD', 'probe');
    head.body.destroy();
    if (head.statusCode !== 405) {
      if ((head.statusCode ?? 0) >= 300) throw refused(request, 'probe', head);
      return;
    }
    // Some hosts (pre-signed URLs among them) refuse HEAD: ask for the first byte instead.
    const first = await get(request, 'GET', 'probe', { range: 'bytes=0-0' });
    first.body.destroy();
    if (first.statusCode !== 200 && first.statusCode !== 206) throw refused(request, 'probe', first);
  },
};
