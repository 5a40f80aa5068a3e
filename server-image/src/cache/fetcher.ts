/**
 * The agent reaches the stores through the server's own fetch pipeline (model/): the same sources,
 * retries, deadline and verification as a pod fetching for itself.
 */
import { downloadVerified } from '../model/download.js';
import { remoteSourceFor } from '../model/sources.js';
import type { Fetcher } from './agent.js';

/** The fetcher of the agent process. */
export const modelFetcher: Fetcher = { sourceFor: remoteSourceFor, download: downloadVerified };
