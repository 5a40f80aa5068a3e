/**
 * A small client of the OCI distribution API for one repository: manifests and blobs, with the registry's token or
 * Basic auth (answered once per 401, then reused), a private CA, plain HTTP for a local registry, and blob redirects
 * followed by hand so that the registry's Authorization never reaches the storage backend a pre-signed URL points at.
 *
 * Hand-written over undici (already a dependency) because npm has no well-kept registry client: `oci-client`,
 * `@oras-project/*` and `regclient` do not exist there; `docker-registry-client` (joyent) sits on restify and
 * bunyan and speaks the Docker v2 manifest only; `@snyk/docker-registry-v2-client` is a scanner's helper (needle,
 * no OCI artifacts, no streaming API of its own). What is needed here is four requests and a token exchange.
 * The blob itself, the model's bytes, comes over http1.ts, which reads it for a fraction of undici's CPU.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { request as http1Request } from './http1.js';
import type { FetchFailureReason } from '../../../contract/model-source.js';
import { ModelLoadError } from '../dataplane/types.js';
import type { StoreSettings } from './remote.js';
import {
  basicAuthorization,
  dockerConfigCredentials,
  parseWwwAuthenticate,
  tokenFromResponse,
  tokenRequest,
  type AuthChallenge,
  type RegistryCredentials,
  type TokenRequest,
} from './oci-auth.js';
import { MANIFEST_ACCEPT } from './oci-manifest.js';
import type { OciReference } from './oci-ref.js';

/** A manifest as fetched: its bytes, their sha256 (`sha256:<hex>`) and the Content-Type it came with. */
export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  contentType?: string;
}

/** A manifest larger than this is no model artifact's (oras's are under 1 KiB); read no further. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Error and token bodies are small; read no more of them. */
const MAX_SMALL_BODY = 1024 * 1024;
/** Pre-signed URL hops a blob may take (registry → CDN → bucket...). */
const MAX_REDIRECTS = 5;

/** Connection errors meaning the TLS setup (not the network) is wrong: another attempt cannot help. */
const TLS_SETUP_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

/** One Agent per CA bundle: connections are kept alive across fetches and probes of the same store. */
const agents = new Map<string, Agent>();

function dispatcherFor(caPem: string | undefined): Dispatcher | undefined {
  if (caPem === undefined || caPem.trim() === '') return undefined;
  let agent = agents.get(caPem);
  if (agent === undefined) {
    // `ca` replaces Node's roots: keep them, so a public registry still verifies beside the private CA.
    agent = new Agent({ connect: { ca: [...rootCertificates, caPem] } });
    agents.set(caPem, agent);
  }
  return agent;
}

/** Docker Hub's API is not at the name users write. */
function apiHost(registry: string): string {
  return registry.toLowerCase() === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** What this client reads of an answer, from undici or from http1.ts. */
interface Answer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Sends one request; rejects with a ModelLoadError when no answer comes. */
type Send = (what: string, method: 'GET' | 'HEAD', url: URL, headers: Record<string, string>) => Promise<Answer>;

/** Lets go of an answer's body: undici's is read to its end, so its connection is kept; http1's connection closes. */
async function release(body: Readable): Promise<void> {
  const dump = (body as Partial<Dispatcher.ResponseData['body']>).dump;
  if (dump !== undefined) await dump.call(body);
  else body.destroy();
}

function header(headers: Answer['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Read a body of at most `max` bytes (feeding `hash` if given); undefined (the body destroyed) past that. */
async function readBounded(body: Readable, max: number, hash?: Hash): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    hash?.update(chunk);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** `CODE: message` of a registry's error body (`{"errors": [{code, message}]}`), else ''. */
async function registryError(response: Answer): Promise<string> {
  const text = (await readBounded(response.body, MAX_SMALL_BODY).catch(() => undefined))?.toString('utf8') ?? '';
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: unknown; message?: unknown }[] }).errors ?? [];
    return errors
      .map((e) => [e.code, e.message].filter((s) => typeof s === 'string' && s !== '').join(': '))
      .filter((s) => s !== '')
      .join('; ')
      .slice(0, 300);
  } catch {
    return '';
  }
}

/** The failure reason of an HTTP status of the registry. */
function statusReason(status: number): FetchFailureReason {
  if (status === 404) return 'ModelNotFound';
  if (status === 401 || status === 403) return 'ModelAccessDenied';
  if (status === 429 || status >= 500) return 'ModelSourceUnavailable';
  return 'ModelSourceInvalid';
}

/**
 * A client of one repository of one registry, for the length of one fetch or probe. Every failure is a
 * ModelLoadError with a FetchFailureReason, whose message begins with `what` (the verb and the reference) and never
 * holds a credential.
 */
