// The public API's doc comments, as `npm run docs` (TypeDoc) renders them: every exported function
// and every public method of an exported class or interface says what it throws (@throws, with
// the error class and its codes). Declarations still missing it are listed in
// test/fixtures/throws-todo.txt, a list that may only shrink: a new public method without @throws
// fails here, and so does an entry that gained its @throws but was not removed from the list.
import { strict as assert } from 'node:assert'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ts from 'typescript'

const root = path.resolve(__dirname, '..', '..')
const TODO = path.join(root, 'test', 'fixtures', 'throws-todo.txt')

/** `Class.method` (or `function`) of every public declaration reachable from lib/index.ts, with whether it has @throws. */
function publicDeclarations(): Map<string, boolean> {
  const program = ts.createProgram([path.join(root, 'lib', 'index.ts')], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  })
  const checker = program.getTypeChecker()
  const entry = checker.getSymbolAtLocation(program.getSourceFile(path.join(root, 'lib', 'index.ts'))!)!
  const out = new Map<string, boolean>()
  const note = (name: string, node: ts.Node) => out.set(name, (out.get(name) ?? false) || ts.getJSDocTags(node).some((t) => t.tagName.text === 'throws'))
  for (let sym of checker.getExportsOfModule(entry)) {
    const exported = sym.name
    if (sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym)
    for (const d of sym.declarations ?? []) {
      if (ts.isFunctionDeclaration(d)) note(exported, d)
      if (!ts.isClassDeclaration(d) && !ts.isInterfaceDeclaration(d)) continue
      for (const m of d.members) {
        if (!ts.isMethodDeclaration(m) && !ts.isMethodSignature(m)) continue
        if (ts.isPrivateIdentifier(m.name)) continue
        const mods = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : []
        if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) continue
        if (ts.getJSDocTags(m).some((t) => t.tagName.text === 'internal')) continue
        note(`${exported}.${m.name.getText()}`, m)
      }
    }
  }
  return out
}

describe('API reference: @throws on the public API', function () {
  this.timeout(60000)

  it('every public method says what it throws, but those still listed in test/fixtures/throws-todo.txt', () => {
    const decls = publicDeclarations()
    const todo = new Set(
      fs
        .readFileSync(TODO, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#')),
    )
    const missing = [...decls].filter(([, has]) => !has).map(([n]) => n)
    const fresh = missing.filter((n) => !todo.has(n))
    assert.deepEqual(fresh, [], `public methods without @throws (add it, with the error class and codes): ${fresh.join(', ')}`)
    const done = [...todo].filter((n) => decls.get(n) === true || !decls.has(n))
    assert.deepEqual(done, [], `remove from throws-todo.txt (documented now, or gone): ${done.join(', ')}`)
  })

  it('the core of the API a runtime author uses is complete', () => {
    const decls = publicDeclarations()
    const core = [...decls].filter(([n]) => /^(Namespace|NamespaceRoutes|NamespaceSysctl|Network|Endpoint|NatRule)\./.test(n))
    assert.ok(core.length >= 50, `${core.length}`)
    assert.deepEqual(
      core.filter(([, has]) => !has).map(([n]) => n),
      [],
    )
  })
})
