import t from 'tap'
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { DataDirError, listCsvFiles, loadDataset, type LoadOptions, type LoadProgress } from '../../src/domain/dataset.js'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS } from '../../scripts/lib/page-view-generator.js'
import type { PageViewStore } from '../../src/domain/page-view-store.js'
import { buildOnWorkers, parseOnWorkers } from '../../src/domain/parallel-parse.js'

const onThisThread: LoadOptions = { strict: false, maxBadRowExamples: 10, fastPath: true, workers: 0 }
/** Two workers, and files cut into many small ranges, so that small test data takes the parallel path. */
const onWorkers: LoadOptions = {
  ...onThisThread,
  workers: 2,
  tuning: { minBytesForWorkers: 0, splitBytes: 4096, chunkBytes: 1024 }
}

/** What a store answers, independent of the order of ids and rows: each (site, visitor)'s sorted times. */
function contents (store: PageViewStore): string[] {
  const groups: string[] = []
  store.siteUrls.forEach((site, id) => {
    const times = new Map<string, number[]>()
    for (let row = store.siteRowStart[id]; row < store.siteRowStart[id + 1]; row++) {
      const visitor = store.visitors.keyOf(store.visitorColumn[row])
      times.set(visitor, [...(times.get(visitor) ?? []), store.timestampColumn[row]])
    }
    for (const [visitor, list] of times) {
      t.same(list, [...list].sort((a, b) => a - b), 'times are in order within a visitor')
      groups.push(JSON.stringify([site, visitor, list]))
    }
  })
  return groups.sort()
}

t.test('lists only CSV files and pipes, sorted by name, with their sizes', async t => {
  const dir = t.testdir({
    'b.csv': 'v,s,u,1\n',
    'a.CSV': '',
    'notes.txt': 'not data',
    'folder.csv': {}
  })
  execFileSync('mkfifo', [join(dir, 'c.csv')])
  t.same(await listCsvFiles(dir), [
    { path: join(dir, 'a.CSV'), bytes: 0, pipe: false },
    { path: join(dir, 'b.csv'), bytes: 8, pipe: false },
    { path: join(dir, 'c.csv'), bytes: 0, pipe: true }
  ])
})

t.test('a missing folder or one without CSV files is a clear error', async t => {
  await t.rejects(listCsvFiles('/no/such/folder'), new DataDirError('cannot read data folder /no/such/folder: ' +
    "ENOENT: no such file or directory, scandir '/no/such/folder'"))
  const empty = t.testdir({ 'readme.txt': '' })
  await t.rejects(listCsvFiles(empty), new DataDirError(`no .csv file in data folder ${empty}`))
})

t.test('loads every file into one store with a summary and progress', async t => {
  const dir = t.testdir({
    '1.csv': 'v1,s1,u,100\nv2,s2,u,50\nbad\n',
    '2.csv': 'v1,s2,u,300\n,s1,u,1\n'
  })
  const progress: LoadProgress[] = []
  const { store, summary } = await loadDataset(await listCsvFiles(dir), {
    ...onThisThread,
    maxBadRowExamples: 1,
    onProgress: p => progress.push({ ...p })
  })
  t.equal(store.timestampColumn.length, 3)
  t.match(summary, {
    files: [{ file: '1.csv', rows: 2, skippedRows: 1 }, { file: '2.csv', rows: 1, skippedRows: 1 }],
    rows: 3,
    skippedRows: 2,
    skippedRowExamples: [{ file: '1.csv', line: 3, reason: 'expected 4 fields, found 1' }],
    sites: 2,
    visitors: 2,
    firstTimestamp: 50,
    lastTimestamp: 300,
    workers: 0
  })
  t.type(summary.loadMs, 'number')
  t.same(progress.at(-1), { filesTotal: 2, bytesTotal: 47, bytesDone: 47 })
})

t.test('worker threads and split files build the same store, with the same line numbers', async t => {
  const dir = t.testdir({})
  const [first] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 3000, sites: 5, visitors: 200, files: 3, out: dir, seed: 3 })
  await writeFile(first, 'visitor_id,site_url,page_view_url,timestamp\n' +
    (await import('node:fs')).readFileSync(first, 'utf8').split('\n').map((line, i) =>
      i === 700 ? 'broken' : i % 97 === 0 && line ? `"${line.replace(',', '",')}` : line).join('\n'))
  const files = await listCsvFiles(dir)
  const single = await loadDataset(files, onThisThread)
  const progress: LoadProgress[] = []
  const parallel = await loadDataset(files, { ...onWorkers, onProgress: p => progress.push({ ...p }) })
  t.equal(parallel.summary.workers, 2)
  t.same(contents(parallel.store), contents(single.store))
  t.same(parallel.summary.skippedRowExamples, single.summary.skippedRowExamples)
  t.same(single.summary.skippedRowExamples, [{ file: basename(first), line: 702, reason: 'expected 4 fields, found 1' }])
  t.same(parallel.summary.files, single.summary.files)
  t.equal(progress.at(-1)!.bytesDone, progress.at(-1)!.bytesTotal)
  const papaparseOnly = await loadDataset(files, { ...onWorkers, fastPath: false })
  t.same(contents(papaparseOnly.store), contents(single.store), 'papaparse alone builds the same store')
})

