/**
 * What a store's answer means for the fetch: the FetchFailureReason of an HTTP status, an S3 error
 * code or a connection error. Pure: the sources call these with what their client reported, and
 * the pipeline retries only the transient reasons (remote.ts isTransient).
 */
import type { FetchFailureReason } from '../../../contract/model-source.js';

/** The reason of an HTTP status that is not a success. */
export function reasonForStatus(status: number): FetchFailureReason {
  if (status === 404 || status === 410) return 'ModelNotFound';
  if (status === 401 || status === 403) return 'ModelAccessDenied';
  // Too many requests, a request timeout and server errors pass; retry them.
  if (status === 408 || status === 429 || status >= 500) return 'ModelSourceUnavailable';
  // Any other answer (400, 3xx without a location, 416...) will not change by asking again.
  return 'ModelSourceInvalid';
}

/** S3 error codes whose meaning is clearer than their HTTP status (a HEAD's error has no code, only a status). */
const S3_CODES: Readonly<Record<string, FetchFailureReason>> = {
  NoSuchKey: 'ModelNotFound',
  NoSuchBucket: 'ModelNotFound',
  NotFound: 'ModelNotFound',
  AccessDenied: 'ModelAccessDenied',
  Forbidden: 'ModelAccessDenied',
  InvalidAccessKeyId: 'ModelAccessDenied',
  SignatureDoesNotMatch: 'ModelAccessDenied',
  ExpiredToken: 'ModelAccessDenied',
  InvalidToken: 'ModelAccessDenied',
  TokenRefreshRequired: 'ModelAccessDenied',
  AllAccessDisabled: 'ModelAccessDenied',
  AccountProblem: 'ModelAccessDenied',
  InvalidObjectState: 'ModelAccessDenied',
  // A bucket in another region, or the wrong endpoint: asking again will not help.
  PermanentRedirect: 'ModelSourceInvalid',
  AuthorizationHeaderMalformed: 'ModelSourceInvalid',
  InvalidBucketName: 'ModelSourceInvalid',
  SlowDown: 'ModelSourceUnavailable',
  InternalError: 'ModelSourceUnavailable',
  ServiceUnavailable: 'ModelSourceUnavailable',
  RequestTimeout: 'ModelSourceUnavailable',
  XMinioServerNotInitialized: 'ModelSourceUnavailable',
};

/** Connection errors that say the store's TLS certificate is not trusted: the CA bundle is wrong, not the network. */
const TLS_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The reason of an error that came with no answer from the store (its Node error code, when it has one). */
export function reasonForConnectionError(code: string | undefined): FetchFailureReason {
  if (code !== undefined && TLS_CODES.has(code)) return 'ModelSourceInvalid';
  // Refused, reset, timed out, no DNS answer yet: the store may be starting, or the network healing.
  return 'ModelSourceUnavailable';
}

/**
 * The reason of an S3 error: its code when it is a known one, else its HTTP status, else (no answer
 * at all) the connection error's.
 */
export function reasonForS3Error(error: { name?: string; code?: string; status?: number }): FetchFailureReason {
  const byCode = error.name === undefined ? undefined : S3_CODES[error.name];
  if (byCode !== undefined) return byCode;
  if (error.status !== undefined) return reasonForStatus(error.status);
  return reasonForConnectionError(error.code);
}

/**
 * The message of an error and of the error it wraps (fetch() and the SDKs wrap the socket's error in
 * `cause`). Duck-typed: errors from another realm (a VM context, a worker) are not `instanceof Error`.
 */
export function causeMessage(err: unknown): string {
  const message = (e: unknown): string | undefined => {
    const m = (e as { message?: unknown } | undefined)?.message;
    return typeof m === 'string' && m !== '' ? m : undefined;
  };
  const own = message(err) ?? (err as { name?: unknown } | undefined)?.name;
  if (typeof own !== 'string') return String(err);
  const cause = message((err as { cause?: unknown }).cause);
  return cause !== undefined && !own.includes(cause) ? `${own}: ${cause}` : own;
}

/** The Node error code of an error or of its cause (ECONNREFUSED, CERT_HAS_EXPIRED...). */
export function errorCode(err: unknown): string | undefined {
  const own = (err as { code?: unknown } | undefined)?.code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}
