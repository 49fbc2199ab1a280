import type { Config } from 'jest';

// Three suites, one per kind of test (see docs/testing.md):
//   unit        pure functions, no processes, milliseconds each
//   integration real redis-server / redis-sentinel / nginx / promtool processes on 127.0.0.1
//   e2e         the whole stack on a real Docker engine
// Integration and e2e start real servers on a 2-core machine, so the suites run one file at a time.
const transform: Config['transform'] = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };

const config: Config = {
  maxWorkers: 1,
  projects: [
    { displayName: 'unit', testEnvironment: 'node', transform, testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
    },
    { displayName: 'e2e', testEnvironment: 'node', transform, testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'] },
  ],
};

export default config;
