// Parses a byte range of a page-view CSV file, chunk by chunk, into a batch builder. Plain lines take a
// byte-level fast path that allocates nothing per row; every line holding a quote, and every line the fast
// path does not accept, goes through papaparse, so quoting and the reasons for bad rows are papaparse's.
import { open, type FileHandle } from 'node:fs/promises'
import Papa from 'papaparse'
import { FNV_OFFSET, FNV_PRIME } from './byte-interner.js'
import type { PageViewBatchBuilder } from './page-view-batch.js'

/** A row that was skipped, where it was and why. Lines count from 1, as an editor shows them. */
export interface BadRow {
  file: string
  line: number
  reason: string
}

/** A bad row in strict mode, or a file that cannot be read. */
export class CsvFormatError extends Error {
  override name = 'CsvFormatError'
}

/** Bytes [start, end) of a file; ranges other than the first start just after a line break. */
export interface CsvRange {
  file: string
  start: number
  end: number
}

export interface RangeParseOptions {
  /** Stop at the first bad row and report it as `strictFailure`. */
  strict: boolean
  /** How many bad rows to keep as examples; all are counted. */
  maxBadRowExamples: number
  /** Take the byte-level path for plain lines; false sends every line through papaparse. */
  fastPath: boolean
  /** Bytes read at a time (a longer line grows the buffer). */
  chunkBytes: number
  /** A quoted record longer than this has a quote that never closes: its first line is skipped as bad. */
  maxRecordBytes: number
}

export interface RangeResult {
  file: string
  start: number
  rows: number
  /** Lines started in the range; line numbers below count from the range's start. */
  lines: number
  /** The range ended inside a quoted field: if another range follows, the split between them was wrong. */
  endsInsideQuotes: boolean
  badRowCount: number
  badRows: BadRow[]
  strictFailure?: BadRow
}

const NEWLINE = 10
const CARRIAGE_RETURN = 13
const QUOTE = 34
const COMMA = 44
const ZERO = 48
/** 15 digits always fit a double exactly; longer timestamps take papaparse's path and the full check. */
const MAX_FAST_DIGITS = 15
const HEADER = ['visitor_id', 'site_url', 'page_view_url', 'timestamp']
const DIGITS = /^\d+$/
const PAPA_CONFIG: Papa.ParseConfig<string[]> = {
  delimiter: ',',
  // Rows split on \n alone, and a trailing \r is trimmed, so files mixing \n and \r\n parse alike.
  newline: '\n',
  quoteChar: '"',
  header: false,
  dynamicTyping: false,
  skipEmptyLines: false
}

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

/** Reads a range chunk by chunk; each `step()` parses one chunk, so a caller can yield or report between. */
export class RangeParser {
  readonly #range: CsvRange
  readonly #builder: PageViewBatchBuilder
  readonly #options: RangeParseOptions
  #file: FileHandle | undefined
  #buffer: Buffer
  #buffered = 0
  #position: number
  #done = false
  /** Where the next step resumes scanning: after the lines of an open quoted record carried over. */
  #scanFrom = 0
  #lines = 0
  #rows = 0
  #endsInsideQuotes = false
  #badRowCount = 0
  readonly #badRows: BadRow[] = []
  #strictFailure: BadRow | undefined
  /** An open run of lines for papaparse: where it starts in the buffer, its first line, its quote count. */
  #segmentStart = -1
  #segmentLine = 0
  #segmentQuotes = 0
  /** Where the quoted record open at the end of the segment starts, and its line. */
  #recordStart = 0
  #recordLine = 0

  constructor (range: CsvRange, builder: PageViewBatchBuilder, options: RangeParseOptions) {
    this.#range = range
    this.#builder = builder
    this.#options = options
    this.#buffer = Buffer.allocUnsafe(options.chunkBytes)
    this.#position = range.start
  }

  get bytesRead (): number {
    return this.#position - this.#range.start
  }

