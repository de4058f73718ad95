// Before npm start runs the server: a start on an up-to-date build compiles nothing (a glance at file times);
// when a source is newer than the last build, or there is no build, it says so and compiles first,
// incrementally, then bundles what npm start runs. Plain JavaScript, as it runs before anything is compiled.
// Run as a script, it checks the project folder named as its argument: `npm run build` (which then marks the
// build checked, as tsc alone does not when it has nothing to write), or a test's small project.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'


/** The latest modification time of a file, or of any file below a folder; 0 when there is none. */
function latest (path) {
  if (!existsSync(path)) return 0
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  return Math.max(0, ...readdirSync(path).map(name => latest(join(path, name))))
}

/** Where tsc writes the modules the bundles are made of, and where the bundles go. */
const BUNDLED_FROM = join('dist', 'src')
export const BUNDLE_DIR = join('dist', 'bundle')
const SERVER_BUNDLE = 'server'

/**
 * What npm start runs, by bundle name: the server, and the workers it starts, which it looks for beside itself.
 * Node takes some 0.3 s to find, read and compile the 400-odd modules behind the server one by one; one file
 * each loads in a third of that, at every start, and the workers' in half.
 */
const BUNDLE_ENTRIES = {
  [SERVER_BUNDLE]: 'server.js',
  'parse-worker': join('ingest', 'parse-worker.js'),
  'cache-read-worker': join('domain', 'cache-read-worker.js')
}

/**
 * Swagger's packages read their own files (the UI's pages, their package.json) from beside their code at run
 * time: they stay in node_modules.
 */
const READ_THEIR_OWN_FILES = ['@fastify/swagger', '@fastify/swagger-ui']

/** Bundles the compiled server and its workers, each with its dependencies, into BUNDLE_DIR. */
function bundle (root, esbuild) {
  esbuild.buildSync({
    absWorkingDir: resolve(root),
    entryPoints: Object.fromEntries(Object.entries(BUNDLE_ENTRIES).map(([name, path]) => [name, join(BUNDLED_FROM, path)])),
    outdir: BUNDLE_DIR,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: READ_THEIR_OWN_FILES,
    sourcemap: true,
    // CommonJS dependencies call require(), which an ES module has only when it makes one.
    banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
    logLevel: 'warning'
  })
}

/** Compiles the project in `root` when a source is newer than its last build. */
export function ensureBuilt (root) {
  // tsc writes its build info last, inside dist/: removing dist/ removes it too, and forces a full build.
  const buildInfo = join(root, 'dist', '.tsbuildinfo')
  const builtAt = latest(buildInfo)
  const sourcesAt = Math.max(...['src', 'scripts', 'assembly', 'tsconfig.json'].map(path => latest(join(root, path))))
  if (sourcesAt <= builtAt) return
  console.error(builtAt === 0
    ? 'sessionizer: no build yet: compiling first'
    : 'sessionizer: sources changed since the last build: compiling first')
  try {
    compile(root, buildInfo)
  } catch (error) {
    // tsc writes its build info even when it reports errors: a failed build must not pass for a finished one.
    if (existsSync(buildInfo)) utimesSync(buildInfo, 0, 0)
    throw error
  }
}

/** Compiles the WebAssembly, then the TypeScript, then bundles what npm start runs, and marks the build done. */
function compile (root, buildInfo) {
  const require = createRequire(import.meta.url)
  if (existsSync(join(root, 'assembly'))) {
    const asc = join(dirname(require.resolve('assemblyscript/package.json')), 'bin', 'asc.js')
    for (const name of readdirSync(join(root, 'assembly')).filter(name => name.endsWith('.ts'))) {
      execFileSync(process.execPath, [asc, join('assembly', name), '-O3', '--runtime', 'stub', '--noAssert',
        '--outFile', join('dist', 'assembly', name.replace(/\.ts$/, '.wasm'))], { cwd: root, stdio: 'inherit' })
    }
  }
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })
  // Until the bundles are written, the build is not done: a start after an interrupted bundling compiles
  // again rather than running an old bundle.
  utimesSync(buildInfo, 0, 0)
  if (existsSync(join(root, BUNDLED_FROM, SERVER_BUNDLE + '.js'))) bundle(root, require('esbuild'))
  // tsc leaves its build info alone when no output changed (a source saved as it was): mark the build as
  // checked now, so that the next start does not compile again.
  const now = new Date()
  utimesSync(buildInfo, now, now)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureBuilt(process.argv[2])
