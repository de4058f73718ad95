// The README's commands run what the build makes: npm start must start the compiled server.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { PROJECT_ROOT } from '../src/project-root.js'

const read = (file: string) => JSON.parse(readFileSync(join(PROJECT_ROOT, file), 'utf8'))

t.test('npm start runs the bundle of the file tsc compiles src/server.ts to, after checking the build is up to date', async t => {
  const { scripts, main } = read('package.json')
  const { compilerOptions } = read('tsconfig.json')
  const compiledServer = join(compilerOptions.outDir, relative(compilerOptions.rootDir, 'src/server.ts')).replace(/\.ts$/, '.js')
  const bundled = join('dist', 'bundle', 'server.cjs')
  // exec: npm's shell becomes the server, so a signal to npm start reaches it instead of orphaning it. Large
  // allocations in transparent huge pages, added to whatever glibc tunables were set: see the bench test. The
  // extra certificates only for a backend that may connect over TLS: see the next test.
  t.equal(scripts.start, '[ "$BACKEND" = clickhouse ] || unset NODE_EXTRA_CA_CERTS; ' +
    'GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1 exec node scripts/start.mjs')
  const start = readFileSync(join(PROJECT_ROOT, 'scripts', 'start.mjs'), 'utf8')
  t.match(start, /ensureBuilt\(/, 'npm start compiles only what changed')
  t.match(start, `runBundle(join(root, ${bundled.split('/').map(part => `'${part}'`).join(', ')}))`, 'in this process, from its code cache')
  t.equal(main, bundled)
  t.match(readFileSync(join(PROJECT_ROOT, bundled), 'utf8'), `// ${compiledServer}\n`, 'bundled from the compiled server')
  t.notOk(scripts.prestart, 'no second process before the server')
  t.equal(scripts.prepare, 'npm run build', 'npm install builds')
  // tsc alone leaves its build info untouched when it has nothing to write (sources checked out anew): the next
  // npm start would compile again.
  t.equal(scripts.build, 'node scripts/ensure-built.mjs .', 'every build is the one npm start checks, and marks itself checked')
  t.match(scripts.test, /lint.*typecheck.*tap/)
})

t.test('npm start hands NODE_EXTRA_CA_CERTS on to the server only when its backend may connect over TLS', async t => {
  // Node reads and parses the file as it starts, whatever the process does (0.1 s for this machine's 144
  // certificates): the memory backend makes no TLS connection; a ClickHouse may be over https.
  const { scripts } = read('package.json')
  const bin = t.testdir({ node: '#!/bin/sh\necho "${NODE_EXTRA_CA_CERTS-unset} $GLIBC_TUNABLES $*"\n' })
  chmodSync(join(bin, 'node'), 0o755)
  const serverSees = (env: Record<string, string>) => spawnSync('sh', ['-c', scripts.start], {
    env: { PATH: `${bin}:${process.env.PATH}`, NODE_EXTRA_CA_CERTS: '/certs.pem', ...env }, encoding: 'utf8'
  }).stdout
  t.equal(serverSees({}), 'unset glibc.malloc.hugetlb=1 scripts/start.mjs\n', 'the memory backend, by default')
  t.equal(serverSees({ BACKEND: 'memory' }), 'unset glibc.malloc.hugetlb=1 scripts/start.mjs\n')
  t.equal(serverSees({ BACKEND: 'clickhouse' }), '/certs.pem glibc.malloc.hugetlb=1 scripts/start.mjs\n', 'ClickHouse: kept')
  t.equal(serverSees({ BACKEND: 'clickhouse', GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7' }),
    '/certs.pem glibc.malloc.tcache_count=7:glibc.malloc.hugetlb=1 scripts/start.mjs\n', 'tunables already set kept')
})

t.test('before a start: nothing is compiled on an up-to-date build; a missing or older build is brought up to date', async t => {
  // A project of its own, so that compiling touches neither this project's dist/ nor the tests that use it.
  const dir = t.testdir({
    src: {
      // A comment esbuild keeps (before a property), and a string, past ASCII: 'µ' is 181.
      'a.ts': "export const a: number = {\n  // naïve — kept\n  value: 'µ'.charCodeAt(0) - 180\n}.value\n",
      // A server and its workers, which the build bundles, with a dependency that reads a file of its own.
      'server.ts': "import { a } from './a.js'\nimport page from 'own-files'\nconsole.log(`a is ${a}, ${page}`)\n",
      ingest: { 'parse-worker.ts': 'export {}\n' },
      domain: { 'cache-read-worker.ts': 'export {}\n' }
    },
    assembly: { 'b.ts': 'export function b (): i32 { return 7 }\n' },
    node_modules: {
      'own-files': {
        'package.json': JSON.stringify({ name: 'own-files', main: 'lib/index.js' }),
        lib: {
          'index.js': "module.exports = require('./whose.js') + require('fs').readFileSync(require('path').join(__dirname, 'page.txt'), 'utf8')\n",
          'whose.js': "module.exports = 'its '\n",
          'page.txt': 'page'
        }
      }
    },
    'package.json': JSON.stringify({ type: 'module' }),
    'tsconfig.json': JSON.stringify({
      compilerOptions: { module: 'NodeNext', rootDir: '.', outDir: 'dist', incremental: true, tsBuildInfoFile: 'dist/.tsbuildinfo' },
      include: ['src/**/*.ts']
    })
  })
  const ensureBuilt = () => spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'ensure-built.mjs'), dir], { encoding: 'utf8' })
  const built = join(dir, 'dist', 'src', 'a.js')
  const buildInfo = join(dir, 'dist', '.tsbuildinfo')

  const bundledServer = () => spawnSync(process.execPath, [join(dir, 'dist', 'bundle', 'server.cjs')], { encoding: 'utf8' }).stdout

  t.match(ensureBuilt(), { status: 0, stderr: /no build yet: compiling first/ })
  t.match(readFileSync(built, 'utf8'), /a = \{/)
  t.equal(bundledServer(), 'a is 1, its page\n', 'the server, bundled with what it imports, which finds its own files')
  t.notMatch(readFileSync(join(dir, 'dist', 'bundle', 'server.cjs'), 'latin1'), /[\u0080-\u00ff]/, 'all ASCII, comments too')
  const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, 'dist', 'assembly', 'b.wasm')))
  t.equal((instance.exports.b as () => number)(), 7, 'and the WebAssembly, from assembly/')
  t.match(ensureBuilt(), { status: 0, stderr: '' }, 'an up-to-date build: nothing said, nothing compiled')
  // Checked: the builds below need not compile it again (each compile of this test takes seconds).
  rmSync(join(dir, 'assembly'), { recursive: true })

  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 2\n')
  t.match(ensureBuilt(), { status: 0, stderr: /sources or dependencies changed since the last build: compiling first/ })
  t.match(readFileSync(built, 'utf8'), /a = 2/)
  t.equal(bundledServer(), 'a is 2, its page\n', 'bundled anew')

  // A source changed, and compiled by tsc alone, as `npm run dev` does: the bundle is still the old one.
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a: number = 3\n')
  utimesSync(buildInfo, new Date(Date.now() + 1000), new Date(Date.now() + 1000))
  t.match(ensureBuilt(), { status: 0, stderr: /sources or dependencies changed since the last build: compiling first/ })
  t.equal(bundledServer(), 'a is 3, its page\n', 'the bundle made again')

  // A dependency updated, as npm installs it: the bundle holds a copy of the old one until it is built again.
  writeFileSync(join(dir, 'node_modules', 'own-files', 'lib', 'whose.js'), "module.exports = 'their '\n")
  t.match(ensureBuilt(), { status: 0, stderr: '' }, 'nothing tells a dependency changed but what npm records of it')
  writeFileSync(join(dir, 'node_modules', '.package-lock.json'), '{}\n')
  t.match(ensureBuilt(), { status: 0, stderr: /sources or dependencies changed since the last build: compiling first/ })
  t.equal(bundledServer(), 'a is 3, their page\n', 'bundled with the dependency as it is now')

  // A build that fails is not done, whether tsc or the bundling failed: the next start tries again.
  const server = readFileSync(join(dir, 'src', 'server.ts'), 'utf8')
  const failedWith = (error: RegExp, message: string) => {
    const failed = ensureBuilt()
    t.equal(failed.status, 1, message)
    t.match(failed.stdout + failed.stderr, error, message)
    t.match(failed.stderr, /compiling first/, message)
  }
  writeFileSync(join(dir, 'src', 'server.ts'), "import 'no-such-package'\n")
  failedWith(/Could not resolve "no-such-package"/, 'the bundling failed')
  writeFileSync(join(dir, 'src', 'server.ts'), 'export const s: string = 1\n')
  failedWith(/error TS2322/, 'tsc failed (and wrote its build info all the same)')
  failedWith(/error TS2322/, 'nothing changed: built again, not taken as built')
  writeFileSync(join(dir, 'src', 'server.ts'), server)
  t.match(ensureBuilt(), { status: 0, stderr: /compiling first/ })
  t.equal(bundledServer(), 'a is 3, their page\n')

  // A source saved as it was: tsc writes nothing, yet the build is marked as checked, once.
  utimesSync(buildInfo, new Date('2020-01-01'), new Date('2020-01-01'))
  t.match(ensureBuilt(), { stderr: /sources or dependencies changed/ })
  t.ok(statSync(buildInfo).mtimeMs > Date.now() - 60_000, 'the build is marked as checked')
  t.match(ensureBuilt(), { stderr: '' }, 'and the next start compiles nothing')
})

