/**
 * Test support: worker threads run compiled JavaScript, not the TypeScript jest transforms, so the
 * data-plane tests point the pool at dist/. This makes sure dist/ is there and not older than the
 * sources, building it when needed, and writes worker wrappers that inject faults.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = process.cwd();
const SOURCES = ['server-image/src/dataplane', 'server-image/src/model'];

function distOf(source: string): string {
  return path.join(ROOT, 'dist', source.replace(/\.ts$/, '.js'));
}

function staleSources(): string[] {
  return SOURCES.flatMap((dir) =>
    readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => path.join(dir, f)),
  ).filter((source) => {
    try {
      return statSync(distOf(source)).mtimeMs < statSync(path.join(ROOT, source)).mtimeMs;
    } catch {
      return true;
    }
  });
}

/**
 * The URL of the compiled worker script, building dist/ first if any data-plane source is newer than
 * its compiled file. Other areas' type errors do not stop tsc from emitting, so its exit status is
 * ignored and freshness is checked again instead.
 */
export function compiledWorkerUrl(): URL {
  if (staleSources().length > 0) {
    try {
      execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe', timeout: 300_000 });
    } catch {
      // Checked below.
    }
    const stale = staleSources();
    if (stale.length > 0) throw new Error(`dist/ is out of date for ${stale.join(', ')}; run npx tsc -p tsconfig.json`);
  }
  return pathToFileURL(distOf('server-image/src/dataplane/worker.ts'));
}

/**
 * A worker script that behaves like the real one except when a request's first input contains
 * `poison`: then it either exits the thread (`crash`) or makes onnxruntime's run() throw (`refuse`).
 */
export async function faultyWorkerUrl(poison: number, fault: 'crash' | 'refuse'): Promise<URL> {
  const realWorker = compiledWorkerUrl();
  const ort = pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('onnxruntime-node'));
  const dir = await mkdtemp(path.join(tmpdir(), 'modelship-faulty-worker-'));
  const file = path.join(dir, `${fault}.mjs`);
  await writeFile(
    file,
    `import ort from ${JSON.stringify(ort.href)};
const run = ort.InferenceSession.prototype.run;
ort.InferenceSession.prototype.run = function (feeds, ...rest) {
  const first = Object.values(feeds)[0];
  if (Array.from(first.data).includes(${poison})) {
    ${fault === 'crash' ? 'process.exit(7);' : "return Promise.reject(new Error('poisoned input refused'));"}
  }
  return run.call(this, feeds, ...rest);
};
await import(${JSON.stringify(realWorker.href)});
`,
  );
  return pathToFileURL(file);
}
