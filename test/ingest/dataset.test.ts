import t from 'tap'
import { execFileSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DataDirError, listCsvFiles, type CsvFile } from '../../src/ingest/data-folder.js'
import type { CsvRange } from '../../src/ingest/csv-range.js'
import { loadDataset, type LoadProgress } from '../../src/ingest/dataset.js'
import { buildOnWorkers, parseOnThisThread, parseOnWorkers } from '../../src/ingest/parallel-parse.js'
import { COMPILED_WORKER, contents, onThisThread, onWorkers } from './load-options.js'

/** Each file as one range, for a test that starts a parse itself. */
function wholeFiles (files: readonly CsvFile[]): CsvRange[] {
  return files.map(file => ({ file: file.path, start: 0, end: file.bytes }))
}

/** What a parse on workers is told, when a test starts one itself. */
const PARSE_OPTIONS = { strict: false, maxBadRowExamples: 10, fastPath: true, chunkBytes: 1 << 16, maxRecordBytes: 1 << 20, expected: { visitors: 10, pages: 10, rows: 10, keyBytes: 100 } }

t.test('lists only CSV files and pipes, sorted by name, with their sizes', async t => {
  const dir = t.testdir({
    'b.csv': 'v,s,u,1\n',
    'a.CSV': '',
    'notes.txt': 'not data',
    'folder.csv': {}
  })
  execFileSync('mkfifo', [join(dir, 'c.csv')])
  const mtimeMs = (name: string) => statSync(join(dir, name)).mtimeMs
  t.same(await listCsvFiles(dir), [
    { path: join(dir, 'a.CSV'), bytes: 0, mtimeMs: mtimeMs('a.CSV'), pipe: false },
    { path: join(dir, 'b.csv'), bytes: 8, mtimeMs: mtimeMs('b.csv'), pipe: false },
    { path: join(dir, 'c.csv'), bytes: 0, mtimeMs: mtimeMs('c.csv'), pipe: true }
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

t.test('strict mode: the first bad row in file order fails the load, on workers too', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(2000) + 'v,s,u,x\n', 'b.csv': 'v,s,u\n' })
  // Once with the worker as the service starts it, next to its caller (here the TypeScript source).
  const onSourceWorkers = { ...onWorkers, tuning: { ...onWorkers.tuning, workerScript: undefined } }
  for (const options of [onThisThread, onWorkers, onSourceWorkers]) {
    await t.rejects(loadDataset(await listCsvFiles(dir), { ...options, strict: true }),
      { name: 'CsvFormatError', message: 'a.csv:2001: timestamp "x" is not a non-negative integer' })
  }
})

t.test('a file that cannot be read fails the load, on workers too', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n' })
  const files = [{ path: join(dir, 'missing.csv'), bytes: 10, mtimeMs: 0, pipe: false }]
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
    // Once a.csv is read, the load waits on the pipe: the abort comes then, not before the load has begun
    // (where a slow machine would put a fixed delay), so that it is the waiting that it stops.
    let aborting: NodeJS.Timeout | undefined
    const onProgress = (progress: LoadProgress): void => {
      if (progress.bytesDone > 0) aborting ??= setTimeout(() => controller.abort(), 50)
    }
    const loading = loadDataset(await listCsvFiles(dir), { ...options, onProgress, signal: controller.signal })
    await t.rejects(loading, { name: 'AbortError' })
  }
  const untouched = await loadDataset(await listCsvFiles(t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(5000) })),
    { ...onWorkers, signal: new AbortController().signal })
  t.equal(untouched.summary.rows, 5000, 'a signal that never fires changes nothing')
})

t.test('an abort that comes before a step has begun stops it too (a stop during start-up)', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(100) })
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  const aborted = AbortSignal.abort()
  const [file, pipe] = (await listCsvFiles(dir)).map(file => ({ file: file.path, start: 0, end: file.pipe ? Infinity : file.bytes }))
  await t.rejects(parseOnThisThread([pipe], PARSE_OPTIONS, () => {}, aborted), { name: 'AbortError' }, 'a pipe is not waited for')
  await t.rejects(parseOnWorkers([file], PARSE_OPTIONS, 2, () => {}, { signal: aborted, workerScript: COMPILED_WORKER }), { name: 'AbortError' }, 'no worker is started')
  const parsed = await parseOnWorkers([file], PARSE_OPTIONS, 1, () => {}, { workerScript: COMPILED_WORKER })
  const exited = new Promise(resolve => parsed.workers[0].once('exit', resolve))
  await t.rejects(buildOnWorkers(parsed, undefined, aborted), { name: 'AbortError' }, 'the build stops before it starts')
  t.equal(await exited, 1, 'and its workers are stopped')
})