t.test('the bundle runs from the code V8 compiled for it in an earlier run, made anew when it does not suit', async t => {
  const serverAnswering = (answer: string) => "'use strict'\nconst { join } = require('node:path')\n" +
    `function answer () { return ${answer} }\n` +
    "console.log(`${answer()} from ${__filename === join(__dirname, 'server.cjs') ? 'its own file' : 'elsewhere'}, ${typeof require('node:fs').statSync}`)\n" +
    'process.exitCode = Number(process.env.EXIT_CODE ?? 0)\n'
  const dir = t.testdir({ 'server.cjs': serverAnswering('6 * 7') })
  const bundle = join(dir, 'server.cjs')
  const cache = `${bundle}.v8-cache`
  const codeCache = pathToFileURL(join(PROJECT_ROOT, 'scripts', 'code-cache.mjs')).href
  const run = (exitCode = 0) => spawnSync(process.execPath, ['--input-type=module', '-e', `(await import('${codeCache}')).runBundle(${JSON.stringify(bundle)})`],
    { encoding: 'utf8', env: { ...process.env, EXIT_CODE: String(exitCode) } })
  const madeAt = () => statSync(cache).mtimeMs

  t.match(run(1), { status: 1, stdout: '42 from its own file, function\n', stderr: '' }, 'run as Node runs a CommonJS module')
  t.notOk(existsSync(cache), 'no cache from a run that failed')
  t.match(run(), { status: 0, stdout: '42 from its own file, function\n' })
  const made = madeAt()
  t.ok(readFileSync(cache).length > 32, 'a clean exit made the cache')
  t.match(run(), { status: 0, stdout: '42 from its own file, function\n' })
  t.equal(madeAt(), made, 'the next run took it as it was')

  // A new bundle of the same length, which V8 alone would take the old cache for.
  writeFileSync(bundle, serverAnswering('6 * 8'))
  t.match(run(), { status: 0, stdout: '48 from its own file, function\n' }, 'a new bundle runs as it is')
  t.not(madeAt(), made, 'and has a cache of its own')
  const madeAgain = madeAt()
  t.match(run(), { stdout: '48 from its own file, function\n' })
  t.equal(madeAt(), madeAgain)

  const damaged = readFileSync(cache)
  damaged[damaged.length - 5] ^= 1
  writeFileSync(cache, damaged)
  t.match(run(), { status: 0, stdout: '48 from its own file, function\n' }, 'a damaged cache is not used')
  t.not(readFileSync(cache).equals(damaged), 'and is made again')
  writeFileSync(cache, 'short')
  t.match(run(), { status: 0, stdout: '48 from its own file, function\n' }, 'nor a truncated one')
  t.ok(readFileSync(cache).length > 32)

  // Where the cache cannot be written (a folder in its place), the bundle runs without, and leaves nothing behind.
  rmSync(cache)
  mkdirSync(cache)
  t.match(run(), { status: 0, stdout: '48 from its own file, function\n', stderr: '' })
  t.same(readdirSync(dir).sort(), ['server.cjs', 'server.cjs.v8-cache'], 'no temporary file left')
})

