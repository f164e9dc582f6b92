/** @type {import('jest').Config} */
module.exports = {
    testEnvironment: "node",
    roots: ["<rootDir>/test"],
    testMatch: ["**/*.test.ts"],
    // Type checking is `tsc --noEmit` (npm test runs it first); ts-jest only transpiles.
    transform: {
        "^.+\\.ts$": ["ts-jest", { tsconfig: { isolatedModules: true } }],
        // jose is ECMAScript modules only, which Jest's CommonJS registry cannot load: transpiled like the tests.
        "/node_modules/jose/.+\\.js$": ["ts-jest", { tsconfig: { isolatedModules: true, allowJs: true } }],
    },
    transformIgnorePatterns: ["/node_modules/(?!jose/)"],
    reporters: ["default", "<rootDir>/test/support/summary-reporter.js"],
    // Both cores: Jest's default (cores - 1) runs one file at a time here, and loading a program is CPU-bound.
    maxWorkers: 2,
    // Hooks that load several programs under mocks take minutes when the 2 cores are shared (not a performance
    // bound: performance is measured in `npm run bench`).
    testTimeout: 240000,
};
