// Parses CSV ranges into batches: on worker threads, one batch each, or on this thread for small loads.
import { Worker } from 'node:worker_threads'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CsvFormatError, parseRange, type CsvRange, type RangeParseOptions, type RangeResult } from './csv-range.js'
import { expectedSizes, PageViewBatchBuilder, type ExpectedSizes, type PageViewBatch } from './page-view-batch.js'
import { finishStore, planStore, siteChunks, withPages, type PageViewStore, type SessionStore } from '../domain/page-view-store.js'
import { keysBuffers, type DictionaryKeys } from '../domain/byte-interner.js'
import { PackedTableIndex, type SessionTable } from '../domain/sessions.js'
import type { FromWorker, ToWorker } from './parse-worker.js'

/** What each parser needs: how to parse, and what to expect. */
export interface WorkerOptions extends RangeParseOptions {
  expected: ExpectedSizes
  /**
   * Leave each row's page for after the store is built, and parse the ranges again then for the pages alone
   * (buildOnWorkers): nothing the store answers before needs a page, and interning them was a quarter of the
   * parse of 10 M rows made elsewhere (2.3 M URLs), on the way to ready. Not for a pipe, which cannot be read twice.
   */
  deferPages?: boolean
}

export interface ParsedRanges {
  batches: PageViewBatch[]
  /** Each batch's ranges, in the order it parsed them, and how: for a parse of the pages left for later. */
  batchRanges: CsvRange[][]
  options: WorkerOptions
  results: RangeResult[]
  /**
   * The workers to build the store on, one for each batch: those that parsed, or new ones (see
   * ParseOnWorkersOptions.freshBuildWorkers); none when parsed on this thread.
   */
  workers: Worker[]
}

export interface ParseOnWorkersOptions {
  signal?: AbortSignal
  /** Another worker module, started without this process's Node options (see LoadTuning.workerScript). */
  workerScript?: URL
  /**
   * Each parse worker stopped as soon as its batch is in, and a new worker started in its place to build on. A
   * parse worker holds its dictionaries' WebAssembly memory (some 270 MB at 10 M rows made elsewhere) until a
   * garbage collection that no step waits for, so through the build and its busiest moment; and the other
   * parse is still running when one ends, which is where such a load's memory peaked. Starting two workers
   * costs some 0.1–0.2 s, which a small load feels and a large one does not.
   */
  freshBuildWorkers?: boolean
}

