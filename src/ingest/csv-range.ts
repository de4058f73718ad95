// Parses a byte range of a page-view CSV file, chunk by chunk, into a batch builder. Plain lines, and lines whose
// fields are quoted as CSV writers quote a comma, take a byte-level fast path in WebAssembly
// (assembly/interner.ts) that allocates nothing per row. Every other line holding a quote, and every line the
// fast path does not accept, goes through papaparse, so quoting and the reasons for bad rows are papaparse's.
// Where a record ends is found here, by papaparse's own quoting rules, so that a bad record spoils one line.
import { constants, openSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { Socket } from 'node:net'
import Papa from 'papaparse'
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
  /** Take the byte-level path for plain lines and simply quoted ones; false sends every line through papaparse. */
  fastPath: boolean
  /** Bytes read at a time (a longer line grows the buffer). */
  chunkBytes: number
  /**
   * The longest record: a line, or lines joined by a quoted field, longer than this is not a page view; its
   * first line is skipped as bad, and reading goes on at the next line.
   */
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
const QUOTE = 34
const COMMA = 44
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

/** At most this much of a field is quoted in a bad row's reason, so that reports stay small. */
const MAX_QUOTED_CHARS = 40

/** A field for a bad row's reason: JSON-quoted, cut short when long. */
function quoteField (value: string): string {
  return value.length > MAX_QUOTED_CHARS ? `${JSON.stringify(value.slice(0, MAX_QUOTED_CHARS))}…` : JSON.stringify(value)
}

/** Why a row is not a page view, or undefined when it is one. */
export function rowProblem (fields: string[]): string | undefined {
  if (fields.length !== 4) return `expected 4 fields, found ${fields.length}`
  if (fields[0] === '') return 'empty visitor_id'
  if (fields[1] === '') return 'empty site_url'
  const timestamp = fields[3]
  if (!DIGITS.test(timestamp) || !Number.isSafeInteger(Number(timestamp))) {
    return `timestamp ${quoteField(timestamp)} is not a non-negative integer`
  }
  return undefined
}

/** Rows split on \n alone, so a \r\n line end leaves its \r on the last field: it is not part of it. */
function trimCarriageReturn (fields: string[]): string[] {
  const last = fields.length - 1
  if (fields[last].endsWith('\r')) fields[last] = fields[last].slice(0, -1)
  return fields
}

function isHeader (fields: string[]): boolean {
  return fields.length === HEADER.length && fields.every((field, i) => field === HEADER[i])
}

/** Where a record that starts at a line ends, or why it does not end in the bytes at hand. */
const NEEDS_MORE_DATA = -1
const UNCLOSED_AT_END = -2
const UNCLOSED_WITHIN_LIMIT = -3

/** The end of the first comma or line break at or after `from` (or `end`): where an unquoted field stops. */
function fieldEnd (data: Buffer, from: number, end: number): number {
  let at = from
  while (at < end && data[at] !== COMMA && data[at] !== NEWLINE) at++
  return at
}

/** Where a range's bytes come from: a file read at positions, or a named pipe read in order. */
interface ByteSource {
  read (buffer: Buffer, offset: number, length: number, position: number): Promise<number>
  close (): Promise<void>
}

async function openFile (path: string): Promise<ByteSource> {
  const handle = await open(path, 'r')
  return {
    read: async (buffer, offset, length, position) => (await handle.read(buffer, offset, length, position)).bytesRead,
    close: () => handle.close()
  }
}

/**
 * A named pipe, read through the event loop as a socket. A blocking open or read would hold one of libuv's
 * few threads (which file reads and static files share) until a writer comes, and could not be given up;
 * opened non-blocking, a pipe with no writer yet simply has no data, and closing it ends the wait.
 */
class PipeSource implements ByteSource {
  readonly #socket: Socket
  readonly #chunks: Buffer[] = []
  #ended = false
  #error: Error | undefined
  #wake: (() => void) | undefined

  constructor (path: string) {
    this.#socket = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false })
    this.#socket.on('data', chunk => {
      // One socket read in hand at a time: the writer waits while the parser catches up.
      this.#socket.pause()
      this.#chunks.push(chunk as Buffer)
      this.#wake?.()
    })
    this.#socket.on('end', () => { this.#ended = true; this.#wake?.() })
    // A pipe read that fails (EIO) cannot be caused from a test; the error still reaches the load.
    /* c8 ignore next */
    this.#socket.on('error', error => { this.#error = error; this.#ended = true; this.#wake?.() })
    this.#socket.on('close', () => { this.#ended = true; this.#wake?.() })
  }

  async read (buffer: Buffer, offset: number, length: number): Promise<number> {
    while (this.#chunks.length === 0 && !this.#ended) await new Promise<void>(resolve => { this.#wake = resolve })
    /* c8 ignore next: see the error handler */
    if (this.#error) throw this.#error
    let copied = 0
    while (copied < length && this.#chunks.length > 0) {
      const chunk = this.#chunks[0]
      const taken = chunk.copy(buffer, offset + copied, 0, length - copied)
      copied += taken
      if (taken === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(taken)
    }
    if (this.#chunks.length === 0) this.#socket.resume()
    return copied
  }

  async close (): Promise<void> {
    this.#socket.destroy()
  }
}

/**
 * The read buffer of this thread's last range parsed to its end, for the next range: a buffer's first use costs
 * more than its reads, as each of its pages is first touched (16 µs a 4 KiB page, measured on a virtual machine
 * like this one), and a parse worker reads a range of 32 MB through a 4 MB buffer.
 */
let spareReadBuffer: Buffer | undefined
const NO_BUFFER = Buffer.alloc(0)

/** Reads a range chunk by chunk; each `step()` parses one chunk, so a caller can yield or report between. */
export class RangeParser {
  readonly #range: CsvRange
  readonly #builder: PageViewBatchBuilder
  readonly #options: RangeParseOptions
  #source: ByteSource | undefined
  #buffer: Buffer
  #buffered = 0
  #position: number
  #done = false
  #final = false
  #lines = 0
  #rows = 0
  #endsInsideQuotes = false
  #badRowCount = 0
  readonly #badRows: BadRow[] = []
  #strictFailure: BadRow | undefined
  /** A line over the record limit is being dropped as it is read, up to its line break. */
  #discardingLine = false
  /** An open run of lines for papaparse, each a whole record: where it starts in the buffer, and its first line. */
  #segmentStart = -1
  #segmentLine = 0
  /**
   * The last search for a closing quote, in the buffer as it is: every quote run that starts after `from`
   * and before `to` leads to `closer` (or, when -1, to no closer before `to`). A later search from inside
   * that stretch jumps ahead instead of walking it again, so a file of stray quotes is not read quadratically.
   */
  #closerSearch = { from: -1, to: -1, closer: -1 }

  constructor (range: CsvRange, builder: PageViewBatchBuilder, options: RangeParseOptions) {
    this.#range = range
    this.#builder = builder
    this.#options = options
    const spare = spareReadBuffer
    spareReadBuffer = undefined
    // Of the chunk size asked for exactly: reads fill the buffer, and a test's tiny chunks must stay tiny.
    this.#buffer = spare?.length === options.chunkBytes ? spare : Buffer.allocUnsafe(options.chunkBytes)
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
      // A named pipe has no size: it is read in order, as its one and only range.
      this.#source ??= Number.isFinite(this.#range.end) ? await openFile(this.#range.file) : new PipeSource(this.#range.file)
      // Always room for half a chunk: a record carried over (up to maxRecordBytes) must not shrink the reads,
      // and the few bytes of a partial line carried after most reads must not double every buffer.
      if (this.#buffer.length - this.#buffered < this.#options.chunkBytes / 2) this.#growBuffer()
      const wanted = Math.min(this.#buffer.length - this.#buffered, this.#range.end - this.#position)
      const bytesRead = await this.#source.read(this.#buffer, this.#buffered, wanted, this.#position)
      this.#position += bytesRead
      this.#buffered += bytesRead
      this.#final = bytesRead === 0 || this.#position >= this.#range.end
      this.#parseBuffered()
      if (this.#final || this.#strictFailure) {
        await this.#finish()
        // Only from a parse that ended here: one closed from outside may have a read still writing into it.
        spareReadBuffer = this.#buffer
        this.#buffer = NO_BUFFER
      }
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

  /** Stops reading: a pending read of a pipe ends, and the next step reports the range done. */
  async close (): Promise<void> {
    await this.#finish()
  }

  async #finish (): Promise<void> {
    this.#done = true
    const source = this.#source
    this.#source = undefined
    await source?.close()
  }

  #growBuffer (): void {
    const larger = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#buffered + this.#options.chunkBytes))
    this.#buffer.copy(larger, 0, 0, this.#buffered)
    this.#buffer = larger
  }

  #parseBuffered (): void {
    const data = this.#buffer.subarray(0, this.#buffered)
    let position = 0
    if (this.#discardingLine) {
      const lineEnd = data.indexOf(NEWLINE)
      if (lineEnd === -1) {
        this.#buffered = 0
        return
      }
      this.#discardingLine = false
      position = lineEnd + 1
    } else if (this.#range.start === 0 && this.#lines === 0 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) {
      position = 3
    }
    position = this.#scanLines(data, position)
    this.#flushSegment(data, position)
    // Carry what is not parsed yet: a partial last line, or a record whose end is not read yet.
    this.#buffer.copy(this.#buffer, 0, position, this.#buffered)
    this.#buffered -= position
    const { from, to, closer } = this.#closerSearch
    this.#closerSearch = { from: from - position, to: to - position, closer: closer === -1 ? -1 : closer - position }
  }

  /**
   * Parses the complete records of `data` from `position`; returns where it stopped. Kept apart from the
   * once-a-chunk work around it, so that the optimizing compiler sees only this hot loop.
   */
  #scanLines (data: Buffer, from: number): number {
    const final = this.#final
    const { fastPath, maxRecordBytes } = this.#options
    if (fastPath) this.#builder.setPlainLines(data)
    // Where the whole lines end, which WebAssembly reads as far as each is plain: the range's last line needs no line break.
    const plainEnd = !fastPath ? 0 : final ? data.length : data.lastIndexOf(NEWLINE) + 1
    let position = from
    let nextQuote = data.indexOf(QUOTE, position)
    while (position < data.length && !this.#strictFailure) {
      if (nextQuote !== -1 && nextQuote < position) nextQuote = data.indexOf(QUOTE, position)
      if (plainEnd > position) {
        const read = this.#builder.addPlainLines(position, plainEnd, maxRecordBytes, final && plainEnd === data.length)
        if (read.lines > 0) {
          this.#flushSegment(data, position)
          this.#lines += read.lines
          this.#rows += read.rows
          position = read.end
          continue
        }
      }
      let lineEnd = data.indexOf(NEWLINE, position)
      if (lineEnd === -1) {
        if (!final) {
          if (data.length - position <= this.#options.maxRecordBytes) break
          // Too long to be a page view, and not held: its bytes are dropped as they arrive.
          this.#skipLongLine(data, position)
          this.#discardingLine = true
          return data.length
        }
        lineEnd = data.length
      }
      if (lineEnd - position > this.#options.maxRecordBytes) {
        this.#skipLongLine(data, position)
      } else if (nextQuote !== -1 && nextQuote < lineEnd) {
        const recordEnd = this.#recordEnd(data, position)
        if (recordEnd === NEEDS_MORE_DATA) break
        this.#lines++
        if (recordEnd >= 0 && recordEnd <= lineEnd) this.#addToSegment(position)
        else {
          this.#flushSegment(data, position)
          if (recordEnd >= 0 && this.#takeMultiLineRecord(data, position, recordEnd)) lineEnd = recordEnd
          else if (recordEnd < 0) this.#skipUnclosed(recordEnd)
        }
      } else {
        // A line without quotes that the fast path did not take (every one, without the fast path): papaparse's.
        this.#lines++
        this.#addToSegment(position)
      }
      position = lineEnd + 1
    }
    return Math.min(position, data.length)
  }

  /** Skips a line too long to be a page view, after parsing the run of lines before it. */
  #skipLongLine (data: Buffer, lineStart: number): void {
    this.#flushSegment(data, lineStart)
    this.#lines++
    this.#skip(this.#lines, `longer than ${this.#options.maxRecordBytes} bytes`)
  }

  #addToSegment (lineStart: number): void {
    if (this.#segmentStart !== -1) return
    this.#segmentStart = lineStart
    this.#segmentLine = this.#lines
  }

  /**
   * Where the record starting at `start` ends (the index of its line break, or the data's end), by
   * papaparse's rules: a field that starts with a quote runs to a quote followed by a comma or line break
   * (spaces between allowed), `""` being a quote inside it; a quote anywhere else is a plain character.
   * Or NEEDS_MORE_DATA, or why it never ends: the limit or the end of the range comes first.
   */
  #recordEnd (data: Buffer, start: number): number {
    const limit = start + this.#options.maxRecordBytes
    const end = Math.min(data.length, limit)
    const unended = end === limit ? UNCLOSED_WITHIN_LIMIT : this.#final ? UNCLOSED_AT_END : NEEDS_MORE_DATA
    let at = start
    for (;;) {
      if (data[at] === QUOTE) {
        const closer = this.#closingQuote(data, at, end)
        if (closer === NEEDS_MORE_DATA) return unended
        at = fieldEnd(data, closer + 1, end)
      } else {
        at = fieldEnd(data, at, end)
      }
      if (at === end) return end === data.length && this.#final ? end : unended
      if (data[at] === NEWLINE) return at
      at++
    }
  }

  /**
   * The quote that closes the field opened at `open`, or NEEDS_MORE_DATA when none does before `end`. A run
   * of quotes is always paired from its start, so wherever a search starts, it meets every later run as an
   * earlier search did: that is what lets it reuse the earlier search's result.
   */
  #closingQuote (data: Buffer, open: number, end: number): number {
    const earlier = this.#closerSearch
    const search = { from: open, to: open, closer: -1 }
    let quote = data.indexOf(QUOTE, open + 1)
    while (quote !== -1 && quote < end) {
      if (data[quote - 1] !== QUOTE) {
        if (quote > earlier.from && quote < earlier.to) {
          if (earlier.closer !== -1) return earlier.closer
          quote = earlier.to
          continue
        }
        search.to = quote
      }
      if (quote + 1 === end) {
        if (end === data.length && this.#final) return quote
        break
      }
      if (data[quote + 1] === QUOTE) {
        quote = data.indexOf(QUOTE, quote + 2)
        continue
      }
      const after = fieldEnd(data, quote + 1, end)
      if (after === end) {
        // Only a quote that is the very last byte closes a field at the end of the data, as in papaparse.
        if (!(end === data.length && this.#final)) break
      } else if (after === quote + 1 || data.toString('utf8', quote + 1, after).trim() === '') {
        // Spaces may stand between a closing quote and its comma or line break: papaparse trims them as JavaScript does.
        this.#closerSearch = { from: open, to: quote + 1, closer: quote }
        return quote
      }
      quote = data.indexOf(QUOTE, quote + 1)
    }
    this.#closerSearch = search
    return NEEDS_MORE_DATA
  }

  /**
   * Takes a record that spans lines when papaparse reads it as one valid page view; otherwise its first
   * line is bad, and reading goes on at the next line. Returns whether it was taken.
   */
  #takeMultiLineRecord (data: Buffer, start: number, recordEnd: number): boolean {
    const firstLine = this.#lines
    const parsed = Papa.parse<string[]>(data.toString('utf8', start, recordEnd), PAPA_CONFIG)
    const fields = trimCarriageReturn(parsed.data[0])
    // More than one row would mean papaparse ends the record elsewhere than #recordEnd: not seen, but were it
    // to happen, the first line is the one to lose, not the lines read as part of the record.
    /* c8 ignore next */
    const misread = parsed.data.length > 1 ? 'a quoted field is not closed' : undefined
    const problem = parsed.errors[0]?.message ?? misread ?? rowProblem(fields)
    if (problem !== undefined) {
      this.#skip(firstLine, problem)
      return false
    }
    this.#builder.add(fields[0], fields[1], fields[2], Number(fields[3]))
    this.#rows++
    for (let at = data.indexOf(NEWLINE, start); at !== -1 && at < recordEnd; at = data.indexOf(NEWLINE, at + 1)) this.#lines++
    return true
  }

  /** Skips the line that opens a quoted field which never closes; reading goes on at the next line. */
  #skipUnclosed (why: number): void {
    // At the range's end: if another range follows, the split between them may have cut a quoted field.
    if (why === UNCLOSED_AT_END) this.#endsInsideQuotes = true
    this.#skip(this.#lines, why === UNCLOSED_AT_END
      ? 'a quoted field is not closed'
      : `a quoted field is not closed within ${this.#options.maxRecordBytes} bytes`)
  }

  /**
   * Hands the open run of lines, if any, up to `end`, to papaparse: each line is a whole record. Where
   * papaparse finds a quoting error, each line is parsed alone, so that the error is pinned to its line.
   */
  #flushSegment (data: Buffer, end: number): void {
    if (this.#segmentStart === -1) return
    const text = data.toString('utf8', this.#segmentStart, end)
    this.#segmentStart = -1
    const parsed = Papa.parse<string[]>(text, PAPA_CONFIG)
    if (parsed.errors.length === 0) {
      this.#takeRows(parsed.data, new Map(), this.#segmentLine)
      return
    }
    text.split('\n').forEach((line, i) => {
      const one = Papa.parse<string[]>(line, PAPA_CONFIG)
      this.#takeRows(one.data, new Map(one.errors.map(error => [error.row, error.message])), this.#segmentLine + i)
    })
  }

  /** Counts each parsed row, one a line, as a page view or a bad row; `firstLine` is the first row's line. */
  #takeRows (rows: string[][], problems: ReadonlyMap<number | undefined, string>, firstLine: number): void {
    for (let i = 0; i < rows.length && !this.#strictFailure; i++) {
      const fields = trimCarriageReturn(rows[i])
      const line = firstLine + i
      if (line === 1 && this.#range.start === 0 && isHeader(fields)) continue
      if (fields.length === 1 && fields[0] === '') continue
      const problem = problems.get(i) ?? rowProblem(fields)
      if (problem === undefined) {
        this.#builder.add(fields[0], fields[1], fields[2], Number(fields[3]))
        this.#rows++
      } else {
        this.#skip(line, problem)
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

/**
 * Parses a whole range into `builder`, reporting each chunk's bytes as they are read. An abort stops it
 * between chunks, or in the middle of waiting for a pipe's writer, with the signal's reason.
 */
export async function parseRange (
  range: CsvRange, builder: PageViewBatchBuilder, options: RangeParseOptions, onBytes: (bytes: number) => void,
  signal?: AbortSignal
): Promise<RangeResult> {
  const parser = new RangeParser(range, builder, options)
  const stop = (): void => { void parser.close() }
  signal?.addEventListener('abort', stop)
  try {
    // An abort that came before the listener would never fire it: a pipe would wait for its writer regardless.
    signal?.throwIfAborted()
    let reported = 0
    while (await parser.step()) {
      onBytes(parser.bytesRead - reported)
      reported = parser.bytesRead
    }
    signal?.throwIfAborted()
    onBytes(parser.bytesRead - reported)
    return parser.result()
  } finally {
    signal?.removeEventListener('abort', stop)
  }
}
