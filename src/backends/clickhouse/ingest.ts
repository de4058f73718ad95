// Loads CSV files into ClickHouse's page_views, streamed in batches, each file once: what was loaded is kept
// in a table of the database (name, size, modification time), so a restart loads only files it has not seen.
import { Readable } from 'node:stream'
import { basename } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { CsvFormatError, type BadRow } from '../../ingest/csv-range.js'
import type { CsvFile } from '../../ingest/data-folder.js'
import type { FileSummary, LoadProgress } from '../../ingest/dataset.js'
import { streamFile } from '../../ingest/stream-file.js'
import type { PageViewBatch } from '../../ingest/page-view-batch.js'
import { ByteInterner, type DictionaryKeys } from '../../domain/byte-interner.js'
import { INGESTED_FILES, PAGE_VIEWS } from './schema.js'
import { tabSeparatedField } from './sql.js'
import type { BackendLog } from '../backend.js'

export interface IngestOptions {
  database: string
  /** Wait for a Distributed table to pass rows on to their shards before an insert returns. */
  clustered: boolean
  strict: boolean
  fastPath: boolean
  maxBadRowExamples: number
  chunkBytes?: number
  batchRows?: number
}

export interface IngestReport {
  /** Every file of the folder, loaded now or before, with its rows as loaded. */
  files: FileSummary[]
  /** Rows and bad rows of the files loaded now. */
  rowsLoaded: number
  skippedRowExamples: BadRow[]
  /** Files not loaded, and why: changed since they were loaded, or left half-loaded by an earlier stop. */
  warnings: string[]
}

interface FileRecord { file: string, bytes: string, mtime_ms: string, state: string, rows: string, skipped_rows: string }

/** A dictionary's keys as TabSeparated fields, in id order. */
function fields (keys: DictionaryKeys): string[] {
  const dictionary = ByteInterner.adopt(keys)
  return Array.from({ length: dictionary.size }, (_, id) => tabSeparatedField(dictionary.keyOf(id)))
}

/** A batch as TabSeparated text in page_views' column order. */
export function tabSeparated (batch: PageViewBatch): string {
  const visitors = fields(batch.visitors)
  const sites = fields(batch.sites)
  const pages = fields(batch.pages)
  const lines = new Array<string>(batch.timestampColumn.length)
  for (let row = 0; row < lines.length; row++) {
    lines[row] = `${visitors[batch.visitorColumn[row]]}\t${sites[batch.siteColumn[row]]}\t${pages[batch.pageColumn[row]]}\t${batch.timestampColumn[row]}\n`
  }
  return lines.join('')
}

/** What the database remembers of each file loaded: its latest record. */
async function fileRecords (client: ClickHouseClient, database: string): Promise<Map<string, FileRecord>> {
  const result = await client.query({
    query: `SELECT file, argMax(bytes, recorded_ms) AS bytes, argMax(mtime_ms, recorded_ms) AS mtime_ms,
      argMax(state, recorded_ms) AS state, argMax(rows, recorded_ms) AS rows, argMax(skipped_rows, recorded_ms) AS skipped_rows
      FROM ${database}.${INGESTED_FILES} GROUP BY file`,
    format: 'JSONEachRow'
  })
  return new Map((await result.json<FileRecord>()).map(record => [record.file, record]))
}

let lastRecordedMs = 0

async function record (client: ClickHouseClient, database: string, file: CsvFile, state: 'loading' | 'loaded', rows = 0, skippedRows = 0): Promise<void> {
  // Strictly increasing, so that the latest record of a file is never a tie.
  lastRecordedMs = Math.max(Date.now(), lastRecordedMs + 1)
  await client.insert({
    table: `${database}.${INGESTED_FILES}`,
    values: [{ file: basename(file.path), bytes: file.bytes, mtime_ms: Math.floor(file.mtimeMs), state, rows, skipped_rows: skippedRows, recorded_ms: lastRecordedMs }],
    format: 'JSONEachRow'
  })
}