// The worker is a sibling module: parse-worker.ts under test, parse-worker.js once built.
const WORKER_URL = new URL(`./parse-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/** Parses every range on this thread, yielding to the event loop between chunks. */
export async function parseOnThisThread (
  ranges: readonly CsvRange[], options: WorkerOptions, onBytes: (bytes: number) => void, signal?: AbortSignal
): Promise<ParsedRanges> {
  const builder = new PageViewBatchBuilder(options.expected)
  const results: RangeResult[] = []
  for (const range of ranges) results.push(await parseRange(range, builder, options, onBytes, signal))
  return { batches: [builder.finish()], batchRanges: [[...ranges]], options, results, workers: [] }
}

/**
 * Starts `count` load workers: parse workers with the options of a parse, build workers without (a build worker
 * never parses). `workerScript` is another worker module, started without this process's Node options.
 */
function startWorkers (count: number, options?: WorkerOptions, workerScript?: URL): Worker[] {
  return Array.from({ length: count }, () =>
    new Worker(workerScript ?? WORKER_URL, { workerData: options, ...(workerScript && { execArgv: [] }) }))
}

/** Stops the workers of a parse (see ParsedRanges.workers), which will not build its batches. */
export function stopParseWorkers (parsed: ParsedRanges): void {
  for (const worker of parsed.workers) void worker.terminate()
}

/** A worker that stopped without saying why (killed, or out of memory): the load cannot go on without it. */
function exitedEarly (code?: number): Error {
  return new Error(`a load worker exited${code === undefined ? '' : ` (code ${code})`} before it finished`)
}

/** A build step's answer: during the build, a worker sends nothing else. */
type Built = Extract<FromWorker, { type: 'scattered' | 'grouped' | 'pagesMerged' }>

/** Sends a worker one build step and waits for its answer, of the type that step answers with, or its failure. */
function buildStep<Answer extends Built> (worker: Worker, message: ToWorker, transfer: ArrayBuffer[] = []): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // A worker's thread id is -1 once it has exited.
    if (worker.threadId === -1) return reject(exitedEarly())
    // A worker dying in the middle of a step cannot be timed from a test; one dead before the step is tested.
    /* c8 ignore next */
    const onExit = (code: number): void => reject(exitedEarly(code))
    const settle = (): void => {
      worker.off('error', reject)
      worker.off('exit', onExit)
    }
    worker.once('error', reject)
    worker.once('exit', onExit)
    worker.once('message', (answer: Answer | Extract<FromWorker, { type: 'failed' }>) => {
      settle()
      if (answer.type === 'failed') reject(new Error(answer.message))
      else resolve(answer)
    })
    worker.postMessage(message, transfer)
  })
}

/**
 * Chunks of sites each build worker groups, about: with shares cut by rows alone, one worker grouped 0.1–0.25 s
 * longer than the other at 10 M rows (the cost of a site is not only its rows).
 */
const CHUNKS_PER_WORKER = 32

/** A store built on workers: all of it but its pages at once, and all of it once its pages are merged. */
export interface BuiltStore {
  store: SessionStore
  /** Rejects when the merge fails, or the load is aborted before it ends. */
  complete: Promise<PageViewStore>
  sessionTables: SessionTable[]
}

/**
 * Builds the store on workers, one for each batch, as buildPageViewStore does on one thread: the plan here
 * (while workers just started get ready), then each worker scatters a batch into shared columns, then the
 * workers group the sites, chunk after chunk as each is free (see siteChunks), counting each visitor's sites as
 * they go, and with a session timeout, sessionize each site as they group it: warm-up's work, in parallel and on
 * rows in the CPU's cache.
 * Then the store answers all but pages, while the first worker merges the pages, or, when the parse left them for
 * later, parses every batch's ranges again for their pages (readPagesStep); the others are terminated, and
 * it is once done.
 */
export async function buildOnWorkers (parsed: ParsedRanges, sessionTimeoutSeconds?: number, signal?: AbortSignal): Promise<BuiltStore> {
  const { workers, batches } = parsed
  const deferred = batches[0].pagesDeferred
  /** The worker that goes on to the pages, once the rest is built. */
  let pagesWorker: Worker | undefined
  const stop = (): void => { for (const worker of workers) if (worker !== pagesWorker) void worker.terminate() }
  signal?.addEventListener('abort', stop)
  try {
    signal?.throwIfAborted()
    // Read before the columns are handed to the workers.
    const parsedRows = batches.map(batch => ({ rows: batch.timestampColumn.length, checksum: batch.checksum }))
    const plan = planStore(batches)
    const { siteRowStart } = plan
    const siteCount = plan.siteUrls.length
    const rowCount = siteRowStart[siteCount]
    const columns = {
      visitorColumn: new Uint32Array(new SharedArrayBuffer(rowCount * Uint32Array.BYTES_PER_ELEMENT)),
      pageColumn: new Uint32Array(new SharedArrayBuffer(rowCount * Uint32Array.BYTES_PER_ELEMENT)),
      timestampColumn: new Float64Array(new SharedArrayBuffer(rowCount * Float64Array.BYTES_PER_ELEMENT))
    }
    await Promise.all(batches.map((batch, b) => buildStep(workers[b], {
      type: 'scatter',
      batch: { siteColumn: batch.siteColumn, visitorColumn: batch.visitorColumn, pageColumn: batch.pageColumn, timestampColumn: batch.timestampColumn },
      visitorIdMap: plan.visitorIdMaps[b],
      pageIdOffset: plan.pageIdOffsets[b],
      siteCursor: plan.batchSiteCursors[b],
      columns
    }, [batch.siteColumn.buffer, batch.visitorColumn.buffer, batch.pageColumn.buffer, batch.timestampColumn.buffer,
      plan.visitorIdMaps[b].buffer] as ArrayBuffer[])))
    const sessionize = sessionTimeoutSeconds === undefined ? undefined : { timeoutSeconds: sessionTimeoutSeconds }
    const group = {
      type: 'group',
      siteRowStart,
      siteChunks: siteChunks(siteRowStart, Math.ceil(rowCount / (workers.length * CHUNKS_PER_WORKER))),
      nextChunk: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
      columns,
      visitorCount: plan.visitors.size,
      sessionize
    } as const
    const groupedByWorker = await Promise.all(workers.map(worker => buildStep<Extract<Built, { type: 'grouped' }>>(worker, group)))
    signal?.throwIfAborted()
    // The pages' step begins at once, on the first worker, while this thread finishes the store.
    pagesWorker = workers[0]
    const pages = pagesOn(pagesWorker, deferred
      ? readPagesStep(parsed, parsedRows, columns.pageColumn)
      : { type: 'mergePages', pages: batches.map(batch => batch.pages), pageColumn: columns.pageColumn }, signal)
    // Its failure is for what awaits the pages, perhaps only later: until then it is not an unhandled rejection.
    pages.catch(() => {})
    // Each worker counted, for each visitor, the sites it grouped: a visitor's sites are the sum of the workers' counts.
    const [visitorSiteCount, ...others] = groupedByWorker.map(grouped => grouped.visitorSiteCount)
    for (const counts of others) for (let visitor = 0; visitor < visitorSiteCount.length; visitor++) visitorSiteCount[visitor] += counts[visitor]
    const store = finishStore(plan, columns, visitorSiteCount)
    const sessionTables = groupedByWorker.flatMap(grouped => new PackedTableIndex(grouped.tables, store).tables().map(({ table }) => table))
    const complete = pages.then(pages => withPages(store, columns.pageColumn, pages))
    complete.catch(() => {})
    return { store, complete, sessionTables }
  } finally {
    signal?.removeEventListener('abort', stop)
    stop()
  }
}

/** Has a worker take the pages' step (merge the batches', or read them, see readPagesStep), then terminates it, as an abort does at any time. */
async function pagesOn (worker: Worker, step: ToWorker, signal?: AbortSignal): Promise<Pick<DictionaryKeys, 'bytes' | 'ends'>> {
  const stop = (): void => { void worker.terminate() }
  signal?.addEventListener('abort', stop)
  try {
    const transfer = step.type === 'mergePages' ? step.pages.flatMap(keysBuffers) : []
    const merged = await buildStep<Extract<Built, { type: 'pagesMerged' }>>(worker, step, transfer)
    return merged.pages
  } finally {
    signal?.removeEventListener('abort', stop)
    stop()
  }
}

/**
 * The step that reads the pages a parse left for later: every batch's ranges parsed again, in the same order,
 * for the pages alone, on one worker (two took the second core from the service just after ready, and held two
 * dictionaries of pages and their merge: 1.06 GB at 10 M rows made elsewhere, against 0.81 GB at the parse's
 * peak before), into one dictionary. The rows read must be the parse's, their count and their timestamps in
 * order, batch by batch: otherwise a file changed since it was parsed, and the pages are not to be had from
 * this load.
 */
function readPagesStep (
  { batchRanges, options }: ParsedRanges, parsedRows: { rows: number, checksum: number }[], pageColumn: Uint32Array
): ToWorker {
  const bytes = batchRanges.flat().reduce((sum, range) => sum + range.end - range.start, 0)
  return {
    type: 'readPages',
    batches: batchRanges.map((ranges, b) => ({ ranges, ...parsedRows[b] })),
    options: { ...options, expected: expectedSizes(bytes) },
    pageColumn
  }
}

/** Parses the ranges on up to `workerCount` worker threads, each taking the next range when it is free. */
export function parseOnWorkers (
  ranges: readonly CsvRange[], options: WorkerOptions, workerCount: number, onBytes: (bytes: number) => void,
  { signal, workerScript, freshBuildWorkers = false }: ParseOnWorkersOptions = {}
): Promise<ParsedRanges> {
  // An abort that came before the listener below would never fire it: the parse would run to its end.
  if (signal?.aborted) return Promise.reject(signal.reason as Error)
  const queue = [...ranges]
  const batches: PageViewBatch[] = []
  const results: RangeResult[] = []
  const workers = startWorkers(Math.min(workerCount, ranges.length), options, workerScript)
  const buildWorkers: Worker[] = []
  /**
   * The worker whose batch the build adopts: every other hands it the visitors new in each range it parses,
   * which it merges into its own as they come (see PageViewBatchBuilder.newVisitorKeys), and it finishes last,
   * merging their last visitors first, while the build waits for it.
   */
  const [merger] = workers
  /** Of each batch in `batches` but the merger's, which worker parsed it: the number its visitors are merged by. */
  const sources: number[] = []
  /** The ranges each worker parsed, in order, and those of each batch, in the order of `batches`. */
  const rangesOf = workers.map((): CsvRange[] => [])
  const batchRanges: CsvRange[][] = []
  /** The merger has run out of ranges, and waits for the others' batches to finish. */
  let mergerDone = false
  const finishMerger = (): void => {
    if (!mergerDone || batches.length < workers.length - 1) return
    const others = batches.map(({ visitors: { bytes, ends } }, b) => ({ source: sources[b], keys: { bytes, ends } }))
    // Handed over: nothing reads a merged batch's visitors here.
    merger.postMessage({ type: 'finish', adoptable: true, others } satisfies ToWorker, others.flatMap(({ keys }) => [keys.bytes.buffer, keys.ends.buffer]) as ArrayBuffer[])
    mergerDone = false
  }

  return new Promise((resolve, reject) => {
    let settled = false
    /** Marks the parse as over, once: false if it was over already. */
    const settle = (): boolean => {
      if (settled) return false
      settled = true
      signal?.removeEventListener('abort', abort)
      return true
    }
    const fail = (error: Error): void => {
      if (!settle()) return
      // Rejected once every worker has exited: a worker stopped just as it closed a file can close that
      // descriptor again as it exits, after this thread has opened another under the same number (a load begun
      // right after an aborted one failed to close a file, EBADF).
      void Promise.all([...workers, ...buildWorkers].map(worker => worker.terminate())).then(() => reject(error))
    }
    const abort = (): void => fail(signal!.reason as Error)
    signal?.addEventListener('abort', abort)
    const sendNext = (worker: Worker, source: number): void => {
      const range = queue.shift()
      if (range) {
        rangesOf[source].push(range)
        worker.postMessage({ type: 'parse', range, handOverVisitors: worker !== merger } satisfies ToWorker)
      } else if (worker !== merger) worker.postMessage({ type: 'finish', adoptable: false } satisfies ToWorker)
      else {
        mergerDone = true
        finishMerger()
      }
    }
    workers.forEach((worker, source) => {
      const onExit = (code: number): void => fail(exitedEarly(code))
      worker.on('error', fail)
      worker.on('exit', onExit)
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'progress':
            onBytes(message.bytes)
            break
          case 'parsed':
            results.push(message.result)
            if (message.visitors) {
              const keys = message.visitors
              merger.postMessage({ type: 'mergeVisitors', visitors: { source, keys } } satisfies ToWorker, [keys.bytes.buffer, keys.ends.buffer] as ArrayBuffer[])
            }
            sendNext(worker, source)
            break
          case 'failed':
            fail(new CsvFormatError(message.message))
            break
          case 'batch':
            // The merger's batch first: the build adopts the first batch's dictionaries.
            if (worker === merger) {
              batches.unshift(message.batch)
              batchRanges.unshift(rangesOf[source])
            } else {
              batches.push(message.batch)
              batchRanges.push(rangesOf[source])
              sources.push(source)
              finishMerger()
            }
            if (freshBuildWorkers) {
              worker.off('exit', onExit)
              void worker.terminate()
              buildWorkers.push(...startWorkers(1, undefined, workerScript))
            }
            if (batches.length === workers.length && settle()) resolve({ batches, batchRanges, options, results, workers: freshBuildWorkers ? buildWorkers : workers })
        }
      })
      sendNext(worker, source)
    })
  })
}
