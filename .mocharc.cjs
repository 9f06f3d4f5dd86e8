// mocha runs the TypeScript tests through tsx; test/setup.ts checks the root namespace.
//
// mocha adds command-line specs to the config's instead of replacing them, so `npx mocha
// test/unit/x.test.ts` or `mocha --spec 'test/unit/**'` would still run every test. A spec given
// on the command line therefore replaces the default list here.
const VALUE_OPTIONS = new Set(['-r', '--require', '--config', '--file', '--ignore', '--exclude', '-O', '--reporter-option',
  '-R', '--reporter', '-g', '--grep', '-f', '--fgrep', '-t', '--timeout', '-s', '--slow', '-u', '--ui', '-j', '--jobs',
  '--retries', '--extension', '--node-option', '-n', '--package', '--opts'])
const args = process.argv.slice(2)
const specOnCommandLine = args.some((a, i) =>
  a === '--spec' || a.startsWith('--spec=') || (!a.startsWith('-') && !VALUE_OPTIONS.has(args[i - 1] ?? '')))

module.exports = {
  require: ['tsx/cjs', './test/setup.ts'],
  spec: specOnCommandLine ? [] : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/cni/**/*.test.ts'],
  timeout: 30000,
  reporter: 'spec',
}