t.test('a deployment of the built files alone, production dependencies installed since, is not built again', async t => {
  // As a server holding a copy of dist/ and public/ after `npm ci --omit=dev`: no compiler, no sources.
  const dir = t.testdir({ dist: { '.tsbuildinfo': '{}' }, node_modules: { '.package-lock.json': '{}' } })
  utimesSync(join(dir, 'dist', '.tsbuildinfo'), new Date('2020-01-01'), new Date('2020-01-01'))
  t.match(spawnSync(process.execPath, [join(PROJECT_ROOT, 'scripts', 'ensure-built.mjs'), dir], { encoding: 'utf8' }), { status: 0, stderr: '' })
})

t.test('every installed package with an install script has been reviewed in allowScripts', async t => {
  const { allowScripts } = read('package.json')
  const withScripts: string[] = []
  const walk = (folder: string, scope = ''): void => {
    for (const name of existsSync(folder) ? readdirSync(folder) : []) {
      if (name.startsWith('.')) continue
      if (name.startsWith('@')) {
        walk(join(folder, name), `${name}/`)
        continue
      }
      const manifest = join(folder, name, 'package.json')
      if (!existsSync(manifest)) continue
      const { scripts = {} } = JSON.parse(readFileSync(manifest, 'utf8'))
      if (['preinstall', 'install', 'postinstall'].some(script => script in scripts)) withScripts.push(scope + name)
      walk(join(folder, name, 'node_modules'))
    }
  }
  walk(join(PROJECT_ROOT, 'node_modules'))
  // npm 11 warns of unreviewed install scripts at every install; npm 12 skips them.
  t.same(withScripts.filter(name => !(name in allowScripts)), [], 'no install script left unreviewed')
  // esbuild's postinstall only checks the binary its platform package installs: the bundling works without it.
  t.equal(allowScripts.esbuild, false)
})

t.test('Swagger UI serves its files with the project\'s own @fastify/static, not a second copy loaded at every start', async t => {
  const fromProject = createRequire(join(PROJECT_ROOT, 'package.json'))
  const fromSwaggerUi = createRequire(fromProject.resolve('@fastify/swagger-ui'))
  t.equal(fromSwaggerUi.resolve('@fastify/static'), fromProject.resolve('@fastify/static'))
})
