import t, { type Test } from 'tap'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import type { FromWorker, ToWorker } from '../../src/ingest/parse-worker.js'
import type { WorkerOptions } from '../../src/ingest/parallel-parse.js'
import type { PageViewBatch } from '../../src/ingest/page-view-batch.js'
import { KeyList } from '../../src/domain/byte-interner.js'
import { planStore } from '../../src/domain/page-view-store.js'

const OPTIONS: WorkerOptions = {
  strict: false,
  maxBadRowExamples: 10,
  fastPath: true,
  chunkBytes: 64,
  maxRecordBytes: 1 << 20,
  expected: { visitors: 10, pages: 10, rows: 10, keyBytes: 100 },
  deferPages: true
}

type Answer<Type extends FromWorker['type']> = Extract<FromWorker, { type: Type }>

/**
 * The worker module run on this thread, with a port of its own: a step sent to it, and the first answer of the
 * type expected (progress reports let by), as a load receives them from a worker thread; `tell` sends a message
 * that has no answer.
 */
async function workerOnThisThread (t: Test, options?: WorkerOptions) {
  const port = Object.assign(new EventEmitter(), { postMessage: (message: FromWorker) => { port.emit('answer', message) } })
  await t.mockImport('../../src/ingest/parse-worker.js', { 'node:worker_threads': { parentPort: port, workerData: options } })
  const ask = <Type extends FromWorker['type']>(message: ToWorker, answerType: Type): Promise<Answer<Type> | Answer<'failed'>> =>
    new Promise(resolve => {
      const onAnswer = (answer: FromWorker): void => {
        if (answer.type !== answerType && answer.type !== 'failed') return
        port.off('answer', onAnswer)
        resolve(answer as Answer<Type> | Answer<'failed'>)
      }
      port.on('answer', onAnswer)
      port.emit('message', message)
    })
  return Object.assign(ask, { tell: (message: ToWorker) => { port.emit('message', message) } })
}

