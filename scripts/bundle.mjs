// Bundles what npm start runs: the compiled server, and the workers it starts, which it looks for beside itself.
// Node takes some 0.3 s to find, read and compile the 400-odd modules behind the server one by one, at every
// start; one file each loads in a fraction of that. Run by ensure-built.mjs after tsc, on the project folder
// named as its argument. Plain JavaScript, as it runs before anything is compiled.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { build } from 'esbuild'

/** Where tsc writes the modules the bundles are made of. */
const COMPILED = join('dist', 'src')
const BUNDLE_DIR = join('dist', 'bundle')

/** Each bundle's name, and the compiled module it starts from. */
const ENTRIES = {
  server: 'server.js',
  'parse-worker': join('ingest', 'parse-worker.js'),
  'cache-read-worker': join('domain', 'cache-read-worker.js')
}

/**
 * Some dependencies read files of their own package at run time from `__dirname` (Swagger UI its pages, pino
 * its transports' workers), which a bundle does not have. Each bundled module that names it is given its own
 * folder back, in the package as installed: node_modules is then needed only for such files.
 */
const packageFolders = {
  name: 'package-folders',
  setup (bundler) {
    bundler.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, ({ path }) => {
      const contents = readFileSync(path, 'utf8')
      if (!contents.includes('__dirname')) return undefined
      let root = dirname(path)
      while (!existsSync(join(root, 'package.json'))) root = dirname(root)
      const { name } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
      const installedAt = `require('node:path').dirname(require.resolve(${JSON.stringify(`${name}/package.json`)}))`
      return { contents: `var __dirname = require('node:path').join(${installedAt}, ${JSON.stringify(relative(root, dirname(path)))});\n${contents}`, loader: 'js' }
    })
  }
}

const root = resolve(process.argv[2])
// Made anew: nothing of an earlier build stays beside the new one (a bundle renamed since, its code cache).
rmSync(join(root, BUNDLE_DIR), { recursive: true, force: true })
await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, path]) => [name, join(COMPILED, path)])),
  outdir: BUNDLE_DIR,
  bundle: true,
  platform: 'node',
  // CommonJS, not an ES module: V8 keeps the code it compiles for a script, not for a module (code-cache.mjs).
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  target: 'node20',
  plugins: [packageFolders],
  sourcemap: true,
  // The modules find their workers and the project beside their own file; strict as the ES modules they were.
  define: { 'import.meta.url': 'bundleFileUrl' },
  banner: { js: "'use strict'; const bundleFileUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
  // The packages' own folders are found with require.resolve on purpose (packageFolders, above).
  logOverride: { 'require-resolve-not-external': 'silent' }
})

// esbuild writes code as ASCII (its default charset) but keeps comments as they are, some of which are not:
// a single character past ASCII makes the whole bundle two-byte text to Node and V8, which then take twice as
// long to decode it and to check it against the code cache (some 25 ms of every start, measured). Escaped as
// esbuild escapes code, so that the text would mean the same even outside a comment.
for (const name of Object.keys(ENTRIES)) {
  const path = join(root, BUNDLE_DIR, `${name}.cjs`)
  const text = readFileSync(path, 'utf8')
  const ascii = text.replace(/[\u0080-\uffff]/g, unit => `\\u${unit.charCodeAt(0).toString(16).padStart(4, '0')}`)
  if (ascii !== text) writeFileSync(path, ascii)
}
