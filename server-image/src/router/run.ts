/**
 * Standalone entry point for router mode (`node dist/server-image/src/router/run.js`), used by the
 * router's tests and benchmarks; in the image the server's main dispatches MODELSHIP_MODE=router.
 */
import { runRouter } from './main.js';

try {
  await runRouter();
  process.exit(process.exitCode ?? 0);
} catch (err) {
  process.stderr.write(`router: ${(err as Error).message}\n`);
  process.exit(2);
}