t.test('a worker leaves the pages for later, and reads them again, checked against the parse, batch by batch', async t => {
  const text = (visitor: string) => Array.from({ length: 40 }, (_, i) => `${visitor}${i % 3},s${i % 2},/p${i % 5},${100 + i}\n`).join('')
  const dir = t.testdir({ 'a.csv': text('a'), 'b.csv': text('b') })
  const ranges = ['a.csv', 'b.csv'].map(name => ({ file: join(dir, name), start: 0, end: text('a').length }))
  const merger = await workerOnThisThread(t, OPTIONS)
  const other = await workerOnThisThread(t, OPTIONS)

  const parsed = await other({ type: 'parse', range: ranges[1], handOverVisitors: true }, 'parsed') as Answer<'parsed'>
  t.same(new KeyList(parsed.visitors!).keyOf(2), 'b2', 'the visitors new in the range, handed over')
  await merger({ type: 'parse', range: ranges[0], handOverVisitors: false }, 'parsed')
  merger.tell({ type: 'mergeVisitors', visitors: { source: 1, keys: parsed.visitors! } })
  const { batch: second } = await other({ type: 'finish', adoptable: false }, 'batch') as Answer<'batch'>
  const { batch: first } = await merger({ type: 'finish', adoptable: true, others: [{ source: 1, keys: second.visitors }] }, 'batch') as Answer<'batch'>
  const batches: PageViewBatch[] = [first, second]
  t.ok(batches.every(batch => batch.pagesDeferred && batch.pages.ends.length === 0), 'no page interned')
  t.same(first.mergedVisitorIds.map(ids => ids.length), [3], 'the other\'s visitors merged, handed over as they came')

  // The build, each batch scattered by its worker, the sites grouped and sessionized by one.
  const plan = planStore(batches)
  const columns = { visitorColumn: new Uint32Array(80), pageColumn: new Uint32Array(80), timestampColumn: new Float64Array(80) }
  for (const [b, worker] of [merger, other].entries()) {
    const batch = batches[b]
    const scatter = { siteColumn: batch.siteColumn, visitorColumn: batch.visitorColumn, pageColumn: batch.pageColumn, timestampColumn: batch.timestampColumn }
    await worker({ type: 'scatter', batch: scatter, visitorIdMap: plan.visitorIdMaps[b], pageIdOffset: plan.pageIdOffsets[b], siteCursor: plan.batchSiteCursors[b], columns }, 'scattered')
  }
  const siteChunks = Uint32Array.of(0, plan.siteUrls.length)
  const group = { type: 'group', siteRowStart: plan.siteRowStart, siteChunks, nextChunk: new Int32Array(1), columns, visitorCount: plan.visitors.size, sessionize: { timeoutSeconds: 1800 } } as const
  const grouped = await merger(group, 'grouped') as Answer<'grouped'>
  t.same([...grouped.visitorSiteCount], Array(6).fill(2), 'each visitor on both sites')
  t.equal(grouped.tables.numbers.length > 0, true, 'the sites sessionized as they were grouped')
  // The page column as the build leaves it: each row's number in the parse.
  const order = [...columns.pageColumn]
  t.same([...order].sort((a, b) => a - b), Array.from({ length: 80 }, (_, row) => row))
  const pageColumn = columns.pageColumn
  const pagesOf = (reader: Awaited<ReturnType<typeof workerOnThisThread>>, column: Uint32Array, checks: { rows: number, checksum: number }[]) =>
    reader({
      type: 'readPages',
      batches: checks.map((check, b) => ({ ranges: [ranges[b]], ...check })),
      options: { ...OPTIONS, expected: { ...OPTIONS.expected, pages: 5 } },
      pageColumn: column
    }, 'pagesMerged')
  const reader = await workerOnThisThread(t)
  const read = await pagesOf(reader, pageColumn, batches.map(batch => ({ rows: batch.timestampColumn.length, checksum: batch.checksum }))) as Answer<'pagesMerged'>
  const pages = new KeyList(read.pages)
  t.same(Array.from(pageColumn, id => pages.keyOf(id)), Array.from(columns.timestampColumn, time => `/p${(time - 100) % 5}`), 'each row\'s page in its place')

  const column = Uint32Array.from(order)
  const wrongRows = await pagesOf(reader, column, [{ rows: 40, checksum: first.checksum }, { rows: 39, checksum: second.checksum }])
  t.same(wrongRows, { type: 'failed', message: 'the data files changed since they were parsed: 40 rows read again for their pages, where 39 were parsed' })
  const wrongChecksum = await pagesOf(reader, column, [{ rows: 40, checksum: first.checksum + 1 }, { rows: 40, checksum: second.checksum }])
  t.same(wrongChecksum, { type: 'failed', message: 'the data files changed since they were parsed: the rows read again for their pages have other timestamps' })
  t.same([...column], order, 'the page column left as it was')

  const merged = await reader({ type: 'mergePages', pages: [read.pages as PageViewBatch['pages']], pageColumn: Uint32Array.of(0, 4) }, 'pagesMerged') as Answer<'pagesMerged'>
  t.equal(merged.pages.ends.length, 5, 'a merge of pages interned as they were parsed answers the same way')
})

t.test('a worker told nothing of the pages interns them as it parses; a grouping without a timeout sessionizes nothing', async t => {
  const dir = t.testdir({ 'a.csv': 'v,s,/a,1\nw,s,/b,2\n' })
  const worker = await workerOnThisThread(t, { ...OPTIONS, deferPages: undefined })
  await worker({ type: 'parse', range: { file: join(dir, 'a.csv'), start: 0, end: 18 }, handOverVisitors: false }, 'parsed')
  const { batch } = await worker({ type: 'finish', adoptable: true, others: [] }, 'batch') as Answer<'batch'>
  t.same([batch.pagesDeferred, new KeyList(batch.pages).keyOf(1)], [false, '/b'])
  const plan = planStore([batch])
  const columns = { visitorColumn: new Uint32Array(2), pageColumn: new Uint32Array(2), timestampColumn: new Float64Array(2) }
  await worker({ type: 'scatter', batch, visitorIdMap: plan.visitorIdMaps[0], pageIdOffset: 0, siteCursor: plan.batchSiteCursors[0], columns }, 'scattered')
  const grouped = await worker({ type: 'group', siteRowStart: plan.siteRowStart, siteChunks: Uint32Array.of(0, 1), nextChunk: new Int32Array(1), columns, visitorCount: 2 }, 'grouped') as Answer<'grouped'>
  t.same([grouped.tables.numbers.length, [...grouped.visitorSiteCount]], [0, [1, 1]])
})
