/**
 * Which source a cached model was verified from. A hit is served only to a requester naming a
 * source the content was verified from (and whose credentials that source accepts): knowing a
 * digest, or owning another object, never reads someone else's model.
 */
import { createHash } from 'node:crypto';
import type { NodeCacheRequest } from '../../../contract/nodecache.js';

/**
 * The source of a request without anything secret: a URI loses any user and password in its
 * authority, and an http(s) URI its query and fragment too (pre-signed URLs carry tokens there); the
 * endpoint, when set, is part of it. Kept on disk beside the model, so it must hold no secret.
 */
export function originOf(uri: string, endpoint: string | undefined): string {
  let where = uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, '$1');
  if (/^https?:\/\//i.test(where)) {
    const url = new URL(where);
    where = `${url.protocol}//${url.host}${url.pathname}`;
  }
  return endpoint === undefined ? where : `${where} at ${endpoint}`;
}

/**
 * A digest of everything that decides what the store answers a request (URI, settings,
 * credentials), held only in memory: requests with the same one may share a failed download's
 * answer, others try for themselves.
 */
export function requesterOf(request: NodeCacheRequest): string {
  const { uri, settings, credentials } = request;
  return createHash('sha256').update(JSON.stringify({ uri, settings, credentials })).digest('hex');
}
