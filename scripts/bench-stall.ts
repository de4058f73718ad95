// npm run bench:stall [-- --rows 4000000]: how long a cache miss on a site of millions of views holds up
// cached answers for other sites. Starts the server npm start runs with WARM_CACHE=0 on one huge site and one small
// one, then asks the small (cached) site one request after another, first idle, then while the huge site's
// session table is computed on a miss, and prints the worst and 99th-percentile latencies of both phases.
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PROJECT_ROOT } from '../src/project-root.js'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews } from './lib/page-view-generator.js'
import { freePort, startProcess, waitUntilLoaded } from './lib/bench-lib.js'

const TARGET_MS = 50
const { values } = parseArgs({ options: { rows: { type: 'string', default: '4000000' } } })
const rows = Number(values.rows)

const dir = join(PROJECT_ROOT, 'bench-data', `stall-${rows}`)
if (!existsSync(join(dir, 'small.csv'))) {
  // One site holds every generated view; a second, small site is the one whose cached answers are timed.
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows, sites: 1, visitors: Math.ceil(rows / 15), files: 2, days: 30, seed: 1, out: dir })
  writeFileSync(join(dir, 'small.csv'), 'v1,small,/,1\nv1,small,/,60\nv2,small,/,5\n')
}

/** Milliseconds of each request, asked one after another until `until` says stop (or `count` are done). */
async function timeRequests (url: string, until: () => boolean, count = Infinity): Promise<number[]> {
  const latencies: number[] = []
  while (!until() && latencies.length < count) {
    const started = performance.now()
    const response = await fetch(url)
    await response.text()
    if (!response.ok) throw new Error(`${url} answered ${response.status}`)
    latencies.push(performance.now() - started)
  }
  return latencies
}

function summary (latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b)
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]
  return `${sorted.length} answers, p99 ${p99.toFixed(1)} ms, worst ${sorted.at(-1)!.toFixed(1)} ms`
}

const port = await freePort()
const server = await startProcess([join(PROJECT_ROOT, 'dist', 'bundle', 'server.cjs')],
  { DATA_DIR: dir, PORT: String(port), WARM_CACHE: '0', LOG_LEVEL: 'silent' }, port, '/health')
try {
  await waitUntilLoaded(server.baseUrl)
  const small = `${server.baseUrl}/num_sessions?site_url=small`
  await timeRequests(small, () => false, 50)
  const idle = await timeRequests(small, () => false, 2000)

  let computed = false
  const missStarted = performance.now()
  const miss = fetch(`${server.baseUrl}/num_sessions?site_url=www.s_1.com`).then(async response => {
    const answer = await response.text()
    computed = true
    return { answer, ms: performance.now() - missStarted }
  })
  const during = await timeRequests(small, () => computed)
  const { answer, ms } = await miss

  console.log(`site of ${rows.toLocaleString('en')} views computed on a miss in ${ms.toFixed(0)} ms: ${answer}`)
  console.log(`cached answers for another site, idle:            ${summary(idle)}`)
  console.log(`cached answers for another site, during the miss: ${summary(during)}`)
  const worst = Math.max(...during)
  console.log(`worst stall ${worst.toFixed(1)} ms: ${worst <= TARGET_MS ? 'within' : 'OVER'} the ${TARGET_MS} ms bound` +
    ` (computed in one piece, the stall would be the whole ${ms.toFixed(0)} ms)`)
} finally {
  await server.stop()
}
