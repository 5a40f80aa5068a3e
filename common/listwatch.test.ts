import type { WatchEvent } from './kubeapi.js';
import { listAndWatch, type ListWatchOptions, type Versioned } from './listwatch.js';

type Script = (emit: (e: WatchEvent<Versioned>) => void) => Promise<void>;

/** Runs the loop over scripted watches until they run out, recording what it did. */
async function run(scripts: Script[]): Promise<{ calls: string[]; delays: number[]; errors: string[] }> {
  const calls: string[] = [];
  const delays: number[] = [];
  const errors: string[] = [];
  const stop = new AbortController();
  const opts: ListWatchOptions<Versioned> = {
    what: 'watch things',
    list: async () => {
      calls.push('list');
      return { items: [], resourceVersion: '1' };
    },
    watch: async (rv, onEvent) => {
      calls.push(`watch@${rv}`);
      const script = scripts.shift();
      if (!script) return stop.abort();
      await script(onEvent);
    },
    onList: () => {},
    onEvent: () => {},
    backoff: { baseMs: 1, maxMs: 4 },
    onError: (err, delay) => {
      errors.push((err as Error).message);
      delays.push(delay);
    },
  };
  await listAndWatch(opts, stop.signal);
  return { calls, delays, errors };
}

const event = (rv: string): WatchEvent<Versioned> => ({
  type: 'MODIFIED',
  object: { metadata: { resourceVersion: rv } },
});

describe('listAndWatch', () => {
  it('backs off, doubling up to the maximum, while watches close at once; an event starts the count afresh', async () => {
    const closes: Script = async () => {};
    const { calls, delays, errors } = await run([
      closes,
      closes,
      closes,
      closes,
      async (emit) => emit(event('2')),
      closes,
    ]);
    expect(delays).toEqual([1, 2, 4, 4, 1]);
    expect(errors[0]).toBe('watch things: closed at once');
    expect(calls).toEqual(['list', 'watch@1', 'watch@1', 'watch@1', 'watch@1', 'watch@1', 'watch@2', 'watch@2']);
  });

  it('lists again after 410 Gone; another error status is a failure that keeps the version', async () => {
    const status =
      (code: number): Script =>
      async (emit) =>
        emit({ type: 'ERROR', object: { code, message: `status ${code}` } as Versioned });
    const { calls, errors } = await run([status(500), status(410)]);
    expect(errors).toEqual(['watch things: status 500']);
    expect(calls).toEqual(['list', 'watch@1', 'watch@1', 'list', 'watch@1']);
  });

  it('stops without opening a watch when onList stops it', async () => {
    const stop = new AbortController();
    const calls: string[] = [];
    await listAndWatch(
      {
        what: 'watch things',
        list: async () => ({ items: [], resourceVersion: '1' }),
        watch: async (rv) => void calls.push(`watch@${rv}`),
        onList: () => stop.abort(),
        onEvent: () => {},
        backoff: { baseMs: 1, maxMs: 4 },
      },
      stop.signal,
    );
    expect(calls).toEqual([]);
  });
});
