/** @type {import('jest').Config} */
module.exports = {
    testEnvironment: "node",
    roots: ["<rootDir>/test"],
    testMatch: ["**/*.test.ts"],
    // Type checking is `tsc --noEmit` (npm test runs it first); ts-jest only transpiles.
    transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: { isolatedModules: true } }] },
    reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
    // Loading the program under mocks takes tens of seconds on a busy 2-core machine; hooks share this limit.
    testTimeout: 180000,
};
