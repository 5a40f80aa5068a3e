/**
 * Worker scripts for the data-plane unit tests. Worker threads run compiled JavaScript, not the
 * TypeScript jest transforms, so the tests point the pool at dist/, which `make unit` and `make jest`
 * build first; this only checks that dist/ is there and not older than the sources. It also writes
 * worker wrappers that inject faults.
 */
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
 * The URL of the compiled worker script. Throws, naming the files, when a data-plane source is
 * newer than its compiled file: the tests would otherwise run yesterday's worker.
 */
export function compiledWorkerUrl(): URL {
  const stale = staleSources();
  if (stale.length > 0) throw new Error(`dist/ is out of date for ${stale.join(', ')}; run make build`);
  return pathToFileURL(distOf('server-image/src/dataplane/worker.ts'));
}

/** How a faulty worker misbehaves; see faultyWorkerUrl. */
export type WorkerFault = 'crash' | 'refuse' | 'unaligned';

const FAULTS: Record<WorkerFault, string> = {
  // The thread dies when a request's first input contains the poison value.
  crash: `if (Array.from(first.data).includes(POISON)) process.exit(7);
  return run.call(this, feeds, ...rest);`,
  // onnxruntime refuses a request whose first input contains the poison value.
  refuse: `if (Array.from(first.data).includes(POISON)) return Promise.reject(new Error('poisoned input refused'));
  return run.call(this, feeds, ...rest);`,
  // Runs of more than one row return only the first row of every output, as a model whose
  // outputs' first dimension is not really the batch would.
  unaligned: `const result = await run.call(this, feeds, ...rest);
  if (first.dims[0] <= 1) return result;
  for (const [name, t] of Object.entries(result)) {
    result[name] = new ort.Tensor(t.type, t.data.slice(0, t.data.length / t.dims[0]), [1, ...t.dims.slice(1)]);
  }
  return result;`,
};

/**
 * A worker script that wraps the real compiled one, patching onnxruntime's run() to misbehave as
 * `fault` says; `poison` is the input value that triggers crash and refuse.
 */
export async function faultyWorkerUrl(fault: WorkerFault, poison = Number.NaN): Promise<URL> {
  const realWorker = compiledWorkerUrl();
  const ort = pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('onnxruntime-node'));
  const dir = await mkdtemp(path.join(tmpdir(), 'modelship-faulty-worker-'));
  const file = path.join(dir, `${fault}.mjs`);
  await writeFile(
    file,
    `import ort from ${JSON.stringify(ort.href)};
const POISON = ${poison};
const run = ort.InferenceSession.prototype.run;
ort.InferenceSession.prototype.run = async function (feeds, ...rest) {
  const first = Object.values(feeds)[0];
  ${FAULTS[fault]}
};
await import(${JSON.stringify(realWorker.href)});
`,
  );
  return pathToFileURL(file);
}