  /**
   * Reads and parses the next chunk; false once the range is done. Reads are asynchronous, so that a named
   * pipe waiting for its writer never blocks the thread.
   */
  async step (): Promise<boolean> {
    if (this.#done) return false
    try {
      this.#file ??= await open(this.#range.file, 'r')
      if (this.#buffered === this.#buffer.length) this.#growBuffer()
      const wanted = Math.min(this.#buffer.length - this.#buffered, this.#range.end - this.#position)
      // A named pipe has no position to read from: it is read in order, from its one and only range.
      const position = Number.isFinite(this.#range.end) ? this.#position : null
      const { bytesRead } = await this.#file.read(this.#buffer, this.#buffered, wanted, position)
      this.#position += bytesRead
      this.#buffered += bytesRead
      const final = bytesRead === 0 || this.#position >= this.#range.end
      this.#parseBuffered(final)
      if (final || this.#strictFailure) await this.#finish()
    } catch (error) {
      await this.#finish()
      throw new CsvFormatError(`${this.#range.file}: ${(error as Error).message}`)
    }
    return !this.#done
  }

  result (): RangeResult {
    return {
      file: this.#range.file,
      start: this.#range.start,
      rows: this.#rows,
      lines: this.#lines,
      endsInsideQuotes: this.#endsInsideQuotes,
      badRowCount: this.#badRowCount,
      badRows: this.#badRows,
      ...(this.#strictFailure && { strictFailure: this.#strictFailure })
    }
  }

  async #finish (): Promise<void> {
    this.#done = true
    await this.#file?.close()
    this.#file = undefined
  }

  #growBuffer (): void {
    const larger = Buffer.allocUnsafe(this.#buffer.length * 2)
    this.#buffer.copy(larger, 0, 0, this.#buffered)
    this.#buffer = larger
  }

  #parseBuffered (final: boolean): void {
    const data = this.#buffer.subarray(0, this.#buffered)
    let position = this.#scanFrom
    if (this.#range.start === 0 && this.#lines === 0 && position === 0 &&
      data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) position = 3
    position = this.#scanLines(data, position, final)

    const segmentOpen = this.#segmentStart !== -1
    if (segmentOpen && (final || this.#segmentQuotes % 2 === 0)) {
      if (this.#segmentQuotes % 2 === 1) this.#endsInsideQuotes = true
      this.#flushSegment(data, Math.min(position, data.length))
    }
    // Carry what is not parsed yet: a partial last line, or a quoted record still open.
    const keepFrom = this.#segmentStart !== -1 ? this.#segmentStart : Math.min(position, data.length)
    this.#buffer.copy(this.#buffer, 0, keepFrom, this.#buffered)
    this.#buffered -= keepFrom
    this.#scanFrom = Math.min(position, data.length) - keepFrom
    if (this.#segmentStart !== -1) {
      this.#recordStart -= this.#segmentStart
      this.#segmentStart = 0
    }
  }

  /**
   * Parses the complete lines of `data` from `position`; returns where it stopped. Kept apart from the
   * once-a-chunk work around it, so that the optimizing compiler sees only this hot loop.
   */
  #scanLines (data: Buffer, from: number, final: boolean): number {
    let position = from
    let nextQuote = data.indexOf(QUOTE, position)
    while (position < data.length && !this.#strictFailure) {
      let lineEnd = data.indexOf(NEWLINE, position)
      if (lineEnd === -1) {
        if (!final) break
        lineEnd = data.length
      }
      this.#lines++
      if (nextQuote !== -1 && nextQuote < position) nextQuote = data.indexOf(QUOTE, position)
      const hasQuote = nextQuote !== -1 && nextQuote < lineEnd
      const inQuotedRecord = this.#segmentStart !== -1 && this.#segmentQuotes % 2 === 1
      if (hasQuote || inQuotedRecord || !this.#takeFastLine(data, position, lineEnd)) {
        if (this.#segmentStart === -1) {
          this.#segmentStart = position
          this.#segmentLine = this.#lines
          this.#segmentQuotes = 0
        }
        if (hasQuote) {
          if (this.#segmentQuotes % 2 === 0) {
            this.#recordStart = position
            this.#recordLine = this.#lines
          }
          this.#segmentQuotes += countQuotes(data, nextQuote, lineEnd)
        }
        if (this.#segmentQuotes % 2 === 1 && lineEnd - this.#recordStart > this.#options.maxRecordBytes) {
          // A quote that never closes: skip the line that opened it, and read on from the next one.
          if (this.#recordStart > this.#segmentStart) this.#flushSegment(data, this.#recordStart)
          this.#segmentStart = -1
          this.#skip(this.#recordLine, `a quoted field is not closed within ${this.#options.maxRecordBytes} bytes`)
          position = data.indexOf(NEWLINE, this.#recordStart) + 1
          this.#lines = this.#recordLine
          nextQuote = data.indexOf(QUOTE, position)
          continue
        }
      } else if (this.#segmentStart !== -1) {
        // The fast line ends the run before it: parse the run, then count the fast line's row.
        this.#flushSegment(data, position)
      }
      position = lineEnd + 1
    }

    return position
  }

  /** Parses a plain line in place; false when it is not a plain, valid page view. */
  #takeFastLine (data: Buffer, start: number, lineEnd: number): boolean {
    if (!this.#options.fastPath) return false
    let end = lineEnd
    if (end > start && data[end - 1] === CARRIAGE_RETURN) end--
    if (end === start) return true

    let at = start
    let visitorHash = FNV_OFFSET
    for (let byte; at < end && (byte = data[at]) !== COMMA; at++) visitorHash = Math.imul(visitorHash ^ byte, FNV_PRIME)
    const visitorEnd = at
    if (visitorEnd === start || at === end) return false

    const siteStart = ++at
    let siteHash = FNV_OFFSET
    for (let byte; at < end && (byte = data[at]) !== COMMA; at++) siteHash = Math.imul(siteHash ^ byte, FNV_PRIME)
    const siteEnd = at
    if (siteEnd === siteStart || at === end) return false

    at++
    while (at < end && data[at] !== COMMA) at++
    const timestampStart = ++at
    if (timestampStart >= end || end - timestampStart > MAX_FAST_DIGITS) return false
    let timestamp = 0
    for (; at < end; at++) {
      const digit = data[at] - ZERO
      if (digit < 0 || digit > 9) return false
      timestamp = timestamp * 10 + digit
    }

    const builder = this.#builder
    builder.addIds(
      builder.visitors.intern(data, start, visitorEnd, visitorHash),
      builder.sites.intern(data, siteStart, siteEnd, siteHash),
      timestamp)
    this.#rows++
    return true
  }

  /**
   * Hands the open run of lines, up to `end`, to papaparse. Where papaparse finds a quoting error, the run is
   * parsed again one record at a time, so that a broken record spoils only itself, wherever chunks fall.
   */
  #flushSegment (data: Buffer, end: number): void {
    const text = data.toString('utf8', this.#segmentStart, end)
    this.#segmentStart = -1
    const parsed = Papa.parse<string[]>(text, PAPA_CONFIG)
    if (parsed.errors.length === 0) {
      this.#takeRows(parsed.data, new Map(), this.#segmentLine)
      return
    }
    for (const record of splitRecords(text)) {
      const one = Papa.parse<string[]>(record.text, PAPA_CONFIG)
      this.#takeRows(one.data, new Map(one.errors.map(error => [error.row, error.message])),
        this.#segmentLine + record.lineOffset)
    }
  }

  /** Counts each parsed row as a page view or a bad row; `firstLine` is the line the first row starts on. */
  #takeRows (rows: string[][], problems: ReadonlyMap<number | undefined, string>, firstLine: number): void {
    let line = firstLine
    for (let i = 0; i < rows.length && !this.#strictFailure; i++) {
      const fields = rows[i]
      const rowLine = line
      line += linesSpanned(fields)
      const last = fields.length - 1
      if (fields[last].endsWith('\r')) fields[last] = fields[last].slice(0, -1)
      if (rowLine === 1 && this.#range.start === 0 && isHeader(fields)) continue
      if (fields.length === 1 && fields[0] === '') continue
      const problem = problems.get(i) ?? rowProblem(fields)
      if (problem === undefined) {
        this.#builder.add(fields[0], fields[1], Number(fields[3]))
        this.#rows++
      } else {
        this.#skip(rowLine, problem)
      }
    }
  }

  #skip (line: number, reason: string): void {
    const bad = { file: this.#range.file, line, reason }
    if (this.#options.strict) {
      this.#strictFailure = bad
      return
    }
    this.#badRowCount++
    if (this.#badRows.length < this.#options.maxBadRowExamples) this.#badRows.push(bad)
  }
}

/** Cuts text into records at each line break outside quotes, each with the line it starts on (from 0). */
function splitRecords (text: string): { text: string, lineOffset: number }[] {
  const records: { text: string, lineOffset: number }[] = []
  let start = 0
  let lines = 0
  let startLine = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === QUOTE) quoted = !quoted
    else if (code === NEWLINE) {
      lines++
      if (!quoted) {
        records.push({ text: text.slice(start, i + 1), lineOffset: startLine })
        start = i + 1
        startLine = lines
      }
    }
  }
  if (start < text.length) records.push({ text: text.slice(start), lineOffset: startLine })
  return records
}

function countQuotes (data: Buffer, from: number, end: number): number {
  let count = 0
  for (let at = from; at !== -1 && at < end; at = data.indexOf(QUOTE, at + 1)) count++
  return count
}

/** Parses a whole range into `builder`, reporting each chunk's bytes as they are read. */
export async function parseRange (
  range: CsvRange, builder: PageViewBatchBuilder, options: RangeParseOptions, onBytes: (bytes: number) => void
): Promise<RangeResult> {
  const parser = new RangeParser(range, builder, options)
  let reported = 0
  while (await parser.step()) {
    onBytes(parser.bytesRead - reported)
    reported = parser.bytesRead
  }
  onBytes(parser.bytesRead - reported)
  return parser.result()
}
