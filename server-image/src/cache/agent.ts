/**
 * The node cache's answer to one request, knowing nothing of HTTP: a hit (a verified copy from the
 * requester's source, served once the requester's credentials pass the source's metadata probe)
 * or a miss (downloaded and verified once per digest, whoever else asks meanwhile).
 */
import { DEFAULT_STORAGE_TIMEOUT_SECONDS } from '../../../contract/model-source.js';
import type { NodeCacheRequest } from '../../../contract/nodecache.js';
import type { Logger } from '../../../common/log.js';
import { ModelLoadError } from '../dataplane/types.js';
import type { LocalModel } from '../model/fetch.js';
import type { RemoteRequest, RemoteSource } from '../model/remote.js';
import { redactUri } from '../model/source.js';
import { originOf, requesterOf } from './origin.js';
import type { ModelStore, OpenedModel } from './store.js';

/** How the agent reaches the stores: the server's own fetch pipeline (model/). */
export interface Fetcher {
  /** The source of a remote URI, or undefined for a scheme the node cache does not fetch. */
  sourceFor(uri: string): RemoteSource | undefined;
  /** Download into `cacheDir`, verified against `expectedSha256`, giving up after `deadlineMs`. */
  download(
    request: RemoteRequest,
    source: RemoteSource,
    options: { cacheDir: string; expectedSha256: string; deadlineMs: number },
  ): Promise<LocalModel>;
}

/** What the agent tells the metrics. */
export interface AgentObserver {
  downloadStarted(): void;
  downloadEnded(bytes: number | undefined): void;
}

/** A model to stream to the requester. */
export interface Served {
  model: OpenedModel;
  hit: boolean;
}

/** The agent's own failure (its disk, a race it lost too often): the requester should fetch directly. */
export class AgentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
  }
}

/** One download in progress, and who started it. */
interface Flight {
  done: Promise<OpenedModel | undefined>;
  origin: string;
  requester: string;
}

/**
 * How often a request goes round (a copy evicted between its probe and its opening, a download it
 * waited for that was not for its source) before the agent gives up and lets it fetch directly.
 */
const MAX_ROUNDS = 4;

/** The node cache: requests in, verified models out. */
export class NodeCacheAgent {
  private readonly flights = new Map<string, Flight>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: ModelStore,
    private readonly fetcher: Fetcher,
    private readonly observer: AgentObserver,
    private readonly log: Logger,
    private readonly maxTimeoutSeconds: number,
  ) {}

  /** Downloads in progress. */
  downloading(): number {
    return this.flights.size;
  }

  /** Abort every download (shutdown). */
  abortDownloads(): void {
    this.stopping.abort(new Error('the node cache is shutting down'));
  }

  /**
   * The model `request` names, opened for streaming. Rejects with a ModelLoadError carrying the
   * store's reason (not found, access denied, digest mismatch...) or with an AgentError.
   */
  async serve(request: NodeCacheRequest, signal: AbortSignal): Promise<Served> {
    const uri = redactUri(request.uri);
    const source = this.fetcher.sourceFor(request.uri);
    if (source === undefined) {
      throw new ModelLoadError(
        `node cache: model ${uri}: not a remote URI the node cache fetches`,
        'ModelSourceInvalid',
      );
    }
    const origin = originOf(request.uri, request.settings.endpoint);
    const requester = requesterOf(request);
    const settings = { ...request.settings, credentials: request.credentials };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (await this.store.has(request.sha256, origin)) {
        // Metadata only: proves these credentials may read the object before its bytes are served.
        await source.probe({ uri: request.uri, settings, signal });
        const model = this.store.open(request.sha256);
        if (model !== undefined) return { model, hit: true };
        continue;
      }
      const running = this.flights.get(request.sha256);
      if (running !== undefined) {
        const failure = await running.done.then(
          () => undefined,
          (err: unknown) => err,
        );
        // The same request failing again is certain; another source or other credentials may not fail.
        if (failure !== undefined && running.origin === origin && running.requester === requester) throw failure;
        continue;
      }
      const done = this.download(request, source, settings, uri, origin);
      this.flights.set(request.sha256, { done, origin, requester });
      void done.then(
        () => this.flights.delete(request.sha256),
        () => this.flights.delete(request.sha256),
      );
      const model = await done;
      if (model !== undefined) return { model, hit: false };
    }
    throw new AgentError(`node cache: model ${uri}: still not cached after ${MAX_ROUNDS} attempts`);
  }

  /**
   * One verified download into the store. It runs to its own deadline whoever waits for it: a
   * requester that goes away does not cancel what others (or the next pod) will use.
   */
  private async download(
    request: NodeCacheRequest,
    source: RemoteSource,
    settings: RemoteRequest['settings'],
    uri: string,
    origin: string,
  ): Promise<OpenedModel | undefined> {
    const seconds = Math.min(request.timeoutSeconds ?? DEFAULT_STORAGE_TIMEOUT_SECONDS, this.maxTimeoutSeconds);
    const signal = AbortSignal.any([this.stopping.signal, AbortSignal.timeout(seconds * 1000)]);
    const started = performance.now();
    this.observer.downloadStarted();
    this.log.info('downloading a model for the node', { uri, sha256: request.sha256 });
    let fetched: LocalModel | undefined;
    try {
      fetched = await this.fetcher.download({ uri: request.uri, settings, signal }, source, {
        cacheDir: this.store.stagingDir,
        expectedSha256: request.sha256,
        deadlineMs: seconds * 1000,
      });
    } finally {
      this.observer.downloadEnded(fetched?.bytes);
    }
    try {
      const model = await this.store.add(request.sha256, fetched.path, fetched.bytes, origin);
      this.log.info('model downloaded and verified', {
        uri,
        sha256: request.sha256,
        bytes: fetched.bytes,
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      });
      return model;
    } catch (err) {
      throw new AgentError(`node cache: keep model ${uri}: ${(err as Error).message}`, { cause: err });
    }
  }
}
