// mocha runs the TypeScript tests through tsx; test/setup.ts checks the root namespace.
module.exports = {
  require: ['tsx/cjs', './test/setup.ts'],
  spec: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
  timeout: 30000,
  reporter: 'spec',
}
