// A load's worker thread. It parses the CSV ranges it is sent into one batch and hands the batch back, handing
// over the visitors new in each range to the worker whose batch the build adopts, or, as that worker, merging
// the others' as they come; and it helps build the store, scattering a batch's rows into shared columns, grouping a share of the sites (and
// sessionizing each as it is grouped, when warm-up will want its table), and, last, the pages: merging the
// batches', or, when the parse left them for later (WorkerOptions.deferPages), parsing every batch's ranges
// again for the pages alone. It does so as the worker that parsed, or as a worker started for the build alone
// (ParseOnWorkersOptions.freshBuildWorkers), which parses only the pages.
import { parentPort, workerData } from 'node:worker_threads'
import { parseRange, type CsvRange, type RangeResult } from './csv-range.js'
import type { WorkerOptions } from './parallel-parse.js'
import { PageViewBatchBuilder, type PageViewBatch, type VisitorsFrom } from './page-view-batch.js'
import { mergePages, rewritePageIds, scatterRows, siteGrouper, type BatchColumns, type StoreColumns } from '../domain/page-view-store.js'
import { keysBuffers, type DictionaryKeys } from '../domain/byte-interner.js'
import { TablePacker, type PackedTables } from '../domain/sessions.js'

export type ToWorker =
  /** `handOverVisitors`: answered with the visitors new since the last range (see PageViewBatchBuilder.newVisitorKeys). */
  | { type: 'parse', range: CsvRange, handOverVisitors: boolean }
  /** Visitors another parse handed over, to merge into this one's as they come. */
  | { type: 'mergeVisitors', visitors: VisitorsFrom }
  /**
   * `adoptable`: the batch whose dictionaries the build's merge adopts, which merges the others' last visitors
   * into its own first (see PageViewBatchBuilder.finish).
   */
  | { type: 'finish', adoptable: false }
  | { type: 'finish', adoptable: true, others: VisitorsFrom[] }
  | { type: 'scatter', batch: BatchColumns, visitorIdMap: Uint32Array, pageIdOffset: number, siteCursor: Uint32Array, columns: StoreColumns }
  /**
   * `siteChunks`, as siteChunks gives them, shared by the build workers, each taking the next chunk (`nextChunk[0]`,
   * shared too) until none is left.
   */
  | { type: 'group', siteRowStart: Uint32Array, siteChunks: Uint32Array, nextChunk: Int32Array, columns: StoreColumns, visitorCount: number, sessionize?: SessionizeOptions }
  /**
   * The pages left for later: each batch's ranges, and the rows and checksum its parse had (PageViewBatch.checksum);
   * answered with `pagesMerged`, the page column rewritten (see rewritePageIds).
   */
  | { type: 'readPages', batches: PagesOfBatch[], options: WorkerOptions, pageColumn: Uint32Array }
  | { type: 'mergePages', pages: DictionaryKeys[], pageColumn: Uint32Array }
export interface PagesOfBatch { ranges: CsvRange[], rows: number, checksum: number }
/** With these, the sites are also sessionized as they are grouped: their rows are in the CPU's cache then. */
export interface SessionizeOptions { timeoutSeconds: number }

export type FromWorker =
  | { type: 'progress', bytes: number }
  | { type: 'parsed', result: RangeResult, visitors?: Pick<DictionaryKeys, 'bytes' | 'ends'> }
  | { type: 'batch', batch: PageViewBatch }
  | { type: 'scattered' }
  | { type: 'grouped', tables: PackedTables, visitorSiteCount: Uint32Array }
  | { type: 'pagesMerged', pages: Pick<DictionaryKeys, 'bytes' | 'ends'> }
  /** A parse's, or the pages' read's, failure: a clear message for the load or the pages to fail with. */
  | { type: 'failed', message: string }

/** A parse worker's options (a build worker has none, and never parses). */
const options = workerData as WorkerOptions
/** Made by the first range parsed: a build worker has none. */
let builder: PageViewBatchBuilder | undefined
const port = parentPort!
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer)

async function parse (range: CsvRange, handOverVisitors: boolean): Promise<void> {
  const parsing = batchBuilder()
  const result = await parseRange(range, parsing, options, bytes => send({ type: 'progress', bytes }))
  if (!handOverVisitors) return send({ type: 'parsed', result })
  const visitors = parsing.newVisitorKeys()
  send({ type: 'parsed', result, visitors }, [visitors.bytes.buffer, visitors.ends.buffer] as ArrayBuffer[])
}

function batchBuilder (): PageViewBatchBuilder {
  builder ??= new PageViewBatchBuilder(options.expected, options.deferPages === true ? 'allButPages' : 'all')
  return builder
}

