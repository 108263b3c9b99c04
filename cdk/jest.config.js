/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type checking is `tsc --noEmit`'s job (scripts/cdk-check runs it first); with
  // `isolatedModules` in tsconfig.json ts-jest only transpiles, which keeps jest fast.
  transform: { '^.+\\.ts$': 'ts-jest' },
  // Removes the temporary cloud assemblies each test's App writes.
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
};
