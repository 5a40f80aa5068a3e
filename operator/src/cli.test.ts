import type { Io } from './cli/args.js';
import { main } from './cli.js';

function capture(): Io & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

describe('main', () => {
  it('prints the usage for help and exits 0', async () => {
    const io = capture();
    expect(await main(['help'], io)).toBe(0);
    expect(io.lines.join('\n')).toMatch(/validate <file\|->.*\n.*status <name>.*\n.*promote <name>/s);
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

  it('exits 2 for bad status arguments', async () => {
    const io = capture();
    expect(await main(['status', 'a', 'b'], io)).toBe(2);
    expect(io.errors).toEqual(['modelship status: give exactly one ModelDeployment name']);
  });

  it.each([
    [['abort', 'digits', '-n', 'ml'], /^abort ModelDeployment ml\/digits: load kubeconfig \/nonexistent\/kubeconfig: /],
    [
      ['status', 'digits', '-n', 'ml'],
      /^status ModelDeployment ml\/digits: load kubeconfig \/nonexistent\/kubeconfig: /,
    ],
  ])('%j exits 1 naming the verb and the object when the kubeconfig cannot be loaded', async (args, message) => {
    const io = capture();
    expect(await main([...args, '--kubeconfig', '/nonexistent/kubeconfig'], io)).toBe(1);
    expect(io.errors[0]).toMatch(message);
  });

  it('exits 2 when validate gets no file', async () => {
    const io = capture();
    expect(await main(['validate'], io)).toBe(2);
  });
});