t.test('a pipe that delivers more than one read holds is read whole', async t => {
  const dir = t.testdir({})
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  const loading = loadDataset(await listCsvFiles(dir), { ...onThisThread, tuning: { chunkBytes: 1024 } })
  await writeFile(join(dir, 'pipe.csv'), 'v,s,u,1\n'.repeat(20_000))
  t.equal((await loading).summary.rows, 20_000)
})

t.test('a large load builds on fresh workers, each parse worker stopped once its batch is in; a small one on the parse\'s own', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(100), 'b.csv': 'w,s,u,2\n'.repeat(100) })
  const ranges = wholeFiles(await listCsvFiles(dir))
  // Node announces each worker it starts on this channel.
  const started: Worker[] = []
  const onStarted = (message: unknown): void => { started.push((message as { worker: Worker }).worker) }
  subscribe('worker_threads', onStarted)
  t.teardown(() => unsubscribe('worker_threads', onStarted))
  const small = await parseOnWorkers(ranges, PARSE_OPTIONS, 2, () => {}, { workerScript: COMPILED_WORKER })
  t.same(small.workers, started, 'the parse\'s own')
  await Promise.all(small.workers.map(worker => worker.terminate()))

  started.length = 0
  const large = await parseOnWorkers(ranges, PARSE_OPTIONS, 2, () => {}, { workerScript: COMPILED_WORKER, freshBuildWorkers: true })
  t.equal(started.length, 4, 'two to parse, two to build')
  const parseWorkers = started.slice(0, 2)
  t.same(large.workers, started.slice(2), 'the new ones')
  t.same(await Promise.all(parseWorkers.map(worker => worker.threadId === -1 ? 'exited' : once(worker, 'exit').then(() => 'exited'))),
    ['exited', 'exited'], 'the parse\'s stopped')
  const { store } = await buildOnWorkers(large)
  t.equal(store.timestampColumn.length, 200, 'the new ones build the store')

  const files = await listCsvFiles(dir)
  const onFresh = await loadDataset(files, { ...onWorkers, tuning: { ...onWorkers.tuning, freshBuildWorkersBytes: 0 } })
  t.same(contents(t, await onFresh.complete), contents(t, await (await loadDataset(files, onWorkers)).complete), 'a load on fresh workers builds the same store')
})

t.test('a worker that exits without a word fails the build with a clear error', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,u,1\n'.repeat(100), 'b.csv': 'w,s,u,2\n'.repeat(100) })
  const ranges = wholeFiles(await listCsvFiles(dir))
  const parsed = await parseOnWorkers(ranges, PARSE_OPTIONS, 2, () => {}, { workerScript: COMPILED_WORKER })
  await parsed.workers[1].terminate()
  await t.rejects(buildOnWorkers(parsed), { message: 'a load worker exited before it finished' })
})

t.test('the build answers all but pages at once; the first worker merges the pages after, and each worker exits when done', async t => {
  // Pages shared between the files and pages of their own, so that the merge has both to do.
  const lines = (visitor: string, pages: number) => Array.from({ length: 3000 }, (_, i) => `${visitor}${i % 7},s${i % 3},/p${i % pages},${i}\n`).join('')
  const dir = t.testdir({ 'a.csv': lines('a', 2000), 'b.csv': lines('b', 2500) })
  const files = await listCsvFiles(dir)
  const ranges = wholeFiles(files)
  const parsed = await parseOnWorkers(ranges, PARSE_OPTIONS, 2, () => {}, { workerScript: COMPILED_WORKER })
  const [pagesWorker, other] = parsed.workers
  const { store, complete } = await buildOnWorkers(parsed)
  t.notOk('pages' in store || 'pageColumn' in store, 'no pages yet')
  t.equal(pagesWorker.threadId === -1, false, 'the first worker still runs, to merge the pages')
  await once(other, 'exit')
  const whole = await complete
  t.same(contents(t, whole), contents(t, await (await loadDataset(files, onThisThread)).complete), 'the same store as a load on this thread')
  t.equal(whole.pages.size, 2500)
  t.equal(whole.visitorColumn, store.visitorColumn, 'the same store, its pages added')
  if (pagesWorker.threadId !== -1) await once(pagesWorker, 'exit')
  t.pass('the first worker exits once the pages are merged')
})

/** A file's lines cut into ranges of `lines` lines each, for a parse that several ranges of each file make. */
function rangesOf (file: string, text: string, lines: number): CsvRange[] {
  const starts = [0]
  for (let at = 0, line = 0; (at = text.indexOf('\n', at) + 1) > 0 && at < text.length;) if (++line % lines === 0) starts.push(at)
  return starts.map((start, i) => ({ file, start, end: starts[i + 1] ?? text.length }))
}

