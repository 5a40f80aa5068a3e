import { actionPatch, main, parseActionArgs, type Io } from './cli.js';

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('parseActionArgs', () => {
  it.each([
    [['digits'], { verb: 'rollback', name: 'digits' }],
    [['digits', '-n', 'ml'], { verb: 'rollback', name: 'digits', namespace: 'ml' }],
    [
      ['--namespace=ml', 'digits', '--revision', '0123456789'],
      { verb: 'rollback', name: 'digits', namespace: 'ml', revision: '0123456789' },
    ],
    [['digits', '--kubeconfig', '/tmp/kc'], { verb: 'rollback', name: 'digits', kubeconfig: '/tmp/kc' }],
  ])('%j', (args, expected) => {
    expect(parseActionArgs('rollback', args)).toEqual(expected);
  });

  it.each([
    [[], /exactly one ModelDeployment name/],
    [['a', 'b'], /exactly one ModelDeployment name/],
    [['digits', '--revision', 'abc'], /--revision must be a revision hash/],
    [['digits', '--force'], /modelship rollback: Unknown option '--force'/],
  ])('rejects %j', (args, message) => {
    const result = parseActionArgs('rollback', args);
    expect('error' in result && message.test(result.error)).toBe(true);
  });
});

describe('actionPatch', () => {
  it('sets only the action annotation, with the time as the nonce and the revision when given', () => {
    const now = new Date('2026-11-21T06:30:15.123Z');
    expect(actionPatch({ verb: 'promote', name: 'digits' }, now)).toEqual({
      metadata: { annotations: { 'modelship.dev/action': 'promote@2026-11-21T063015Z' } },
    });
    expect(
      actionPatch({ verb: 'rollback', name: 'digits', revision: '0123456789' }, now).metadata.annotations[
        'modelship.dev/action'
      ],
    ).toBe('rollback:0123456789@2026-11-21T063015Z');
  });
});

describe('main', () => {
  it('prints the usage for help and exits 0', async () => {
    const io = capture();
    expect(await main(['help'], io)).toBe(0);
    expect(io.lines.join('\n')).toMatch(/validate <file\|->.*\n.*promote <name>/s);
  });

  it('exits 2 with the usage for an unknown command', async () => {
    const io = capture();
    expect(await main(['deploy'], io)).toBe(2);
    expect(io.errors[0]).toMatch(/^modelship: unknown command "deploy"/);
  });

  it('exits 2 for bad action arguments without touching the API server', async () => {
    const io = capture();
    expect(await main(['promote'], io)).toBe(2);
    expect(io.errors).toEqual(['modelship promote: give exactly one ModelDeployment name']);
  });

  it('exits 1 naming the verb and the object when the kubeconfig cannot be loaded', async () => {
    const io = capture();
    expect(await main(['abort', 'digits', '-n', 'ml', '--kubeconfig', '/nonexistent/kubeconfig'], io)).toBe(1);
    expect(io.errors[0]).toMatch(/^abort ModelDeployment ml\/digits: /);
  });

  it('exits 2 when validate gets no file', async () => {
    const io = capture();
    expect(await main(['validate'], io)).toBe(2);
  });
});
