// Table tests of the local pod runner's pure core (`make localpods-unit`). Kept here until the root
// jest.config.js's unit project also matches test/localpods/**/*.test.ts; same ESM settings as there.
/** @type {import('jest').Config} */
export default {
  rootDir: '../..',
  displayName: 'localpods-unit',
  testMatch: ['<rootDir>/test/localpods/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }] },
  testEnvironment: 'node',
};
