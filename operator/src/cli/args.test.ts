import { DEFAULT_TIMEOUT_MS, parseActionArgs, parseDuration, parseStatusArgs } from './args.js';

describe('parseActionArgs', () => {
  const wait = { timeoutMs: DEFAULT_TIMEOUT_MS };
  it.each([
    [['digits'], { verb: 'rollback', name: 'digits', ...wait }],
    [['digits', '-n', 'ml'], { verb: 'rollback', name: 'digits', namespace: 'ml', ...wait }],
    [
      ['--namespace=ml', 'digits', '--revision', '0123456789'],
      { verb: 'rollback', name: 'digits', namespace: 'ml', revision: '0123456789', ...wait },
    ],
    [['digits', '--kubeconfig', '/tmp/kc'], { verb: 'rollback', name: 'digits', kubeconfig: '/tmp/kc', ...wait }],
    [['digits', '--timeout', '90s'], { verb: 'rollback', name: 'digits', timeoutMs: 90_000 }],
    [['digits', '--timeout=2m'], { verb: 'rollback', name: 'digits', timeoutMs: 120_000 }],
    [['digits', '--no-wait'], { verb: 'rollback', name: 'digits', timeoutMs: 0 }],
  ])('%j', (args, expected) => {
    expect(parseActionArgs('rollback', args)).toEqual(expected);
  });

  it.each([
    [[], /exactly one ModelDeployment name/],
    [['a', 'b'], /exactly one ModelDeployment name/],
    [['digits', '--revision', 'abc'], /--revision must be a revision hash/],
    [['digits', '--force'], /modelship rollback: Unknown option '--force'/],
    [['digits', '--timeout', 'soon'], /--timeout must be a positive duration .* got "soon"/],
    [['digits', '--timeout', '0s'], /--timeout must be a positive duration/],
    [['digits', '--timeout', '5s', '--no-wait'], /--no-wait and --timeout exclude each other/],
  ])('rejects %j', (args, message) => {
    const result = parseActionArgs('rollback', args);
    expect('error' in result && message.test(result.error)).toBe(true);
  });
});

describe('parseStatusArgs', () => {
  it.each([
    [['digits'], { name: 'digits', watch: false }],
    [['digits', '-w', '-n', 'ml'], { name: 'digits', namespace: 'ml', watch: true }],
    [['--watch', 'digits', '--kubeconfig', '/k'], { name: 'digits', kubeconfig: '/k', watch: true }],
    [[], { error: 'modelship status: give exactly one ModelDeployment name' }],
  ])('%j', (args, expected) => {
    expect(parseStatusArgs(args)).toEqual(expected);
  });

  it('names the command in an option error', () => {
    expect(parseStatusArgs(['digits', '--revision', 'x'])).toEqual({
      error: expect.stringMatching(/^modelship status: Unknown option '--revision'/),
    });
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['90', 90_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['', undefined],
    ['5 minutes', undefined],
    ['-1s', undefined],
  ])('%j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});
