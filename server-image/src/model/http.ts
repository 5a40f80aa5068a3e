/**
 * http(s):// models: a GET, following redirects, with the URI's user:password sent as Basic auth and
 * the storage CA bundle trusted beside the system's. node:http rather than fetch(): its response is
 * a plain Readable (no web-stream conversion in the hot path) and it takes an https.Agent for the CA.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ModelLoadError } from '../dataplane/types.js';
import { causeMessage, errorCode, reasonForConnectionError, reasonForStatus } from './errors.js';
import type { RemoteObject, RemoteRequest, RemoteSource } from './remote.js';
import { redactUri } from './source.js';

/** As many as browsers and curl allow by default is more than any model host needs. */
const MAX_REDIRECTS = 5;

/** The https.Agent trusting `caPem` beside the system's roots (`ca` alone would replace them). */
function agentFor(url: URL, caPem: string | undefined): https.Agent | undefined {
  if (url.protocol !== 'https:' || caPem === undefined) return undefined;
  return new https.Agent({ ca: [...rootCertificates, caPem] });
}

/** One request, without following redirects; rejects with a ModelLoadError when no answer comes. */
function send(
  method: 'GET' | 'HEAD',
  verb: string,
  url: URL,
  headers: Record<string, string>,
  request: RemoteRequest,
): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method,
      headers,
      agent: agentFor(url, request.settings.caPem),
      signal: request.signal,
    });
    req.once('response', resolve);
    req.once('error', (err) =>
      reject(
        new ModelLoadError(
          `${verb} model ${redactUri(request.uri)}: ${causeMessage(err)}`,
          reasonForConnectionError(errorCode(err)),
        ),
      ),
    );
    req.end();
  });
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
): Promise<IncomingMessage> {
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
    res.resume();
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
function refused(request: RemoteRequest, verb: string, res: IncomingMessage): ModelLoadError {
  res.resume();
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
    return { body: res, ...(Number.isSafeInteger(length) ? { bytes: length } : {}) };
  },

  async probe(request: RemoteRequest): Promise<void> {
    const head = await get(request, 'HEAD', 'probe');
    head.resume();
    if (head.statusCode !== 405) {
      if ((head.statusCode ?? 0) >= 300) throw refused(request, 'probe', head);
      return;
    }
    // Some hosts (pre-signed URLs among them) refuse HEAD: ask for the first byte instead.
    const first = await get(request, 'GET', 'probe', { range: 'bytes=0-0' });
    first.destroy();
    if (first.statusCode !== 200 && first.statusCode !== 206) throw refused(request, 'probe', first);
  },
};