/**
 * Parses every batch's ranges again, in the order first parsed, for the pages alone, into one dictionary; each
 * batch's rows must be its parse's, their count and their timestamps in order, or a file changed since.
 */
async function readPages ({ batches, options, pageColumn }: Extract<ToWorker, { type: 'readPages' }>): Promise<void> {
  const pages = new PageViewBatchBuilder(options.expected, 'pagesOnly')
  for (const { ranges, rows, checksum } of batches) {
    const rowsBefore = pages.length
    for (const range of ranges) await parseRange(range, pages, options, () => {})
    const read = pages.length - rowsBefore
    if (read !== rows) throw new Error(`the data files changed since they were parsed: ${read} rows read again for their pages, where ${rows} were parsed`)
    if (pages.takeChecksum() !== checksum) throw new Error('the data files changed since they were parsed: the rows read again for their pages have other timestamps')
  }
  const { pageColumn: pageIds, pages: keys } = pages.finish(false)
  rewritePageIds(pageColumn, pageIds)
  sendPages(keys)
}

/** The pages' answer, merged or read: their keys handed over, not copied. */
function sendPages ({ bytes, ends }: Pick<DictionaryKeys, 'bytes' | 'ends'>): void {
  send({ type: 'pagesMerged', pages: { bytes, ends } }, [bytes.buffer, ends.buffer] as ArrayBuffer[])
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'parse':
      parse(message.range, message.handOverVisitors).catch((error: Error) => send({ type: 'failed', message: error.message }))
      break
    case 'mergeVisitors':
      // Between two chunks of this worker's own parse, or once it has run out of ranges.
      batchBuilder().mergeVisitors(message.visitors)
      break
    case 'finish': {
      const batch = message.adoptable ? builder!.finish(true, message.others) : builder!.finish(false)
      // Dropped once the batch is handed over, for a parse worker that goes on to build: its columns have spare
      // capacity that the build should not hold.
      builder = undefined
      send({ type: 'batch', batch }, [
        ...[batch.sites, batch.visitors, batch.pages].flatMap(keysBuffers),
        batch.siteRowCounts.buffer as ArrayBuffer,
        batch.siteColumn.buffer as ArrayBuffer,
        batch.visitorColumn.buffer as ArrayBuffer,
        batch.pageColumn.buffer as ArrayBuffer,
        batch.timestampColumn.buffer as ArrayBuffer,
        ...batch.mergedVisitorIds.map(ids => ids.buffer as ArrayBuffer)
      ])
      break
    }
    case 'scatter':
      scatterRows(message.batch, message.visitorIdMap, message.pageIdOffset, message.siteCursor, message.columns)
      send({ type: 'scattered' })
      break
    case 'group': {
      // A failure here ends the worker with an error, which the build step waiting for this answer rejects with.
      const grouped = group(message)
      send(grouped, [grouped.visitorSiteCount.buffer, grouped.tables.numbers.buffer, grouped.tables.lengths.buffer, grouped.tables.rows.buffer] as ArrayBuffer[])
      break
    }
    case 'readPages':
      readPages(message).catch((error: Error) => send({ type: 'failed', message: error.message }))
      break
    case 'mergePages':
      sendPages(mergePages(message.pages, message.pageColumn))
  }
})

/**
 * Groups chunks of sites, taken one by one until none is left; answers with their tables (packed; none unless
 * sessionized) and the count of sites per visitor among the sites grouped.
 */
function group (message: Extract<ToWorker, { type: 'group' }>): Extract<FromWorker, { type: 'grouped' }> {
  const { siteRowStart, siteChunks, nextChunk, columns, sessionize } = message
  const visitorSiteCount = new Uint32Array(message.visitorCount)
  const groupSite = siteGrouper(siteRowStart, columns, visitorSiteCount)
  // Each table packed as soon as it is made, and let go: packing them all at the end held them twice at once.
  // Room for every site, and as many sessions as rows: what is not written takes no memory.
  const siteCount = siteRowStart.length - 1
  const tables = new TablePacker(sessionize ? siteCount : 0, sessionize ? siteRowStart[siteCount] : 0)
  const store = { siteRowStart, ...columns }
  for (let chunk = Atomics.add(nextChunk, 0, 1); 2 * chunk < siteChunks.length; chunk = Atomics.add(nextChunk, 0, 1)) {
    for (let site = siteChunks[2 * chunk]; site < siteChunks[2 * chunk + 1]; site++) {
      groupSite(site)
      if (sessionize) tables.sessionize(store, site, sessionize.timeoutSeconds)
    }
  }
  return { type: 'grouped', tables: tables.packed(), visitorSiteCount }
}
