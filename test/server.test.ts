// The process as a user starts it: configuration errors, data errors, serving, and a clean stop.
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { once } from 'node:events'
import { freePort } from '../scripts/lib/bench-lib.js'
import { PROJECT_ROOT } from '../src/project-root.js'
import { BUNDLE_COVERAGE_OFF, compiled } from './helper.js'

const SERVER = compiled('src/server.ts')
/** What npm start runs: the compiled server bundled with its dependencies (and its workers beside it), with V8's code cache. */
const NPM_START = join(PROJECT_ROOT, 'scripts', 'start.mjs')

interface Started {
  output: () => string
  exited: Promise<number | null>
  kill: (signal: NodeJS.Signals) => void
}

/**
 * Runs the compiled server as `npm start` does, with `env` added to a clean environment; with no cache
 * folder unless `env` names one, so that test data leaves nothing in the project's.
 */
function startServer (env: Record<string, string>, server = SERVER): Started {
  const coverage = server === SERVER ? { NODE_V8_COVERAGE: process.env.NODE_V8_COVERAGE } : BUNDLE_COVERAGE_OFF
  const child = spawn(process.execPath, [server], {
    env: { PATH: process.env.PATH, ...coverage, CACHE_DIR: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', chunk => { output += chunk })
  child.stderr.on('data', chunk => { output += chunk })
  return {
    output: () => output,
    exited: once(child, 'exit').then(([code]) => code as number | null),
    kill: signal => child.kill(signal)
  }
}

t.test('a bad variable stops the start with a message naming it', async t => {
  const server = startServer({ PORT: 'eighty' })
  t.equal(await server.exited, 1)
  t.match(server.output(), /sessionizer: PORT must be an integer from 0 to 65535, got "eighty"/)
})

t.test('BACKEND=clickhouse with ClickHouse out of reach stops the start with a message naming CLICKHOUSE_URL', async t => {
  const server = startServer({ BACKEND: 'clickhouse', CLICKHOUSE_URL: 'http://127.0.0.1:9', DATA_DIR: '/no/such/folder', PORT: '0' })
  t.equal(await server.exited, 1)
  t.match(server.output(), /cannot load data: cannot reach ClickHouse at CLICKHOUSE_URL=http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/)
})

t.test('a missing data folder stops the start', async t => {
  const server = startServer({ DATA_DIR: '/no/such/folder', PORT: '0' })
  t.equal(await server.exited, 1)
  t.match(server.output(), /cannot start: cannot read data folder \/no\/such\/folder/)
  const silent = startServer({ DATA_DIR: '/no/such/folder', PORT: '0', LOG_LEVEL: 'silent' })
  t.equal(await silent.exited, 1, 'silent, but still a failure')
  t.equal(silent.output(), '')
})

t.test('a strict load that meets a bad row stops the process', async t => {
  const dataDir = t.testdir({ 'v.csv': 'a,s,u,1\nb,s,u\n' })
  const server = startServer({ DATA_DIR: dataDir, PORT: '0', STRICT_CSV: '1', LOG_LEVEL: 'warn' })
  t.equal(await server.exited, 1)
  t.match(server.output(), /cannot load data: .*v\.csv:2: expected 4 fields, found 3/)
})

t.test('serves the data, then stops cleanly on SIGTERM; requests are logged only with ACCESS_LOG', async t => {
  const dataDir = t.testdir({ 'v.csv': 'a,www.s_1.com,u,1\na,www.s_1.com,u,61\n' })
  for (const [env, logged] of [[{}, false], [{ ACCESS_LOG: '1' }, true], [{ ACCESS_LOG: '1', LOG_LEVEL: 'warn' }, false]] as const) {
    const port = await freePort()
    const server = startServer({ DATA_DIR: dataDir, PORT: String(port), ...env })
    const address = `http://127.0.0.1:${port}`
    let health: Response | undefined
    while (health?.status !== 200) {
      health = await fetch(`${address}/health`).catch(() => undefined)
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    t.equal(await (await fetch(`${address}/median_session_length?site_url=www.s_1.com`)).text(),
      'Median session length for site www.s_1.com = 60.0')
    server.kill('SIGTERM')
    t.equal(await server.exited, 0)
    t.equal(/incoming request/.test(server.output()), logged, `${JSON.stringify(env)}: requests ${logged ? '' : 'not '}logged`)
    t.equal(/data loaded/.test(server.output()), !('LOG_LEVEL' in env), 'start-up is logged at info')
  }
})

t.test('a restart on unchanged data reads the cache folder instead of the CSV files', async t => {
  const root = t.testdir({ data: { 'v.csv': 'a,www.s_1.com,u,1\na,www.s_1.com,u,61\n' } })
  const env = { DATA_DIR: join(root, 'data'), CACHE_DIR: join(root, 'cache'), LOG_LEVEL: 'warn' }
  const sources: unknown[] = []
  for (let start = 0; start < 2; start++) {
    const port = await freePort()
    const server = startServer({ ...env, PORT: String(port) })
    let health: { status?: string, source?: string, cache_file?: string } = {}
    while (health.status !== 'ready' || health.cache_file === 'saving') {
      await new Promise(resolve => setTimeout(resolve, 50))
      health = await fetch(`http://127.0.0.1:${port}/health`).then(res => res.json(), () => ({}))
    }
    sources.push([health.source, health.cache_file])
    server.kill('SIGTERM')
    t.equal(await server.exited, 0)
  }
  t.same(sources, [['csv', 'saved'], ['cache', 'read']])
})

t.test('the bundle npm start runs parses on its workers, restarts from its cache, and answers as the compiled server does', async t => {
  // Past 8 MB, the load is parsed and built on the workers, which are bundled apart from the server.
  const lines = []
  for (let row = 0, timestamp = 1_500_000_000; row < 200_000; row++) {
    // Runs of eight views by one visitor, one in nine gaps past the timeout.
    const visitor = ((row >> 3) * 7919) % 5003
    timestamp += 30 + ((row * row) % 2000)
    lines.push(`visitor-${visitor},www.s_${visitor % 7}.com,/pages/${row % 101}.html,${timestamp}`)
  }
  const root = t.testdir({ data: { 'v.csv': lines.join('\n') + '\n' } })
  const questions = ['/num_sessions?site_url=www.s_3.com', '/median_session_length?site_url=www.s_5.com', '/num_unique_visited_sites?visitor_id=visitor-4242',
    '/site_pages?site_url=www.s_2.com&limit=3']
  const answers: Record<string, unknown[]> = {}
  for (const [name, server, cacheDir] of [['compiled', SERVER, ''], ['bundled', NPM_START, join(root, 'cache')], ['bundled, restarted', NPM_START, join(root, 'cache')]]) {
    const port = await freePort()
    const started = startServer({ DATA_DIR: join(root, 'data'), CACHE_DIR: cacheDir, PORT: String(port), LOG_LEVEL: 'warn' }, server)
    const address = `http://127.0.0.1:${port}`
    let health: { status?: string, source?: string, cache_file?: string, load_workers?: number, pages?: string } = {}
    // Until the pages too are in: read again after ready by the workers of a load from CSV, or from the cache folder.
    while (health.status !== 'ready' || health.cache_file === 'saving' || health.pages !== 'ready') {
      await new Promise(resolve => setTimeout(resolve, 50))
      health = await fetch(`${address}/health`).then(res => res.json(), () => ({}))
    }
    answers[name] = await Promise.all(questions.map(async path => (await fetch(address + path)).text()))
    // Bundled, Swagger UI still finds its pages, in its package's folder.
    answers[name].push((await (await fetch(`${address}/docs/json`)).json()).openapi, (await fetch(`${address}/docs/`)).status,
      (await fetch(`${address}/docs/static/swagger-ui.css`)).status)
    t.match(health, name === 'bundled, restarted' ? { source: 'cache', load_workers: 0 } : { source: 'csv', load_workers: 2 }, name)
    started.kill('SIGTERM')
    t.equal(await started.exited, 0)
  }
  t.match(answers.compiled, [/= \d+$/, /= [1-9]\d*\.\d$/, /= [1-7]$/, /\/pages\/\d+\.html/, /^3\./, 200, 200])
  t.same(answers.bundled, answers.compiled)
  t.same(answers['bundled, restarted'], answers.compiled)
})

/** Waits until the server answers /health at all (loading or loaded). */
async function answering (address: string): Promise<void> {
  while (await fetch(`${address}/health`).then(() => false, () => true)) await new Promise(resolve => setTimeout(resolve, 50))
}

t.test('SIGTERM ends the process promptly while four pipes wait for writers, and static files are served meanwhile', async t => {
  const dataDir = t.testdir({})
  for (let i = 0; i < 4; i++) execFileSync('mkfifo', [join(dataDir, `pipe${i}.csv`)])
  const port = await freePort()
  const server = startServer({ DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' })
  const address = `http://127.0.0.1:${port}`
  await answering(address)
  t.equal((await fetch(`${address}/health`)).status, 503)
  t.equal((await fetch(`${address}/`)).status, 200, 'the landing page, while the pipes wait')
  const stopped = Date.now()
  server.kill('SIGTERM')
  server.kill('SIGINT')
  t.equal(await server.exited, 0, 'a second signal neither hurries nor blocks the first')
  t.ok(Date.now() - stopped < 3000, `exited in ${Date.now() - stopped} ms`)
})

t.test('SIGTERM ends the process promptly with a client stuck in the middle of a request', async t => {
  const dataDir = t.testdir({ 'v.csv': 'a,s,u,1\n' })
  const port = await freePort()
  const server = startServer({ DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' })
  await answering(`http://127.0.0.1:${port}`)
  const client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  client.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ')
  client.on('error', () => {})
  const stopped = Date.now()
  server.kill('SIGTERM')
  t.equal(await server.exited, 0)
  t.ok(Date.now() - stopped < 3000, `exited in ${Date.now() - stopped} ms`)
  client.destroy()
})

t.test('SIGTERM to npm start stops the server too, leaving no orphan', async t => {
  const port = await freePort()
  const npm = spawn('npm', ['start'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...BUNDLE_COVERAGE_OFF, PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
    // A group of its own, so that whatever npm leaves behind, even when this test fails, is stopped after it.
    detached: true
  })
  t.teardown(() => { try { process.kill(-npm.pid!, 'SIGKILL') } catch { /* the group is gone: nothing left */ } })
  const exited = once(npm, 'exit')
  await answering(`http://127.0.0.1:${port}`)
  npm.kill('SIGTERM')
  t.same(await exited, [0, null], 'npm start ends as the server does, with 0')
  await t.rejects(fetch(`http://127.0.0.1:${port}/health`), 'nothing answers any more')
})

t.test('SIGTERM at any moment of start-up ends the process promptly', async t => {
  for (const delay of [50, 150, 250, 400]) {
    const server = startServer({ DATA_DIR: t.testdir({ 'v.csv': 'a,s,u,1\n' }), PORT: '0', LOG_LEVEL: 'warn' })
    await new Promise(resolve => setTimeout(resolve, delay))
    const stopped = Date.now()
    server.kill('SIGTERM')
    // Before Node has run our code, the signal's default action ends it; after, our handler does, with 0.
    t.ok([0, null].includes(await server.exited), `after ${delay} ms`)
    t.ok(Date.now() - stopped < 3000, `exited in ${Date.now() - stopped} ms`)
  }
})
