// npm run ingest -- DIR: loads DIR's CSV files that the ClickHouse database does not hold yet, without serving.
// ClickHouse is configured as for npm start (CLICKHOUSE_URL, CLICKHOUSE_DATABASE, …).
import { loadConfig } from '../src/config.js'
import { listCsvFiles } from '../src/ingest/data-folder.js'
import type { LoadProgress } from '../src/ingest/dataset.js'
import { ClickHouseBackend } from '../src/backends/clickhouse/backend.js'

const log = {
  info: (message: string) => console.log(message),
  warn: (message: string) => console.warn(`warning: ${message}`)
}

try {
  const dir = process.argv[2]
  if (dir === undefined || process.argv.length > 3) throw new Error('usage: npm run ingest -- DIR')
  const config = loadConfig()
  const files = await listCsvFiles(dir)
  const backend = new ClickHouseBackend(config, files, log)
  const stop = new AbortController()
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort(new Error(`stopped by ${signal}`)))
  let reported = 0
  const onProgress = ({ bytesDone, bytesTotal }: LoadProgress): void => {
    const percent = Math.floor((100 * bytesDone) / Math.max(bytesTotal, 1))
    if (percent >= reported + 10) console.log(`${(reported = percent - (percent % 10))}% read`)
  }
  try {
    await backend.load(onProgress, stop.signal)
  } finally {
    await backend.close()
  }
  const summary = backend.summary()
  for (const bad of summary.skippedRowExamples) console.warn(`skipped bad row ${bad.file}:${bad.line}: ${bad.reason}`)
  console.log(`loaded ${summary.files.map(file => `${file.file} (${file.rows} rows, ${file.skippedRows} skipped)`).join(', ')}; ` +
    `the database holds ${summary.rows} page views of ${summary.sites} sites`)
} catch (error) {
  console.error(`ingest: ${(error as Error).message}`)
  process.exit(1)
}
