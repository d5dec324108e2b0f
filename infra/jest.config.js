/** Jest runs the TypeScript tests through ts-jest, transpile-only (isolatedModules in tsconfig); `npm test` runs tsc first for types. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': 'ts-jest',
  },
  // Synthesising both stacks with cdk-nag takes a few seconds on 2 cores.
  testTimeout: 120000,
};
