import { backoffMs, connectRetryPolicy, decideConnectRetry, type FailedAttempt } from './retry.js';

const policy = connectRetryPolicy(2_000, 30_000);
const refused: FailedAttempt = { code: 'ECONNREFUSED', started: false, replayable: true, attempts: 1, elapsedMs: 1 };

describe('decideConnectRetry', () => {
  it.each([
    ['a refused connection, first attempt', refused, { retry: true, delayMs: 25 }],
    ['no route to host', { ...refused, code: 'EHOSTUNREACH' }, { retry: true, delayMs: 25 }],
    ['unreachable network', { ...refused, code: 'ENETUNREACH' }, { retry: true, delayMs: 25 }],
    ['no local address', { ...refused, code: 'EADDRNOTAVAIL' }, { retry: true, delayMs: 25 }],
    [
      "undici's connect timeout",
      { ...refused, code: 'UND_ERR_CONNECT_TIMEOUT', elapsedMs: 100 },
      { retry: true, delayMs: 25 },
    ],
    ['a name that does not resolve yet', { ...refused, code: 'EAI_AGAIN' }, { retry: true, delayMs: 25 }],
    ['the 3rd attempt waits 100 ms', { ...refused, attempts: 3, elapsedMs: 80 }, { retry: true, delayMs: 100 }],
    ['waits are capped at 250 ms', { ...refused, attempts: 9, elapsedMs: 1_500 }, { retry: true, delayMs: 250 }],
    [
      'a wait that would end at the budget',
      { ...refused, attempts: 9, elapsedMs: 1_750 },
      { retry: false, connectFailure: true },
    ],
    [
      'a wait that would pass the budget',
      { ...refused, attempts: 2, elapsedMs: 1_990 },
      { retry: false, connectFailure: true },
    ],
    ['a streamed body', { ...refused, replayable: false }, { retry: false, connectFailure: true }],
    [
      'a socket closed after the request was written',
      { ...refused, code: 'UND_ERR_SOCKET', started: true },
      { retry: false, connectFailure: false },
    ],
    ['a reset connection', { ...refused, code: 'ECONNRESET', started: true }, { retry: false, connectFailure: false }],
    [
      'a connect-like code on a started attempt',
      { ...refused, started: true },
      { retry: false, connectFailure: false },
    ],
    ['an error with no code', { ...refused, code: undefined }, { retry: false, connectFailure: false }],
    ['a non-string code', { ...refused, code: 111 }, { retry: false, connectFailure: false }],
  ] as [string, FailedAttempt, ReturnType<typeof decideConnectRetry>][])('%s', (_what, attempt, decision) => {
    expect(decideConnectRetry(attempt, policy)).toEqual(decision);
  });

  it('never retries with a zero budget', () => {
    expect(decideConnectRetry(refused, connectRetryPolicy(0, 30_000))).toEqual({ retry: false, connectFailure: true });
  });

  it('caps the budget at the request timeout', () => {
    expect(connectRetryPolicy(2_000, 300).budgetMs).toBe(300);
    expect(decideConnectRetry({ ...refused, attempts: 3, elapsedMs: 200 }, connectRetryPolicy(2_000, 300))).toEqual({
      retry: false,
      connectFailure: true,
    });
  });
});

describe('backoffMs', () => {
  it('doubles from 25 ms up to 250 ms', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => backoffMs(n, policy))).toEqual([25, 50, 100, 200, 250, 250, 250]);
  });

  it('spreads the default budget over about ten attempts', () => {
    let elapsed = 0;
    let attempts = 1;
    for (;;) {
      const d = decideConnectRetry({ ...refused, attempts, elapsedMs: elapsed }, policy);
      if (!d.retry) break;
      elapsed += d.delayMs;
      attempts++;
    }
    expect(attempts).toBe(11);
    expect(elapsed).toBe(1_875);
  });
});
