// Lint: the layers of docs/ARCHITECTURE.md, as import rules per directory, and typescript-eslint's
// recommended checks. `npm run lint` (run by `npm test` before the build).
//
//   lib/network, lib/nat   features: network drivers; NAT. Neither imports the other's internals
//                          (lib/network uses lib/nat only through lib/nat/index.ts; lib/nat not at all).
//   lib/ipam               addresses and stores: no kernel layer, no feature.
//   lib/*.ts, lib/dns      the object API (Namespace, Link, ...): no feature.
//   lib/kernel             the only importer of the addon (lib/kernel/binding.ts); imports nothing
//                          above it but lib/errors.ts.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const binding = {
  group: ['**/kernel/binding', '**/kernel/binding.ts'],
  allowTypeImports: true,
  message: 'Only lib/kernel/ calls the addon: use a function of lib/kernel/ (types may be imported).',
}
const addonLoader = { name: 'bindings', message: 'Only lib/kernel/binding.ts loads the addon.' }
const natInternals = { group: ['../nat/*'], message: 'lib/network uses lib/nat through its index only (import from \'../nat\').' }
const network = { group: ['../network', '../network/*'], message: 'lib/nat does not depend on lib/network.' }
const features = { group: ['./nat', './nat/*', './network', './network/*', '../nat', '../nat/*', '../network', '../network/*'], message: 'The object layer does not depend on lib/nat or lib/network.' }
const kernelFromIpam = { group: ['../kernel', '../kernel/*', '../native/*'], message: 'lib/ipam imports no kernel layer (use the object API, or lib/file-lock.ts).' }

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'build-*/**', 'node_modules/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // The codebase's own conventions.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Input validation matches control characters on purpose (names, keys, sysctl values).
      'no-control-regex': 'off',
    },
  },
  {
    // Tests, examples and benchmarks read `ip -j` / `nft -j` JSON as any.
    files: ['test/**/*.ts', 'examples/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/kernel/**'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [addonLoader], patterns: [binding] }] },
  },
  {
    files: ['lib/*.ts', 'lib/dns/**/*.ts'],
    ignores: ['lib/index.ts'], // the package's entry exports every layer
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [addonLoader], patterns: [binding, features] }] },
  },
  {
    files: ['lib/nat/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [addonLoader], patterns: [binding, network] }] },
  },
  {
    files: ['lib/network/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [addonLoader], patterns: [binding, natInternals] }] },
  },
  {
    files: ['lib/ipam/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [addonLoader], patterns: [binding, kernelFromIpam, features] }] },
  },
  {
    files: ['lib/kernel/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', {
        patterns: [{ group: ['../*', '!../errors', '!../turn'], message: 'lib/kernel is the bottom layer: it imports only lib/errors.ts and lib/turn.ts from above it.' }],
      }],
    },
  },
)
