import { LoadMeter } from './load.js';

/** A clock the test moves by hand. */
function fakeClock() {
  const clock = { ms: 1_000, now: () => clock.ms };
  return clock;
}

describe('LoadMeter', () => {
  it('integrates requests in flight over time into busyMs', () => {
    const clock = fakeClock();
    const m = new LoadMeter(clock.now);
    clock.ms += 500; // idle: nothing accrues
    m.start();
    m.start();
    clock.ms += 100; // 2 in flight for 100 ms
    m.start();
    clock.ms += 50; // 3 for 50 ms
    m.finish();
    clock.ms += 200; // 2 for 200 ms
    expect(m.read()).toEqual({ inFlight: 2, held: 0, busyMs: 200 + 150 + 400, heldTotal: 0, heldRefused: 0 });
    m.finish();
    m.finish();
    clock.ms += 1_000;
    expect(m.read()).toMatchObject({ inFlight: 0, busyMs: 750 });
  });

  it('reads the integral up to the moment of reading, without a change to close it', () => {
    const clock = fakeClock();
    const m = new LoadMeter(clock.now);
    for (let i = 0; i < 4; i++) m.start();
    clock.ms += 1_000;
    // Four requests in flight for a second: a mean concurrency of 4 over that second.
    expect(m.read().busyMs).toBe(4_000);
    clock.ms += 250;
    expect(m.read().busyMs).toBe(5_000);
  });

  it('counts held requests, the first one held, and refusals', () => {
    const m = new LoadMeter(fakeClock().now);
    m.start();
    expect(m.hold()).toBe(true);
    m.start();
    expect(m.hold()).toBe(false);
    m.refuse();
    expect(m.read()).toMatchObject({ inFlight: 2, held: 2, heldTotal: 3, heldRefused: 1 });
    m.unhold(false); // released: still in flight
    m.unhold(true); // timed out
    m.finish();
    expect(m.read()).toMatchObject({ inFlight: 1, held: 0, heldTotal: 3, heldRefused: 2 });
    m.start();
    expect(m.hold()).toBe(true); // 0 → 1 again
  });
});
