/**
 * The data plane's public entry point: the HTTP layer imports only this module and ./types.js.
 */
import { createOnnxDataPlane } from './dataplane.js';
import type { DataPlane, DataPlaneObserver, DataPlaneOptions } from './types.js';

export * from './types.js';

/**
 * Create the data plane for one model: fetch and verify it on load(), serve it from worker threads
 * with dynamic batching. Nothing runs until load() is called.
 */
export function createDataPlane(options: DataPlaneOptions, observer: DataPlaneObserver): DataPlane {
  return createOnnxDataPlane(options, observer);
}
