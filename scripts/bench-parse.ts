// npm run bench:parse [-- --data DIR --megabytes 300 --repeat 5]: a parse's hot path on this thread alone, no
// workers, no build: the first megabytes of each CSV file of DIR (the generated 10 M set by default; made by
// `npm run bench` first) read in 4 MiB chunks by a PageViewBatchBuilder sized as a load sizes it, as the plain
// lines' fast path reads them. Prints nanoseconds a row, by the clock and in user CPU time, for each repeat and
// their median. To compare two programs, run it in two checkouts one after the other, several times: the host's
// noise moves single runs by a tenth or more.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PROJECT_ROOT } from '../src/project-root.js'
import { PageViewBatchBuilder, expectedSizes } from '../src/ingest/page-view-batch.js'

const CHUNK_BYTES = 4 * 1024 * 1024
const NEWLINE = 10

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(PROJECT_ROOT, 'bench-data', '10M-v700000-s1000-f10') },
    megabytes: { type: 'string', default: '300' },
    repeat: { type: 'string', default: '5' }
  }
})
const files = readdirSync(values.data).filter(name => name.endsWith('.csv')).sort()
if (files.length === 0) throw new Error(`${values.data} holds no CSV file: \`npm run bench -- --sizes 10M\` generates the default set`)
const bytesPerFile = (Number(values.megabytes) * 1e6) / files.length
const texts = files.map(name => readFileSync(join(values.data, name)).subarray(0, bytesPerFile))
const bytes = texts.reduce((sum, text) => sum + text.length, 0)

/** One parse of every text; its rows, and nanoseconds a row by the clock and in user CPU time. */
function parseOnce (): { rows: number, wallNs: number, cpuNs: number } {
  // As a load sizes a parse of these bytes.
  const builder = new PageViewBatchBuilder(expectedSizes(bytes))
  let rows = 0
  const started = performance.now()
  const cpu = process.cpuUsage()
  for (const text of texts) {
    for (let from = 0; from < text.length;) {
      const to = text.lastIndexOf(NEWLINE, Math.min(text.length, from + CHUNK_BYTES) - 1) + 1
      if (to <= from) break
      builder.setPlainLines(text.subarray(from, to))
      const read = builder.addPlainLines(0, to - from, CHUNK_BYTES, false)
      if (read.end !== to - from) throw new Error(`a line the fast path does not read, ${read.end} bytes into a chunk: this bench wants plain lines`)
      rows += read.rows
      from = to
    }
  }
  const wallMs = performance.now() - started
  const cpuMs = process.cpuUsage(cpu).user / 1000
  return { rows, wallNs: (wallMs * 1e6) / rows, cpuNs: (cpuMs * 1e6) / rows }
}

const median = (values: number[]): number => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)]
const runs = Array.from({ length: Number(values.repeat) }, () => {
  const run = parseOnce()
  console.log(`${run.rows.toLocaleString('en')} rows: ${run.wallNs.toFixed(0)} ns a row (${run.cpuNs.toFixed(0)} ns of CPU)`)
  return run
})
console.log(`median of ${runs.length}: ${median(runs.map(run => run.wallNs)).toFixed(0)} ns a row (${median(runs.map(run => run.cpuNs)).toFixed(0)} ns of CPU), ` +
  `${(bytes / 1e6).toFixed(0)} MB of ${files.length} files in ${values.data}`)
