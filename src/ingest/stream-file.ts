// Reads one CSV file from start to end, handing its rows on in batches as it goes: for a backend that stores
// them elsewhere, so that no file is ever held whole in memory. Same parser, same bad-row rules as a load.
import { basename } from 'node:path'
import { RangeParser, type RangeParseOptions, type RangeResult } from './csv-range.js'
import { PageViewBatchBuilder, type PageViewBatch } from './page-view-batch.js'
import type { CsvFile } from './data-folder.js'

export interface StreamOptions extends RangeParseOptions {
  /** Rows gathered before a batch is handed on (a chunk's rows may take it a little past). */
  batchRows: number
}

/**
 * Parses `file` (a file, not a named pipe: to the size it had when listed), calling `onBatch` with each batch of rows (waiting for it before reading on) and `onBytes` with
 * each chunk's bytes. An abort stops it between chunks with the signal's reason. Bad rows are named by the
 * file's name, as a load names them.
 */
export async function streamFile (
  file: CsvFile, options: StreamOptions, onBatch: (batch: PageViewBatch) => Promise<void>, onBytes: (bytes: number) => void,
  signal?: AbortSignal
): Promise<RangeResult> {
  const builder = new PageViewBatchBuilder()
  const parser = new RangeParser({ file: file.path, start: 0, end: file.bytes }, builder, options)
  const stop = (): void => { void parser.close() }
  signal?.addEventListener('abort', stop)
  try {
    signal?.throwIfAborted()
    let reported = 0
    let more = true
    while (more) {
      more = await parser.step()
      signal?.throwIfAborted()
      onBytes(parser.bytesRead - reported)
      reported = parser.bytesRead
      if (builder.length >= options.batchRows || (!more && builder.length > 0)) await onBatch(builder.drain())
    }
    // Reports name a file as it stands in the data folder: where that folder is is the operator's business.
    const result = parser.result()
    const name = basename(file.path)
    return {
      ...result,
      file: name,
      badRows: result.badRows.map(bad => ({ ...bad, file: name })),
      ...(result.strictFailure && { strictFailure: { ...result.strictFailure, file: name } })
    }
  } finally {
    signal?.removeEventListener('abort', stop)
  }
}
