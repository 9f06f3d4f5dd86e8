// Writes dist/index.mjs: named ESM exports over the CommonJS build, so that both
// `require('netns-kit')` and `import { Bridge } from 'netns-kit'` work (one implementation).
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const dist = path.join(__dirname, '..', 'dist')
const names = Object.keys(require(path.join(dist, 'index.js'))).filter((n) => n !== 'default' && n !== '__esModule')
const src = `import cjs from './index.js'\n` + names.map((n) => `export const ${n} = cjs.${n}`).join('\n') + '\nexport default cjs\n'
fs.writeFileSync(path.join(dist, 'index.mjs'), src)