t.test('unquoted, fully quoted and mixed files: the fast path and papaparse alone build the same store', async t => {
  const dir = t.testdir({})
  // The first file stays unquoted.
  const [, quoted, mixed] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 6000, sites: 7, visitors: 300, files: 3, out: dir, seed: 12 })
  const rewrite = async (file: string, quoteLine: (index: number) => boolean) => {
    const { readFileSync } = await import('node:fs')
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
    t.same(contents(fast.store), contents(papaparseOnly.store))
    t.same(fast.summary.files, papaparseOnly.summary.files)
  }
})

t.test('a split that falls inside a quoted field is found, and the file is parsed whole', async t => {
  const longQuoted = `"${'line\n'.repeat(2000)}"`
  const dir = t.testdir({ 'q.csv': `v1,s1,${longQuoted},10\nv2,s1,u,20\nv3,s1,"${'x\n'.repeat(3000)}",30\n` })
  const { store, summary } = await loadDataset(await listCsvFiles(dir), onWorkers)
  t.equal(summary.rows, 3)
  t.equal(summary.skippedRows, 0)
  t.same(contents(store), [
    JSON.stringify(['s1', 'v1', [10]]), JSON.stringify(['s1', 'v2', [20]]), JSON.stringify(['s1', 'v3', [30]])
  ])
})

t.test('strict mode: the first bad row in file order fails the load, on workers too', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(2000) + 'v,s,u,x\n', 'b.csv': 'v,s,u\n' })
  for (const options of [onThisThread, onWorkers]) {
    await t.rejects(loadDataset(await listCsvFiles(dir), { ...options, strict: true }),
      { name: 'CsvFormatError', message: 'a.csv:2001: timestamp "x" is not a non-negative integer' })
  }
})

t.test('a file that cannot be read fails the load, on workers too', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n' })
  const files = [{ path: join(dir, 'missing.csv'), bytes: 10, pipe: false }]
  for (const options of [onThisThread, onWorkers]) {
    await t.rejects(loadDataset(files, options), { name: 'CsvFormatError', message: /missing\.csv: ENOENT/ })
  }
})

t.test('a named pipe is read to its end', async t => {
  const dir = t.testdir({})
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  const loading = loadDataset(await listCsvFiles(dir), onThisThread)
  await writeFile(join(dir, 'pipe.csv'), 'v,s,u,1\nv,s,u,2\n')
  const { summary } = await loading
  t.equal(summary.rows, 2)
})

t.test('an abort stops a load: on this thread while a pipe waits for its writer, and on workers', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(5000) })
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  for (const options of [onThisThread, onWorkers]) {
    const controller = new AbortController()
    const loading = loadDataset(await listCsvFiles(dir), { ...options, signal: controller.signal })
    setTimeout(() => controller.abort(), 100)
    await t.rejects(loading, { name: 'AbortError' })
  }
  const untouched = await loadDataset(await listCsvFiles(t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(5000) })),
    { ...onWorkers, signal: new AbortController().signal })
  t.equal(untouched.summary.rows, 5000, 'a signal that never fires changes nothing')
})

t.test('a pipe that delivers more than one read holds is read whole', async t => {
  const dir = t.testdir({})
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  const loading = loadDataset(await listCsvFiles(dir), { ...onThisThread, tuning: { chunkBytes: 1024 } })
  await writeFile(join(dir, 'pipe.csv'), 'v,s,u,1\n'.repeat(20_000))
  t.equal((await loading).summary.rows, 20_000)
})

t.test('a worker that exits without a word fails the build with a clear error', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(100), 'b.csv': 'w,s,u,2\n'.repeat(100) })
  const ranges = (await listCsvFiles(dir)).map(file => ({ file: file.path, start: 0, end: file.bytes }))
  const parsed = await parseOnWorkers(ranges, { strict: false, maxBadRowExamples: 10, fastPath: true, chunkBytes: 1 << 16, maxRecordBytes: 1 << 20, expectedVisitors: 10 }, 2, () => {})
  await parsed.workers[1].terminate()
  await t.rejects(buildOnWorkers(parsed.workers, parsed.batches), { message: 'a load worker exited before it finished' })
})
