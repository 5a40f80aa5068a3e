import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Routes } from '../../../contract/routes.js';
import { checkLabelsCaller, labelTokenFiles } from './labels-auth.js';

const routes = (tokenFiles: (string | undefined)[]): Routes =>
  ({
    version: 1,
    generation: 1,
    revisions: tokenFiles.map((tokenFile, i) => ({
      name: `r${i}`,
      url: `http://r${i}`,
      weight: i === 0 ? 100 : 0,
      ...(tokenFile ? { tokenFile } : {}),
    })),
  }) as Routes;

describe('labelTokenFiles', () => {
  it.each([
    ['no revision guarded: labels are open', [undefined, undefined], []],
    [
      'each guarded revision once, under the token directory',
      ['a/token', undefined, 'a/token', 'b/token'],
      ['/t/a/token', '/t/b/token'],
    ],
  ])('%s', (_what, files, expected) => {
    expect(labelTokenFiles(routes(files), '/t')).toEqual(expected);
  });
});

describe('checkLabelsCaller', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelship-labels-auth-'));
    writeFileSync(join(dir, 'a'), '# rotated\nold-token\nnew-token\n');
    writeFileSync(join(dir, 'b'), 'other-revision-token\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['open without token files', undefined, [], 'ok'],
    ['missing header', undefined, ['a'], 'missing'],
    ['a token of the first file', 'Bearer new-token', ['a', 'b'], 'ok'],
    ["another revision's token", 'Bearer other-revision-token', ['a', 'b'], 'ok'],
    ['a token of no file', 'Bearer guess', ['a', 'b'], 'invalid'],
    ['not a bearer header', 'Basic dXNlcjpwYXNz', ['a'], 'invalid'],
    ['only unreadable files: refused', 'Bearer new-token', ['missing-file'], 'invalid'],
  ])('%s', async (_what, header, files, expected) => {
    expect(
      await checkLabelsCaller(
        header,
        files.map((f) => join(dir, f)),
      ),
    ).toBe(expected);
  });
});
