// Loads a data folder's CSV files into one PageViewStore — in parallel byte ranges on worker threads when the
// data is large — with progress, bad-row reports and a summary.
import { open } from 'node:fs/promises'
import { basename } from 'node:path'
import { CsvFormatError, type BadRow, type CsvRange, type RangeResult } from './csv-range.js'
import { buildOnWorkers, parseOnThisThread, parseOnWorkers, stopParseWorkers, type BuiltStore, type ParsedRanges, type WorkerOptions } from './parallel-parse.js'
import { buildPageViewStore, type PageViewStore } from '../domain/page-view-store.js'
import { expectedSizes } from './page-view-batch.js'
import type { CsvFile } from './data-folder.js'

export interface LoadProgress {
  filesTotal: number
  bytesTotal: number
  bytesDone: number
}

export interface FileSummary {
  file: string
  rows: number
  skippedRows: number
}

export interface DatasetSummary {
  files: FileSummary[]
  rows: number
  skippedRows: number
  /** The first few skipped rows, with file and line. */
  skippedRowExamples: BadRow[]
  sites: number
  visitors: number
  firstTimestamp: number | null
  lastTimestamp: number | null
  loadMs: number
  /** Of loadMs: parsing the files, then building the store. */
  parseMs: number
  buildMs: number
  /** Worker threads that parsed the data; 0 when it was parsed on the main thread. */
  workers: number
}

/** How the load is cut up; the defaults suit real data, tests shrink them. */
export interface LoadTuning {
  /** Files larger than this are parsed as several line-aligned byte ranges. */
  splitBytes: number
  /** Below this much data, worker threads cost more than they save. */
  minBytesForWorkers: number
  /**
   * From this much data on, the store is built on new workers, each parse worker stopped with its WebAssembly
   * memory once its batch is in (ParseOnWorkersOptions.freshBuildWorkers): 10 M rows peaked at 540 MB instead
   * of 600–640 MB, and 1 M rows took 0.1–0.2 s longer to load.
   */
  freshBuildWorkersBytes: number
  chunkBytes: number
  maxRecordBytes: number
  /**
   * Another worker module, started without this process's Node options: tests, which run the sources under
   * a TypeScript loader that costs each worker over a second, point it at the compiled worker.
   */
  workerScript?: URL
}

const DEFAULT_TUNING: LoadTuning = {
  splitBytes: 32 * 1024 * 1024,
  minBytesForWorkers: 8 * 1024 * 1024,
  freshBuildWorkersBytes: 256 * 1024 * 1024,
  chunkBytes: 4 * 1024 * 1024,
  maxRecordBytes: 1024 * 1024
}

export interface LoadOptions {
  strict: boolean
  maxBadRowExamples: number
  fastPath: boolean
  /** Worker threads to parse on, at most; 0 parses on the main thread. */
  workers: number
  /**
   * Given, the workers that build the store also sessionize every site with this timeout, and the load returns
   * the tables (warm-up's work, done in parallel); a load on the main thread leaves it to warm-up.
   */
  sessionTimeoutSeconds?: number
  tuning?: Partial<LoadTuning>
  onProgress?: (progress: LoadProgress) => void
  /** Aborts the load: reading stops, workers are terminated, and the load rejects with the signal's reason. */
  signal?: AbortSignal
}

const SPLIT_PROBE_BYTES = 64 * 1024

/** A store built on this thread, pages and all; warm-up sessionizes its sites. */
function builtOnThisThread (store: PageViewStore): BuiltStore {
  return { store, complete: Promise.resolve(store), sessionTables: [] }
}

/** Cuts a range of a file, which starts a line, into about `parts` ranges, each starting just after a line break. */
async function lineAlignedRanges ({ file, start: rangeStart, end }: CsvRange, parts: number): Promise<CsvRange[]> {
  const starts = [rangeStart]
  const handle = await open(file, 'r')
  try {
    const probe = Buffer.alloc(SPLIT_PROBE_BYTES)
    for (let part = 1; part < parts; part++) {
      let from = Math.max(rangeStart + Math.floor((part * (end - rangeStart)) / parts) - 1, starts.at(-1)!)
      let lineStart = -1
      while (lineStart === -1 && from < end) {
        const { bytesRead } = await handle.read(probe, 0, SPLIT_PROBE_BYTES, from)
        const newline = probe.subarray(0, bytesRead).indexOf(10)
        if (newline !== -1) lineStart = from + newline + 1
        from += bytesRead
      }
      if (lineStart > starts.at(-1)! && lineStart < end) starts.push(lineStart)
    }
  } finally {
    await handle.close()
  }
  return starts.map((start, i) => ({ file, start, end: starts[i + 1] ?? end }))
}

/** What each of the last ranges of a parse on several workers is cut into (see planRanges). */
const TAIL_CUTS = 4

/**
 * The ranges the workers take, in order: each file's, of about `splitBytes` (a file kept whole, or a pipe, in
 * one), then the last `workers` of them, those a quarter of `splitBytes` long or more, each cut in TAIL_CUTS. A
 * parse ends with its slowest worker's last range: with ranges all alike, the workers that ran out first waited
 * for it 0.15 s on average at 10 M generated rows, up to a whole range (0.3–0.4 s). A range costs a few
 * milliseconds more.
 */
async function planRanges (files: readonly CsvFile[], splitBytes: number, workers: number, keepWhole: ReadonlySet<string>): Promise<CsvRange[]> {
  const ranges: CsvRange[] = []
  for (const file of files) {
    const whole = { file: file.path, start: 0, end: file.pipe ? Infinity : file.bytes }
    if (file.pipe || file.bytes <= splitBytes || keepWhole.has(file.path)) ranges.push(whole)
    else ranges.push(...await lineAlignedRanges(whole, Math.ceil(file.bytes / splitBytes)))
  }
  const tail = ranges.splice(Math.max(0, ranges.length - workers))
  for (const range of tail) {
    const cut = range.end !== Infinity && !keepWhole.has(range.file) && range.end - range.start >= splitBytes / TAIL_CUTS
    ranges.push(...cut ? await lineAlignedRanges(range, TAIL_CUTS) : [range])
  }
  return ranges
}

