// npm run hostile: the server npm start runs (the bundle) tried as a hostile user would. Noisy files (garbage lines with quotes,
// NULs, invalid UTF-8, CR and 2 MB lines between good rows) on every parse path; fuzzed queries, slowloris
// sockets and pipelining; SIGTERM at every stage of a load. Prints what it found, and exits 1 on a lost good
// row, an answer of 500 or more, a stalled answer or a slow exit.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../src/project-root.js'
import { seededRandom } from './lib/page-view-generator.js'
import { freePort, startProcess, waitUntilLoaded } from './lib/bench-lib.js'

const SERVER = join(PROJECT_ROOT, 'dist', 'bundle', 'server.cjs')
const problems: string[] = []
const check = (ok: boolean, problem: string): void => { if (!ok) problems.push(problem) }

/**
 * Good rows between garbage lines. Garbage holds no comma and never ends in a quote, so a quote in it can
 * open a quoted field that nothing closes: every good row must then be read, whatever the garbage.
 */
function writeNoisyFiles (dir: string): number {
  const random = seededRandom(11)
  const pick = (n: number): number => Math.floor(random() * n)
  let goodRows = 0
  for (const [file, lines] of [['a.csv', 700_000], ['b.csv', 100_000]] as const) {
    const parts: Buffer[] = []
    for (let i = 0; i < lines; i++) {
      if (i % 100_000 === 7) parts.push(Buffer.from(`${'x'.repeat(2_000_000)}\n`))
      else if (pick(3) === 0) {
        const garbage = Buffer.from(Array.from({ length: pick(60) }, () => pick(256)).filter(byte => byte !== 10 && byte !== 44))
        if (garbage.at(-1) === 34) garbage[garbage.length - 1] = 120
        parts.push(garbage, Buffer.from('\n'))
      } else {
        parts.push(Buffer.from(`good${goodRows},site${pick(50)},/p,${1_600_000_000 + pick(1_000_000)}${pick(2) ? '\r' : ''}\n`))
        goodRows++
      }
    }
    writeFileSync(join(dir, file), Buffer.concat(parts))
  }
  return goodRows
}

async function noisyFiles (dir: string, goodRows: number): Promise<void> {
  const paths: Record<string, string>[] = [{}, { LOAD_WORKERS: '0' }, { CSV_FAST_PATH: '0' }]
  for (const env of paths) {
    const port = await freePort()
    const server = await startProcess([SERVER], { DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'silent', ...env }, port, '/health')
    await waitUntilLoaded(server.baseUrl)
    const health = await (await fetch(`${server.baseUrl}/health`)).text()
    const { rows, skipped_rows: skipped } = JSON.parse(health) as { rows: number, skipped_rows: number }
    console.log(`noisy files ${JSON.stringify(env)}: ${rows} rows of ${goodRows} good, ${skipped} skipped, /health ${health.length} bytes`)
    check(rows === goodRows, `noisy files ${JSON.stringify(env)}: ${rows} rows read, ${goodRows} good rows written`)
    check(health.length < 64 * 1024, `/health is ${health.length} bytes`)
    await server.stop()
  }
}

