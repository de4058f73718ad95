// Before npm start runs the server: a start on an up-to-date build compiles nothing (a glance at file times);
// when a source or an installed dependency is newer than the last build, or there is no build, it says so and
// compiles first, incrementally, then bundles what npm start runs. Plain JavaScript, as it runs before anything
// is compiled.
// Run as a script, it checks the project folder named as its argument: `npm run build` (which then marks the
// build checked, as tsc alone does not when it has nothing to write), or a test's small project.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'


/** The latest modification time of a file, or of any file below a folder; 0 when there is none. */
function latest (path) {
  if (!existsSync(path)) return 0
  const info = statSync(path)
  if (!info.isDirectory()) return info.mtimeMs
  return Math.max(0, ...readdirSync(path).map(name => latest(join(path, name))))
}

/**
 * What a build is made from: the sources, and the dependencies the bundle holds a copy of (npm rewrites its
 * record of what is installed, node_modules/.package-lock.json, whenever an install or update changes it).
 */
const BUILT_FROM = ['src', 'scripts', 'assembly', 'tsconfig.json', join('node_modules', '.package-lock.json')]

/** Compiles the project in `root` when a source, or an installed dependency, is newer than its last build. */
export function ensureBuilt (root) {
  // A deployment of what a build made (dist/ and the production dependencies) has nothing to build from.
  if (!existsSync(join(root, 'src'))) return
  // tsc writes its build info last, inside dist/: removing dist/ removes it too, and forces a full build.
  const buildInfo = join(root, 'dist', '.tsbuildinfo')
  // The bundle too must be newer than the sources: tsc alone (`npm run dev`) brings the build info up to date,
  // not the bundle.
  const builtAt = Math.min(latest(buildInfo), latest(join(root, 'dist', 'bundle', 'server.cjs')))
  const sourcesAt = Math.max(...BUILT_FROM.map(path => latest(join(root, path))))
  if (sourcesAt <= builtAt) return
  console.error(builtAt === 0
    ? 'sessionizer: no build yet: compiling first'
    : 'sessionizer: sources or dependencies changed since the last build: compiling first')
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
      execFileSync(process.execPath, [asc, join('assembly', name), '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd',
        '--outFile', join('dist', 'assembly', name.replace(/\.ts$/, '.wasm'))], { cwd: root, stdio: 'inherit' })
    }
  }
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })
  // Until all the bundles are written, the build is not done: a start after a bundling cut short (some bundles
  // written, not all) builds again rather than running a new server with old workers.
  utimesSync(buildInfo, 0, 0)
  execFileSync(process.execPath, [fileURLToPath(new URL('bundle.mjs', import.meta.url)), root], { cwd: root, stdio: 'inherit' })
  // tsc leaves its build info alone when no output changed (a source saved as it was): mark the build as
  // checked now, so that the next start does not compile again.
  const now = new Date()
  utimesSync(buildInfo, now, now)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureBuilt(process.argv[2])
