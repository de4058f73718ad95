// Finds a data folder's CSV files and loads them into one PageViewStore, with progress and a summary.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parsePageViewFile, type BadRow, type FileParseResult } from './csv-file.js'
import { buildPageViewStore, type PageViewStore } from './page-view-store.js'

export interface CsvFile {
  path: string
  bytes: number
}

export interface LoadProgress {
  filesTotal: number
  filesDone: number
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
}

export interface LoadOptions {
  strict: boolean
  maxBadRowExamples: number
  onProgress?: (progress: LoadProgress) => void
}

/** A data folder that is missing, unreadable or holds no CSV file. */
export class DataDirError extends Error {
  override name = 'DataDirError'
}

/** The `*.csv` files (or named pipes, such as a decompressor's output) directly in `dir`, sorted by name. */
export async function listCsvFiles (dir: string): Promise<CsvFile[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    throw new DataDirError(`cannot read data folder ${dir}: ${(error as Error).message}`)
  }
  const csvNames = names.filter(name => name.toLowerCase().endsWith('.csv')).sort()
  const files: CsvFile[] = []
  for (const name of csvNames) {
    const path = join(dir, name)
    const info = await stat(path)
    if (info.isFile() || info.isFIFO()) files.push({ path, bytes: info.size })
  }
  if (files.length === 0) throw new DataDirError(`no .csv file in data folder ${dir}`)
  return files
}

export async function loadDataset (
  files: readonly CsvFile[],
  options: LoadOptions
): Promise<{ store: PageViewStore, summary: DatasetSummary }> {
  const started = performance.now()
  const progress: LoadProgress = {
    filesTotal: files.length,
    filesDone: 0,
    bytesTotal: files.reduce((sum, file) => sum + file.bytes, 0),
    bytesDone: 0
  }
  const results: FileParseResult[] = []
  for (const file of files) {
    const bytesBefore = progress.bytesDone
    const result = await parsePageViewFile(file.path, {
      strict: options.strict,
      maxBadRowExamples: options.maxBadRowExamples,
      onBytesRead: bytesRead => {
        progress.bytesDone = bytesBefore + bytesRead
        options.onProgress?.(progress)
      }
    })
    results.push(result)
    progress.filesDone++
    progress.bytesDone = bytesBefore + file.bytes
    options.onProgress?.(progress)
  }

  const store = buildPageViewStore(results.map(result => result.batch))
  const rows = store.timestampColumn.length
  const summary: DatasetSummary = {
    files: results.map(result => ({
      file: result.file,
      rows: result.batch.timestampColumn.length,
      skippedRows: result.badRowCount
    })),
    rows,
    skippedRows: results.reduce((sum, result) => sum + result.badRowCount, 0),
    skippedRowExamples: results.flatMap(result => result.badRowExamples).slice(0, options.maxBadRowExamples),
    sites: store.siteUrls.length,
    visitors: store.visitorIds.length,
    firstTimestamp: store.firstTimestamp,
    lastTimestamp: store.lastTimestamp,
    loadMs: Math.round(performance.now() - started)
  }
  return { store, summary }
}
