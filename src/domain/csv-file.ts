// Streams one page-view CSV file through papaparse into a columnar batch, skipping and reporting bad rows.
import { createReadStream } from 'node:fs'
import Papa from 'papaparse'
import { PageViewBatchBuilder, type PageViewBatch } from './page-view-batch.js'

/** A row that was skipped, where it was and why. Lines count from 1, as an editor shows them. */
export interface BadRow {
  file: string
  line: number
  reason: string
}

export interface FileParseOptions {
  /** Fail on the first bad row instead of skipping it. */
  strict: boolean
  /** How many bad rows to keep as examples; all are counted. */
  maxBadRowExamples: number
  /** Called as bytes are read, with the bytes read so far. */
  onBytesRead?: (bytesRead: number) => void
}

export interface FileParseResult {
  file: string
  batch: PageViewBatch
  badRowCount: number
  badRowExamples: BadRow[]
}

/** A bad row in strict mode, or a file that cannot be read as CSV. */
export class CsvFormatError extends Error {
  override name = 'CsvFormatError'
}

const HEADER = ['visitor_id', 'site_url', 'page_view_url', 'timestamp']
const DIGITS = /^\d+$/

/** Why a row is not a page view, or undefined when it is one. */
export function rowProblem (fields: string[]): string | undefined {
  if (fields.length !== 4) return `expected 4 fields, found ${fields.length}`
  if (fields[0] === '') return 'empty visitor_id'
  if (fields[1] === '') return 'empty site_url'
  const timestamp = fields[3]
  if (!DIGITS.test(timestamp) || !Number.isSafeInteger(Number(timestamp))) {
    return `timestamp ${JSON.stringify(timestamp)} is not a non-negative integer`
  }
  return undefined
}

function isHeader (fields: string[]): boolean {
  return fields.length === HEADER.length && fields.every((field, i) => field === HEADER[i])
}

/** Lines a parsed row took up: one, plus any line breaks inside its quoted fields. */
function linesSpanned (fields: string[]): number {
  let lines = 1
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) lines++
  }
  return lines
}

export function parsePageViewFile (file: string, options: FileParseOptions): Promise<FileParseResult> {
  const builder = new PageViewBatchBuilder()
  const badRowExamples: BadRow[] = []
  let badRowCount = 0
  let linesDone = 0
  let firstRow = true

  const stream = createReadStream(file, { encoding: 'utf8' })
  if (options.onBytesRead) {
    const report = options.onBytesRead
    stream.on('data', () => report(stream.bytesRead))
  }

  return new Promise((resolve, reject) => {
    const skip = (line: number, reason: string): void => {
      if (options.strict) throw new CsvFormatError(`${file}:${line}: ${reason}`)
      badRowCount++
      if (badRowExamples.length < options.maxBadRowExamples) badRowExamples.push({ file, line, reason })
    }

    const takeChunk = (results: Papa.ParseResult<string[]>, parser: Papa.Parser): void => {
      const rows = results.data
      const parseErrors = new Map(results.errors.map(error => [error.row, error.message]))
      try {
        for (let i = 0; i < rows.length; i++) {
          const fields = rows[i]
          const line = linesDone + 1
          linesDone += linesSpanned(fields)
          // Rows split on \n alone, so that files mixing \n and \r\n line ends parse alike.
          const last = fields.length - 1
          if (fields[last].endsWith('\r')) fields[last] = fields[last].slice(0, -1)
          if (firstRow) {
            firstRow = false
            if (fields[0].charCodeAt(0) === 0xfeff) fields[0] = fields[0].slice(1)
            if (isHeader(fields)) continue
          }
          if (fields.length === 1 && fields[0] === '') continue
          const problem = parseErrors.get(i) ?? rowProblem(fields)
          if (problem === undefined) builder.add(fields[0], fields[1], Number(fields[3]))
          else skip(line, problem)
        }
      } catch (error) {
        // Reject before aborting: abort() calls `complete`, which would otherwise resolve first.
        reject(error)
        parser.abort()
        stream.destroy()
      }
    }

    Papa.parse<string[]>(stream as unknown as File, {
      delimiter: ',',
      newline: '\n',
      quoteChar: '"',
      header: false,
      dynamicTyping: false,
      skipEmptyLines: false,
      chunk: takeChunk,
      complete: () => resolve({ file, batch: builder.finish(), badRowCount, badRowExamples }),
      error: (error: Error) => reject(new CsvFormatError(`${file}: ${error.message}`))
    })
  })
}