t.test('pages left for later: after the build, the first worker parses every batch\'s ranges again for the pages alone', async t => {
  // Quoted fields, a line that papaparse reads and a bad row among them, in several ranges a file.
  const lines = (visitor: string, pages: number) => Array.from({ length: 3000 }, (_, i) =>
    i % 500 === 7 ? 'not a row\n' : i % 250 === 3 ? `"${visitor}""${i % 7}",s${i % 3},"/p${i % pages}",${i}\n` : `${visitor}${i % 7},"s${i % 3}",/p${i % pages},${i}\n`).join('')
  const texts = { 'a.csv': lines('a', 2000), 'b.csv': lines('b', 2500) }
  const dir = t.testdir(texts)
  const ranges = Object.entries(texts).flatMap(([name, text]) => rangesOf(join(dir, name), text, 400))
  const parsed = await parseOnWorkers(ranges, { ...PARSE_OPTIONS, deferPages: true }, 2, () => {}, { workerScript: COMPILED_WORKER })
  t.ok(parsed.batches.every(batch => batch.pagesDeferred && batch.pages.ends.length === 0), 'no page interned by the parse')
  t.same(parsed.batchRanges.flat().map(range => range.start).sort((a, b) => a - b), ranges.map(range => range.start).sort((a, b) => a - b),
    'every range, in one batch\'s list or the other\'s')
  const { store, complete } = await buildOnWorkers(parsed)
  t.notOk('pages' in store || 'pageColumn' in store, 'no pages yet')
  t.equal(parsed.workers[0].threadId === -1, false, 'the first worker still runs, to read the pages')
  await once(parsed.workers[1], 'exit')
  const whole = await complete
  t.same(contents(t, whole), contents(t, await (await loadDataset(await listCsvFiles(dir), onThisThread)).complete), 'the same store as a load on this thread')
  // /p7, /p507, /p1007, /p1507 and /p2007 are only in bad rows.
  t.equal(whole.pages.size, 2495)
  if (parsed.workers[0].threadId !== -1) await once(parsed.workers[0], 'exit')
  t.pass('the first worker exits once the pages are in')
})

t.test('a file changed between the parse and the pages\' read: the pages fail with a clear error, the rest of the store stands', async t => {
  const text = Array.from({ length: 1000 }, (_, i) => `v${i % 9},s${i % 4},/p${i % 30},${1_000_000 + i}\n`).join('')
  const changes = [
    { change: text.slice(0, 6000), message: /^the data files changed since they were parsed: \d+ rows read again for their pages, where \d+ were parsed$/ },
    { change: text.replace('1000500', '1000599'), message: 'the data files changed since they were parsed: the rows read again for their pages have other timestamps' }
  ]
  for (const { change, message } of changes) {
    const dir = t.testdir({ 'a.csv': text, 'b.csv': text })
    const ranges = ['a.csv', 'b.csv'].flatMap(name => rangesOf(join(dir, name), text, 300))
    const parsed = await parseOnWorkers(ranges, { ...PARSE_OPTIONS, deferPages: true }, 2, () => {}, { workerScript: COMPILED_WORKER })
    await writeFile(join(dir, 'b.csv'), change)
    const { store, complete } = await buildOnWorkers(parsed)
    t.equal(store.timestampColumn.length, 2000, 'the store as parsed')
    await t.rejects(complete, { message })
  }
})

t.test('a load on workers reads a pipe\'s pages as it parses: a pipe cannot be read again', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,/a,1\n'.repeat(50) })
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  const loading = loadDataset(await listCsvFiles(dir), onWorkers)
  await writeFile(join(dir, 'pipe.csv'), 'w,s,/b,2\n'.repeat(50))
  const whole = await (await loading).complete
  t.same(Array.from(whole.pageColumn, id => whole.pages.keyOf(id)).sort(), [...Array(50).fill('/a'), ...Array(50).fill('/b')])
})

t.test('the pages\' merge stops with the load, and a worker lost in it fails what waits for the pages', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,/a,1\n'.repeat(100), 'b.csv': Array.from({ length: 20_000 }, (_, i) => `w,s,/b${i},2\n`).join('') })
  const ranges = wholeFiles(await listCsvFiles(dir))
  const controller = new AbortController()
  const stopped = await parseOnWorkers(ranges, PARSE_OPTIONS, 2, () => {}, { workerScript: COMPILED_WORKER })
  const built = await buildOnWorkers(stopped, undefined, controller.signal)
  // Before the worker can have answered: its answer is a message, which waits for this turn of the event loop to end.
  controller.abort(new DOMException('stopped', 'AbortError'))
  await t.rejects(built.complete, { message: /^a load worker exited/ }, 'the merge stops')
  t.equal(stopped.workers[0].threadId, -1, 'its worker is terminated')

  const lost = await parseOnWorkers(ranges, PARSE_OPTIONS, 2, () => {}, { workerScript: COMPILED_WORKER })
  const { complete } = await buildOnWorkers(lost)
  void lost.workers[0].terminate()
  await t.rejects(complete, { message: /^a load worker exited/ }, 'a clear error for the pages\' query or the cache to report')
})
