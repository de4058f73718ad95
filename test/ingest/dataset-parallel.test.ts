// Loading on worker threads, over files split into ranges: the same store and reports as on one thread.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { listCsvFiles } from '../../src/ingest/data-folder.js'
import { loadDataset, type LoadProgress } from '../../src/ingest/dataset.js'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS } from '../../scripts/lib/page-view-generator.js'
import { contents, onThisThread, onWorkers } from './load-options.js'
import { sessionizeSite } from '../../src/domain/sessions.js'

t.test('worker threads and split files build the same store, with the same line numbers', async t => {
  const dir = t.testdir({})
  const paths = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 3000, sites: 5, visitors: 200, files: 3, out: dir, seed: 3 })
  const [first, last] = [paths[0], paths.at(-1)!]
  await writeFile(first, 'visitor_id,site_url,page_view_url,timestamp\n' +
    readFileSync(first, 'utf8').split('\n').map((line, i) =>
      i === 700 ? 'broken' : i % 97 === 0 && line ? `"${line.replace(',', '",')}` : line).join('\n'))
  // A bad row near the end of the last file, in the ranges cut finest (the parse's last).
  const lastLines = readFileSync(last, 'utf8').split('\n')
  const lastBroken = lastLines.length - 30
  await writeFile(last, lastLines.map((line, i) => i === lastBroken ? 'also,broken' : line).join('\n'))
  const files = await listCsvFiles(dir)
  const single = await loadDataset(files, onThisThread)
  const progress: LoadProgress[] = []
  const parallel = await loadDataset(files, { ...onWorkers, onProgress: p => progress.push({ ...p }) })
  t.equal(parallel.summary.workers, 2)
  t.same(contents(t, await parallel.complete), contents(t, await single.complete))
  t.same(parallel.summary.skippedRowExamples, single.summary.skippedRowExamples)
  t.same(single.summary.skippedRowExamples, [
    { file: basename(first), line: 702, reason: 'expected 4 fields, found 1' },
    { file: basename(last), line: lastBroken + 1, reason: 'expected 4 fields, found 2' }
  ])
  t.same(parallel.summary.files, single.summary.files)
  t.equal(progress.at(-1)!.bytesDone, progress.at(-1)!.bytesTotal)
  const papaparseOnly = await loadDataset(files, { ...onWorkers, fastPath: false })
  t.same(contents(t, await papaparseOnly.complete), contents(t, await single.complete), 'papaparse alone builds the same store')
})

t.test('unquoted, fully quoted and mixed files: the fast path and papaparse alone build the same store', async t => {
  const dir = t.testdir({})
  // The first file stays unquoted.
  const [, quoted, mixed] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 6000, sites: 7, visitors: 300, files: 3, out: dir, seed: 12 })
  const rewrite = async (file: string, quoteLine: (index: number) => boolean) => {
    await writeFile(file, readFileSync(file, 'utf8').split('\n').map((line, i) =>
      line && quoteLine(i) ? line.split(',').map(field => `"${field}"`).join(',') : line).join('\n'))
  }
  await rewrite(quoted, () => true)
  await rewrite(mixed, i => i % 2 === 0)
  const files = await listCsvFiles(dir)
  for (const options of [onThisThread, onWorkers]) {
    const fast = await loadDataset(files, options)
    const papaparseOnly = await loadDataset(files, { ...options, fastPath: false })
    t.equal(fast.summary.rows, 6000)
    t.equal(fast.summary.skippedRows, 0)
    t.same(contents(t, await fast.complete), contents(t, await papaparseOnly.complete))
    t.same(fast.summary.files, papaparseOnly.summary.files)
  }
})

t.test('a split that falls inside a quoted field is found, and the file is parsed whole', async t => {
  const longQuoted = `"${'line\n'.repeat(2000)}"`
  const dir = t.testdir({ 'q.csv': `v1,s1,${longQuoted},10\nv2,s1,u,20\nv3,s1,"${'x\n'.repeat(3000)}",30\n` })
  // On the parse's own workers, and on fresh ones, which the first parse has started when it is parsed again.
  for (const options of [onWorkers, { ...onWorkers, tuning: { ...onWorkers.tuning, freshBuildWorkersBytes: 0 } }]) {
    const { complete, summary } = await loadDataset(await listCsvFiles(dir), options)
    t.equal(summary.rows, 3)
    t.equal(summary.skippedRows, 0)
    const view = (time: number, page: string) => JSON.stringify([time, page])
    t.same(contents(t, await complete), [
      JSON.stringify(['s1', 'v1', [view(10, 'line\n'.repeat(2000))]]), JSON.stringify(['s1', 'v2', [view(20, 'u')]]),
      JSON.stringify(['s1', 'v3', [view(30, 'x\n'.repeat(3000))]])
    ], 'the quoted pages whole')
  }
})

t.test('workers that build the store sessionize every site with the timeout given, as this thread would', async t => {
  const dir = t.testdir({})
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 8000, sites: 9, visitors: 400, files: 3, out: dir, seed: 5 })
  const files = await listCsvFiles(dir)
  for (const timeout of [1800, 60]) {
    const { store, sessionTables } = await loadDataset(files, { ...onWorkers, sessionTimeoutSeconds: timeout })
    t.same(sessionTables.map(table => table.siteUrl).sort(), [...store.siteUrls].sort(), 'one table for each site')
    for (const table of sessionTables) {
      t.same(table, await sessionizeSite(store, store.siteIdByUrl.get(table.siteUrl)!, timeout), `${table.siteUrl}, timeout ${timeout}`)
    }
    const buffers = new Set(sessionTables.flatMap(table => [table.sessionLengths.buffer, table.sessionRows.buffer]))
    t.equal(buffers.size, 2 * onWorkers.workers, 'each worker hands over its tables in one piece: its lengths and its rows')
  }
  t.same((await loadDataset(files, onWorkers)).sessionTables, [], 'none without a timeout')
  t.same((await loadDataset(files, { ...onThisThread, sessionTimeoutSeconds: 1800 })).sessionTables, [], 'none from this thread: warm-up computes them')
})