/**
 * Loads the files the database does not hold yet into page_views. A file that changed since it was loaded, or
 * that an earlier load left half done, is reported and not loaded: loading it again would count rows twice.
 * A named pipe is reported too: nothing tells one pipe's contents from the next.
 */
export async function ingestFiles (
  client: ClickHouseClient, files: readonly CsvFile[], options: IngestOptions, onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal, log: BackendLog
): Promise<IngestReport> {
  const records = await fileRecords(client, options.database)
  const toLoad: CsvFile[] = []
  const warnings: string[] = []
  for (const file of files) {
    const name = basename(file.path)
    const known = records.get(name)
    if (file.pipe) warnings.push(`${name} is a named pipe: not loaded, since the database keeps what it loads and a pipe cannot be told apart from one start to the next`)
    else if (known === undefined) toLoad.push(file)
    else if (known.state !== 'loaded') {
      warnings.push(`${name} was being loaded when an earlier load stopped: some of its rows may be in ${PAGE_VIEWS}; not loaded again, ` +
        `so that none counts twice (to load it, delete those rows and its lines in ${INGESTED_FILES})`)
    }
    else if (Number(known.bytes) !== file.bytes || Number(known.mtime_ms) !== Math.floor(file.mtimeMs)) {
      warnings.push(`${name} changed since it was loaded (${known.bytes} bytes then, ${file.bytes} now): not loaded again, so that no row counts twice`)
    }
  }
  // Said at once, not after a load that may take minutes.
  for (const warning of warnings) log.warn(warning)
  const progress: LoadProgress = { filesTotal: files.length, bytesTotal: toLoad.reduce((sum, file) => sum + file.bytes, 0), bytesDone: 0 }
  const parseOptions = {
    strict: options.strict,
    fastPath: options.fastPath,
    maxBadRowExamples: options.maxBadRowExamples,
    chunkBytes: options.chunkBytes ?? 4 * 1024 * 1024,
    maxRecordBytes: 1024 * 1024,
    batchRows: options.batchRows ?? 200_000
  }
  const onBytes = (bytes: number): void => {
    progress.bytesDone += bytes
    onProgress(progress)
  }
  // In strict mode a bad row must stop the load before any row is stored: every file is read through first.
  if (options.strict) {
    for (const file of toLoad) {
      const { strictFailure } = await streamFile(file, parseOptions, async () => {}, () => {}, signal)
      if (strictFailure) throw new CsvFormatError(`${strictFailure.file}:${strictFailure.line}: ${strictFailure.reason}`)
    }
  }
  const loaded = new Map<string, FileSummary>()
  const skippedRowExamples: BadRow[] = []
  let rowsLoaded = 0
  const insert = (rows: string): Promise<unknown> => client.insert({
    table: `${options.database}.${PAGE_VIEWS}`,
    values: Readable.from([rows], { objectMode: false }),
    format: 'TabSeparated',
    clickhouse_settings: options.clustered ? { insert_distributed_sync: 1 } : {}
  })
  for (const file of toLoad) {
    await record(client, options.database, file, 'loading')
    // One insert in flight while the next batch is parsed: ClickHouse and the parser work at once.
    let inFlight: Promise<unknown> = Promise.resolve()
    const result = await streamFile(file, parseOptions, async batch => {
      const rows = tabSeparated(batch)
      await inFlight
      inFlight = insert(rows)
      // Awaited with the next batch, or after the file: a failure stops the load there.
      inFlight.catch(() => {})
    }, onBytes, signal)
    await inFlight
    await record(client, options.database, file, 'loaded', result.rows, result.badRowCount)
    loaded.set(result.file, { file: result.file, rows: result.rows, skippedRows: result.badRowCount })
    rowsLoaded += result.rows
    skippedRowExamples.push(...result.badRows.slice(0, options.maxBadRowExamples - skippedRowExamples.length))
  }
  const summaries = files.map(file => {
    const name = basename(file.path)
    const known = records.get(name)
    return loaded.get(name) ?? { file: name, rows: Number(known?.rows ?? 0), skippedRows: Number(known?.skipped_rows ?? 0) }
  })
  return { files: summaries, rowsLoaded, skippedRowExamples, warnings }
}