export class OciClient {
  private readonly base: string;
  private readonly dispatcher: Dispatcher | undefined;
  /** PEM CA certificates trusted beside Node's roots, for http1.ts. */
  private readonly caPem: string | undefined;
  private readonly credentials: RegistryCredentials | undefined;
  /** The Authorization that answered the registry's challenge, reused for the later requests. */
  private authorization: string | undefined;

  constructor(
    private readonly ref: OciReference,
    settings: StoreSettings,
    private readonly signal: AbortSignal,
  ) {
    this.base = `${settings.plainHttp === true ? 'http' : 'https'}://${apiHost(ref.registry)}`;
    this.dispatcher = dispatcherFor(settings.caPem);
    this.caPem = settings.caPem;
    const config = settings.credentials.ociDockerConfigJson;
    this.credentials = config === undefined ? undefined : dockerConfigCredentials(config, ref.registry);
  }

  /** HEAD (probe) or GET the manifest `reference` (a tag or digest); GET reads at most MAX_MANIFEST_BYTES. */
  async manifest(what: string, reference: string, method: 'GET'): Promise<FetchedManifest>;
  async manifest(what: string, reference: string, method: 'HEAD'): Promise<void>;
  async manifest(what: string, reference: string, method: 'GET' | 'HEAD'): Promise<FetchedManifest | void> {
    const path = `/v2/${this.ref.repository}/manifests/${reference}`;
    const response = await this.authorized(what, method, path, { accept: MANIFEST_ACCEPT });
    if (response.statusCode !== 200) throw await this.failure(what, response);
    if (method === 'HEAD') return;
    const hash = createHash('sha256');
    const announced = Number(header(response.headers, 'content-length') ?? 0);
    const bytes =
      announced > MAX_MANIFEST_BYTES
        ? undefined
        : await readBounded(response.body, MAX_MANIFEST_BYTES, hash).catch((err: Error) => {
            throw this.connectionFailure(what, err);
          });
    if (bytes === undefined) {
      response.body.destroy();
      throw new ModelLoadError(
        `${what}: the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
        'ModelSourceInvalid',
      );
    }
    const contentType = header(response.headers, 'content-type');
    return { bytes, digest: `sha256:${hash.digest('hex')}`, ...(contentType === undefined ? {} : { contentType }) };
  }

  /**
   * GET the blob `digest` as a stream, following redirects; the Authorization is sent to the registry only, never
   * to another origin a redirect leads to (a storage backend's pre-signed URL).
   */
  async blob(what: string, digest: string): Promise<Readable> {
    const path = `/v2/${this.ref.repository}/blobs/${digest}`;
    const send = this.sendForBlob;
    let response = await this.authorized(what, 'GET', path, {}, send);
    let url = new URL(`${this.base}${path}`);
    for (let hops = 0; response.statusCode >= 300 && response.statusCode < 400; hops++) {
      const location = header(response.headers, 'location');
      await release(response.body);
      if (location === undefined || hops === MAX_REDIRECTS) {
        throw new ModelLoadError(
          `${what}: HTTP ${response.statusCode} ${location === undefined ? 'without a Location' : `after ${MAX_REDIRECTS} redirects`}`,
          'ModelSourceUnavailable',
        );
      }
      const next = new URL(location, url);
      const sameOrigin = next.origin === new URL(this.base).origin;
      url = next;
      response = await send(what, 'GET', next, sameOrigin ? this.withAuthorization({}) : {});
    }
    if (response.statusCode !== 200) throw await this.failure(what, response);
    return response.body;
  }

  private withAuthorization(headers: Record<string, string>): Record<string, string> {
    return this.authorization === undefined ? headers : { ...headers, authorization: this.authorization };
  }

  /**
   * A request to the registry (sent with `send`, undici's by default) that answers one 401 challenge (Bearer token
   * or Basic) and then tries once more.
   */
  private async authorized(
    what: string,
    method: 'GET' | 'HEAD',
    path: string,
    headers: Record<string, string>,
    send: Send = (...args) => this.send(...args),
  ): Promise<Answer> {
    const url = new URL(`${this.base}${path}`);
    const first = await send(what, method, url, this.withAuthorization(headers));
    if (first.statusCode !== 401 || this.authorization !== undefined) return first;
    const challenges = parseWwwAuthenticate(header(first.headers, 'www-authenticate') ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic =
      challenges.some((c) => c.scheme === 'basic') && this.credentials?.kind === 'basic' ? this.credentials : undefined;
    if (bearer !== undefined) {
      await release(first.body);
      this.authorization = await this.token(what, bearer);
    } else if (basic !== undefined) {
      await release(first.body);
      this.authorization = basicAuthorization(basic.username, basic.password);
    } else {
      // Nothing to answer the challenge with (a Basic one without credentials): the 401 and its error body stand.
      return first;
    }
    return send(what, method, url, this.withAuthorization(headers));
  }

  /** A GET of a blob (or where it redirects) over http1.ts: a model's bytes read in large buffers. */
  private readonly sendForBlob: Send = async (what, method, url, headers) => {
    try {
      return await http1Request(url, {
        method,
        headers,
        caPem: this.caPem,
        signal: this.signal,
      });
    } catch (err) {
      throw this.connectionFailure(what, err as Error);
    }
  };

  /** A pull token for the repository from a Bearer challenge's realm, as an Authorization value. */
  private async token(what: string, bearer: AuthChallenge): Promise<string> {
    let token: TokenRequest;
    try {
      token = tokenRequest(bearer, this.ref.repository, this.credentials);
    } catch (err) {
      const e = err as ModelLoadError;
      throw new ModelLoadError(`${what}: ${e.message}`, e.reason);
    }
    const tokenWhat = `${what}: get a token from ${new URL(token.url).origin}`;
    const response = await this.send(tokenWhat, token.method, new URL(token.url), token.headers, token.body);
    if (response.statusCode !== 200) throw await this.failure(tokenWhat, response);
    const body = await readBounded(response.body, MAX_SMALL_BODY).catch((err: Error) => {
      throw this.connectionFailure(tokenWhat, err);
    });
    let value: string | undefined;
    try {
      value = tokenFromResponse(JSON.parse(body?.toString('utf8') ?? ''));
    } catch {
      value = undefined;
    }
    if (value === undefined) throw new ModelLoadError(`${tokenWhat}: no token in the answer`, 'ModelSourceUnavailable');
    return `Bearer ${value}`;
  }

  private async send(
    what: string,
    method: 'GET' | 'HEAD' | 'POST',
    url: URL,
    headers: Record<string, string>,
    body?: string,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, {
        method,
        headers: { 'user-agent': 'modelship', ...headers },
        signal: this.signal,
        ...(body === undefined ? {} : { body }),
        ...(this.dispatcher === undefined ? {} : { dispatcher: this.dispatcher }),
      });
    } catch (err) {
      throw this.connectionFailure(what, err as Error);
    }
  }

  /** A request that did not get an answer: aborted (the fetch's deadline), a TLS setup error, or the network. */
  private connectionFailure(what: string, err: Error): ModelLoadError {
    if (this.signal.aborted) {
      const reason = this.signal.reason as Error | undefined;
      return new ModelLoadError(`${what}: gave up (${reason?.message ?? 'aborted'})`, 'ModelFetchTimeout');
    }
    const code = (err as Error & { code?: string }).code ?? '';
    if (TLS_SETUP_CODES.has(code)) {
      const hint =
        code === 'ERR_SSL_WRONG_VERSION_NUMBER'
          ? 'the registry may speak plain HTTP (storage.plainHTTP)'
          : "trust the registry's CA with storage.caBundleRef";
      return new ModelLoadError(`${what}: TLS ${code}: ${err.message} (${hint})`, 'ModelSourceInvalid');
    }
    return new ModelLoadError(`${what}: ${code === '' ? '' : `${code} `}${err.message}`, 'ModelSourceUnavailable');
  }

  /** The ModelLoadError of an HTTP answer that is not the one wanted. */
  private async failure(what: string, response: Answer): Promise<ModelLoadError> {
    const detail = await registryError(response);
    const reason = statusReason(response.statusCode);
    let who = '';
    if (reason === 'ModelAccessDenied') {
      who =
        this.credentials === undefined
          ? ` (anonymously: no .dockerconfigjson entry for ${this.ref.registry})`
          : ` (with the .dockerconfigjson entry for ${this.ref.registry})`;
    }
    return new ModelLoadError(
      `${what}: HTTP ${response.statusCode}${detail === '' ? '' : ` ${this.scrub(detail)}`}${who}`,
      reason,
    );
  }

  /**
   * The text with the credentials sent to the registry removed: its error body is its own text, and a registry
   * (or a proxy) echoing them must not put them into a status or an Event.
   */
  private scrub(text: string): string {
    const secrets = [this.authorization, this.authorization?.replace(/^\w+ /, '')];
    if (this.credentials?.kind === 'basic') secrets.push(this.credentials.password);
    if (this.credentials?.kind === 'identityToken') secrets.push(this.credentials.identityToken);
    return secrets
      .filter((s): s is string => s !== undefined && s.length >= 4)
      .sort((a, b) => b.length - a.length)
      .reduce((out, secret) => out.split(secret).join('(redacted)'), text);
  }
}
