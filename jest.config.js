// Jest runs in ESM mode (node --experimental-vm-modules) because @kubernetes/client-node 2.x is
// ESM-only. ts-jest only transpiles here; `make typecheck` does the type checking once for all.
const transform = {
  '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  // Local state (clusters, venv): etcd's member/snap/*.snap files would pass for obsolete jest snapshots.
  modulePathIgnorePatterns: ['<rootDir>/.state/'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/common/**/*.test.ts',
        '<rootDir>/contract/**/*.test.ts',
        '<rootDir>/operator/**/*.test.ts',
        '<rootDir>/server-image/src/**/*.test.ts',
        '<rootDir>/test/cluster/**/*.test.ts',
        '<rootDir>/test/localpods/**/*.test.ts',
        '<rootDir>/test/seam/**/*.test.ts',
      ],
    },
    {
      ...common,
      displayName: 'server',
      testMatch: ['<rootDir>/server-image/test/**/*.test.ts', '<rootDir>/test/stores/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/cluster/globalSetup.ts',
      globalTeardown: '<rootDir>/test/cluster/globalTeardown.ts',
    },
    {
      ...common,
      // A real node (containerd, kubelet, kube-proxy, CoreDNS) in .state/cluster-node: root on Linux only.
      displayName: 'e2e-node',
      testMatch: ['<rootDir>/test/e2e-node/**/*.test.ts', '<rootDir>/test/e2e-pods/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e-node/globalSetup.ts',
      globalTeardown: '<rootDir>/test/e2e-node/globalTeardown.ts',
    },
  ],
};