async function hostileClients (): Promise<void> {
  const port = await freePort()
  const server = await startProcess([SERVER], { DATA_DIR: join(PROJECT_ROOT, 'data'), PORT: String(port), LOG_LEVEL: 'silent' }, port, '/health')
  await waitUntilLoaded(server.baseUrl)
  const random = seededRandom(5)
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
  const pieces = ['site_url', 'visitor_id', '=', '&', 'www.s_1.com', 'visitor_1', '%', '%00', '%ZZ', '%E2%82', '[]', '%0A',
    '%22%3E%3Cimg', 'x'.repeat(5000), 'é', '..%2F..%2F', '+', ';', '%25', '-1', '1e309']
  const paths = ['/num_sessions', '/median_session_length', '/num_unique_visited_sites', '/site_stats', '/sites', '/health', '/',
    '/app.js', '/../package.json', '/%2e%2e/package.json', '/nope', '//', '/%']
  const accepts = ['', 'application/json', 'APPLICATION/JSON', 'text/*;q=0.1, application/json', '*/*', 'garbage;;;', 'a'.repeat(3000)]
  // Slowloris: sockets that drip a header line now and then, held while the fuzzing runs.
  const slow: Socket[] = Array.from({ length: 300 }, () => connect(port, '127.0.0.1').on('error', () => {}))
  for (const socket of slow) socket.write('GET /health HTTP/1.1\r\nHost: x\r\n')
  const drip = setInterval(() => { for (const socket of slow) if (socket.writable) socket.write('X-A: b\r\n') }, 500)
  const statuses = new Map<number, number>()
  await Promise.all(Array.from({ length: 200 }, async () => {
    for (let i = 0; i < 40; i++) {
      const query = Array.from({ length: Math.floor(random() * 5) }, () => pick(pieces)).join('')
      const accept = pick(accepts)
      const response = await fetch(`${server.baseUrl}${pick(paths)}?${query}`, { headers: accept ? { accept } : {} })
      await response.arrayBuffer()
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
    }
  }))
  const started = performance.now()
  const ordinary = await fetch(`${server.baseUrl}/num_sessions?site_url=www.s_1.com`)
  const ordinaryMs = performance.now() - started
  clearInterval(drip)
  for (const socket of slow) socket.destroy()
  const pipelined = await new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1')
    let answers = ''
    socket.on('data', chunk => {
      answers += chunk
      if ((answers.match(/HTTP\/1\.1 /g) ?? []).length === 50) { socket.destroy(); resolve(answers) }
    })
    socket.write(Array.from({ length: 50 }, (_, i) => `GET /num_sessions?site_url=www.s_${1 + (i % 10)}.com HTTP/1.1\r\nHost: x\r\n\r\n`).join(''))
  })
  const pipelinedOk = (pipelined.match(/HTTP\/1\.1 200/g) ?? []).length
  console.log(`8,000 fuzzed requests beside 300 slowloris sockets: ${JSON.stringify(Object.fromEntries(statuses))};` +
    ` an ordinary query meanwhile: ${ordinary.status} in ${ordinaryMs.toFixed(0)} ms; 50 pipelined: ${pipelinedOk} answered 200`)
  check([...statuses.keys()].every(status => status < 500), 'a fuzzed request answered 5xx')
  check(ordinary.status === 200 && ordinaryMs < 1000, `an ordinary query beside slowloris: ${ordinary.status} in ${ordinaryMs} ms`)
  check(pipelinedOk === 50, `${pipelinedOk} of 50 pipelined requests answered 200`)
  await server.stop()
}

/** SIGTERM at each delay after start: the process must end within 3 s, with 0 (or by the signal itself, before Node ran our code). */
async function signals (dir: string): Promise<void> {
  for (const delayMs of [50, 300, 450, 500, 550, 600, 700, 1000, 2000, 3000, 4500, 9000]) {
    const port = await freePort()
    const child = spawn(process.execPath, [SERVER], { env: { ...process.env, DATA_DIR: dir, CACHE_DIR: '', PORT: String(port), LOG_LEVEL: 'silent' }, stdio: 'ignore' })
    const exited = once(child, 'exit')
    await new Promise(resolve => setTimeout(resolve, delayMs))
    const state = await fetch(`http://127.0.0.1:${port}/health`).then(response => response.json() as Promise<{ status: string }>, () => ({ status: 'starting' }))
    const started = performance.now()
    child.kill('SIGTERM')
    const [code, signal] = await exited as [number | null, string | null]
    const ms = performance.now() - started
    console.log(`SIGTERM ${delayMs} ms after start (${state.status}): exit ${code ?? signal} in ${ms.toFixed(0)} ms`)
    check(ms < 3000 && (code === 0 || signal === 'SIGTERM'), `SIGTERM ${delayMs} ms after start: exit ${code ?? signal} in ${ms} ms`)
  }
}

const dir = join(PROJECT_ROOT, 'bench-data', 'hostile')
const goodRowsFile = join(dir, 'good-rows')
if (!existsSync(goodRowsFile)) {
  mkdirSync(dir, { recursive: true })
  writeFileSync(goodRowsFile, String(writeNoisyFiles(dir)))
}
const goodRows = Number(readFileSync(goodRowsFile, 'utf8'))
await noisyFiles(dir, goodRows)
await hostileClients()
await signals(dir)
console.log(problems.length === 0 ? 'hostile: nothing found' : `hostile: ${problems.length} problems\n${problems.join('\n')}`)
process.exit(problems.length === 0 ? 0 : 1)