/** Each file's ranges in order, with the line count of the ranges before each. */
function rangesByFile (results: readonly RangeResult[]): Map<string, { result: RangeResult, linesBefore: number }[]> {
  const byFile = new Map<string, RangeResult[]>()
  for (const result of results) {
    const ranges = byFile.get(result.file)
    if (ranges) ranges.push(result)
    else byFile.set(result.file, [result])
  }
  return new Map([...byFile].map(([file, ranges]) => {
    let linesBefore = 0
    return [file, ranges.sort((a, b) => a.start - b.start).map(result => {
      const entry = { result, linesBefore }
      linesBefore += result.lines
      return entry
    })]
  }))
}

/** Files where a split fell inside a quoted field (a range other than the last ended inside quotes). */
function filesSplitInsideQuotes (byFile: ReturnType<typeof rangesByFile>): Set<string> {
  const files = new Set<string>()
  for (const [file, ranges] of byFile) {
    if (ranges.slice(0, -1).some(({ result }) => result.endsInsideQuotes)) files.add(file)
  }
  return files
}

/** What a load gives: the store, all but its pages at once, and all of it once they are merged (see BuiltStore). */
export interface LoadedDataset extends BuiltStore {
  summary: DatasetSummary
}

export async function loadDataset (files: readonly CsvFile[], options: LoadOptions): Promise<LoadedDataset> {
  const started = performance.now()
  const tuning = { ...DEFAULT_TUNING, ...options.tuning }
  const progress: LoadProgress = {
    filesTotal: files.length,
    bytesTotal: files.reduce((sum, file) => sum + file.bytes, 0),
    bytesDone: 0
  }
  const workers = options.workers > 0 && progress.bytesTotal >= tuning.minBytesForWorkers ? options.workers : 0
  // What each parse reads, about: its share of the bytes.
  const bytesPerParse = progress.bytesTotal / Math.max(workers, 1)
  const parseOptions: WorkerOptions = {
    expected: expectedSizes(bytesPerParse),
    strict: options.strict,
    maxBadRowExamples: options.maxBadRowExamples,
    fastPath: options.fastPath,
    chunkBytes: tuning.chunkBytes,
    maxRecordBytes: tuning.maxRecordBytes,
    deferPages: workers > 0 && !files.some(file => file.pipe)
  }
  const onBytes = (bytes: number): void => {
    progress.bytesDone += bytes
    options.onProgress?.(progress)
  }
  const parse = async (keepWhole: ReadonlySet<string>): Promise<ParsedRanges> => {
    progress.bytesDone = 0
    const ranges = await planRanges(files, workers > 1 ? tuning.splitBytes : Infinity, workers, keepWhole)
    return workers > 0
      ? parseOnWorkers(ranges, parseOptions, workers, onBytes,
        { signal: options.signal, workerScript: tuning.workerScript, freshBuildWorkers: progress.bytesTotal >= tuning.freshBuildWorkersBytes })
      : parseOnThisThread(ranges, parseOptions, onBytes, options.signal)
  }

  let parsed = await parse(new Set())
  let byFile = rangesByFile(parsed.results)
  const misSplit = filesSplitInsideQuotes(byFile)
  if (misSplit.size > 0) {
    stopParseWorkers(parsed)
    parsed = await parse(misSplit)
    byFile = rangesByFile(parsed.results)
  }

  const badRows: BadRow[] = []
  let strictFailure: BadRow | undefined
  const fileSummaries = files.map(file => {
    const ranges = byFile.get(file.path)!
    // Reports name a file as it stands in the data folder: where that folder is is the operator's business.
    const name = basename(file.path)
    for (const { result, linesBefore } of ranges) {
      badRows.push(...result.badRows.map(bad => ({ ...bad, file: name, line: bad.line + linesBefore })))
      if (result.strictFailure && !strictFailure) {
        strictFailure = { ...result.strictFailure, file: name, line: result.strictFailure.line + linesBefore }
      }
    }
    return {
      file: name,
      rows: ranges.reduce((sum, { result }) => sum + result.rows, 0),
      skippedRows: ranges.reduce((sum, { result }) => sum + result.badRowCount, 0)
    }
  })
  if (strictFailure) {
    stopParseWorkers(parsed)
    throw new CsvFormatError(`${strictFailure.file}:${strictFailure.line}: ${strictFailure.reason}`)
  }

  const parsedAt = performance.now()
  const { store, complete, sessionTables } = parsed.workers.length > 0
    ? await buildOnWorkers(parsed, options.sessionTimeoutSeconds, options.signal)
    : builtOnThisThread(buildPageViewStore(parsed.batches))
  const builtAt = performance.now()
  const summary: DatasetSummary = {
    files: fileSummaries,
    rows: store.timestampColumn.length,
    skippedRows: fileSummaries.reduce((sum, file) => sum + file.skippedRows, 0),
    skippedRowExamples: badRows.slice(0, options.maxBadRowExamples),
    sites: store.siteUrls.length,
    visitors: store.visitors.size,
    firstTimestamp: store.firstTimestamp,
    lastTimestamp: store.lastTimestamp,
    loadMs: Math.round(builtAt - started),
    parseMs: Math.round(parsedAt - started),
    buildMs: Math.round(builtAt - parsedAt),
    workers
  }
  return { store, complete, summary, sessionTables }
}
