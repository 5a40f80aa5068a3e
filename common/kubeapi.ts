/** What the API server sends, as every process that talks to it sees it. */

/** An error response from the API server (or a transport failure, code 0). */
export class KubeApiError extends Error {
  constructor(
    message: string,
    /** HTTP status; 0 when the request never got an answer. */
    readonly code: number,
    /** Kubernetes Status reason, e.g. NotFound, Conflict, Expired, Invalid. */
    readonly reason: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** One watch event as the API server streams it. */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}
