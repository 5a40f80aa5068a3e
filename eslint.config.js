import js from '@eslint/js';
import stylistic from '@stylistic/eslint-plugin';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.state/**', 'test/cluster/**/*.go'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { '@stylistic': stylistic },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // Prettier wraps code at 120; this catches what it leaves long (comments). A string stays whole
      // so that an error message can be found with grep.
      '@stylistic/max-len': [
        'error',
        {
          code: 120,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
          ignoreUrls: true,
        },
      ],
    },
  },
  {
    // The operator reaches the router and server only through the wire contract (contract/), never
    // through their implementation: a change that crosses a process boundary is one reviewed module.
    files: ['operator/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)server-image/',
              message: 'the operator imports nothing from server-image/: use contract/ for what crosses the boundary',
            },
          ],
        },
      ],
    },
  },
  {
    // Every process imports common/ and contract/, so they import none of them (nor their
    // implementation's cycles). Test files of the seam between them live in test/seam/.
    files: ['common/**/*.ts', 'contract/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(operator|server-image)/',
              message: 'common/ and contract/ import nothing from operator/ or server-image/: they all import them',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
