// Sessionization of one site and the order statistics of its session lengths.
import { setImmediate } from 'node:timers/promises'
import type { SessionStore } from './page-view-store.js'
import type { TimeRange } from './time-range.js'

/** What the statistics of a site's sessions (all of them, or those of a time range) are computed from. */
export interface SessionSummary {
  readonly siteUrl: string
  readonly pageViews: number
  readonly visitors: number
  /** Every session's length in seconds (last view − first view), ascending. */
  readonly sessionLengths: Float64Array
  /** The sum of all session lengths, for the mean. */
  readonly totalSessionLength: number
  /** Sessions of a single page view: bounces. */
  readonly singleViewSessions: number
}

/** One site's sessions, reduced to what the queries need: what the cache holds for each site. */
export interface SessionTable extends SessionSummary {
  /**
   * Where each session's views begin in the store, in store order (by visitor, then time), followed by the
   * site's end: session i is rows sessionRows[i] up to sessionRows[i + 1]. Through it a time range is answered
   * from the sessions as they are, without sessionizing again, at 4 bytes a session.
   */
  readonly sessionRows: Uint32Array
  /** What the table costs in memory, for the cache's byte bound. */
  readonly byteSize: number
}

/** What sessionizing reads of a store: a build worker has these, before the store is whole. */
export type SessionizedColumns = Pick<SessionStore, 'siteUrls' | 'siteRowStart' | 'visitorColumn' | 'timestampColumn'>

/** A rough fixed cost of a table besides its lengths: object, strings and numbers. */
const TABLE_OVERHEAD_BYTES = 256

/**
 * How many rows, or session lengths, one slice of work covers before it lets the event loop run: a few
 * milliseconds even at its slowest (the scan's first slice, before the compiler has optimized it), so that
 * computing a site of millions of views never holds up other requests.
 */
export const SLICE = 16_384

/**
 * The slices of [from, to), as [start, end) pairs, yielding to the event loop before each slice but the first:
 * what lets work over millions of values go on while other requests are answered.
 */
async function * slicesOf (from: number, to: number): AsyncGenerator<[number, number]> {
  for (let start = from; start < to; start += SLICE) {
    if (start > from) await setImmediate()
    yield [start, Math.min(to, start + SLICE)]
  }
}

/**
 * Splits a site's views into sessions: a visitor's successive views at most `timeoutSeconds` apart
 * belong to one session. Relies on the store's (site, visitor, timestamp) clustering. A site larger than a
 * slice is computed in slices, yielding to the event loop between them.
 */
export async function sessionizeSite (store: SessionizedColumns, siteId: number, timeoutSeconds: number): Promise<SessionTable> {
  const from = store.siteRowStart[siteId]
  const to = store.siteRowStart[siteId + 1]
  const visitorColumn = store.visitorColumn
  const timestampColumn = store.timestampColumn
  const lengths = new Float64Array(to - from)
  const rows = new Uint32Array(to - from + 1)
  let sessionCount = 0
  let totalSessionLength = 0
  let visitors = 0
  let singleViewSessions = 0
  let previousVisitor = -1
  let sessionStart = 0
  let previousTime = 0
  let sessionViews = 0

  for await (const [sliceStart, sliceEnd] of slicesOf(from, to)) {
    for (let row = sliceStart; row < sliceEnd; row++) {
      const visitor = visitorColumn[row]
      const time = timestampColumn[row]
      const sameVisitor = visitor === previousVisitor
      if (!sameVisitor || time - previousTime > timeoutSeconds) {
        if (sessionCount > 0) {
          lengths[sessionCount - 1] = previousTime - sessionStart
          totalSessionLength += previousTime - sessionStart
          if (sessionViews === 1) singleViewSessions++
        }
        if (!sameVisitor) visitors++
        rows[sessionCount] = row
        sessionCount++
        sessionStart = time
        sessionViews = 0
      }
      sessionViews++
      previousVisitor = visitor
      previousTime = time
    }
  }
  if (sessionCount > 0) {
    lengths[sessionCount - 1] = previousTime - sessionStart
    totalSessionLength += previousTime - sessionStart
    if (sessionViews === 1) singleViewSessions++
  }

  rows[sessionCount] = to
  const sessionLengths = await sortInSlices(await copyInSlices(lengths, sessionCount))
  const sessionRows = await copyInSlices(rows, sessionCount + 1)
  return sessionTable({ siteUrl: store.siteUrls[siteId], pageViews: to - from, visitors, sessionLengths, totalSessionLength, singleViewSessions, sessionRows })
}

/** A table, with what it costs in memory worked out from its arrays. */
function sessionTable (
  { siteUrl, pageViews, visitors, sessionLengths, totalSessionLength, singleViewSessions, sessionRows }: Omit<SessionTable, 'byteSize'>
): SessionTable {
  // Field by field, not spread: every table then has one shape, and a restart makes one for each site.
  return { siteUrl, pageViews, visitors, sessionLengths, totalSessionLength, singleViewSessions, sessionRows, byteSize: tableByteSize(sessionLengths, sessionRows) }
}

/** How many session tables a cache takes, and how many bytes of them. */
export interface CacheRoom {
  sites: number
  bytes: number
}

/** The room of a cache bounded by these settings (CACHE_MAX_SITES, CACHE_MAX_BYTES). */
export function cacheRoom ({ cacheMaxSites, cacheMaxBytes }: { cacheMaxSites: number, cacheMaxBytes: number }): CacheRoom {
  return { sites: cacheMaxSites, bytes: cacheMaxBytes }
}

/** Whether `sites` tables of `bytes` bytes in all fit a cache's room: the one rule for what a cache holds. */
export function fitsRoom (room: CacheRoom, sites: number, bytes: number): boolean {
  return sites <= room.sites && bytes <= room.bytes
}

/**
 * Tables whose arrays are views of one larger buffer (packed, or read from a file) as they are, when the cache
 * has room for them all; otherwise each with arrays of its own, so that the memory of the tables the cache
 * leaves out can be freed.
 */
export function ownedUnlessAllFit<T extends { table: SessionTable }> (views: T[], room: CacheRoom): T[] {
  if (fitsRoom(room, views.length, views.reduce((bytes, { table }) => bytes + table.byteSize, 0))) return views
  return views.map(view => ({ ...view, table: { ...view.table, sessionLengths: view.table.sessionLengths.slice(), sessionRows: view.table.sessionRows.slice() } }))
}

/** A table's site and figures, as packed: its site id, page views, visitors, sessions, total length and bounces. */
const TABLE_FIELDS = 6

/**
 * Session tables in three arrays, to save to a file or hand to another thread whole: handing over two buffers a
 * table took a worker 0.7 s for 24,000 sites. Per table, TABLE_FIELDS numbers; every table's lengths, one table
 * after another; and every table's session rows, each table's one longer than its lengths (its site's end).
 */
export interface PackedTables {
  numbers: Float64Array<ArrayBuffer>
  lengths: Float64Array<ArrayBuffer>
  rows: Uint32Array<ArrayBuffer>
}

/**
 * Packs tables one at a time, into arrays made for at most `maxTables` tables of `maxSessions` sessions in all: a
 * table added can be let go at once, and the arrays' room never written takes no memory.
 */
export class TablePacker {
  readonly #numbers: Float64Array<ArrayBuffer>
  readonly #lengths: Float64Array<ArrayBuffer>
  readonly #rows: Uint32Array<ArrayBuffer>
  #tables = 0
  #sessions = 0

  constructor (maxTables: number, maxSessions: number) {
    this.#numbers = new Float64Array(maxTables * TABLE_FIELDS)
    this.#lengths = new Float64Array(maxSessions)
    this.#rows = new Uint32Array(maxSessions + maxTables)
  }

  add (siteId: number, table: SessionTable): void {
    const sessions = table.sessionLengths.length
    this.#numbers.set([siteId, table.pageViews, table.visitors, sessions, table.totalSessionLength, table.singleViewSessions], this.#tables * TABLE_FIELDS)
    this.#lengths.set(table.sessionLengths, this.#sessions)
    this.#rows.set(table.sessionRows, this.#sessions + this.#tables)
    this.#tables++
    this.#sessions += sessions
  }

  /** The tables added, as views of the arrays: what is handed on is their buffers. */
  packed (): PackedTables {
    return {
      numbers: this.#numbers.subarray(0, this.#tables * TABLE_FIELDS),
      lengths: this.#lengths.subarray(0, this.#sessions),
      rows: this.#rows.subarray(0, this.#sessions + this.#tables)
    }
  }
}

export function packTables (tables: readonly { siteId: number, table: SessionTable }[]): PackedTables {
  const packer = new TablePacker(tables.length, tables.reduce((sum, { table }) => sum + table.sessionLengths.length, 0))
  for (const { siteId, table } of tables) packer.add(siteId, table)
  return packer.packed()
}

/** Packed tables, each with its site's id, as views of the packed arrays; `siteUrls` names the sites. */
export function unpackTables ({ numbers, lengths, rows }: PackedTables, siteUrls: readonly string[]): { siteId: number, table: SessionTable }[] {
  let start = 0
  return Array.from({ length: numbers.length / TABLE_FIELDS }, (_, i) => {
    const [siteId, pageViews, visitors, sessions, totalSessionLength, singleViewSessions] = numbers.subarray(i * TABLE_FIELDS, (i + 1) * TABLE_FIELDS)
    const sessionLengths = lengths.subarray(start, start + sessions)
    // Each table's rows are one longer than its lengths: table i's start i further on.
    const sessionRows = rows.subarray(start + i, start + i + sessions + 1)
    start += sessions
    return { siteId, table: sessionTable({ siteUrl: siteUrls[siteId], pageViews, visitors, sessionLengths, totalSessionLength, singleViewSessions, sessionRows }) }
  })
}

/** What a table (or a summary, without session rows) with these arrays costs in memory, for a cache's byte bound. */
export function tableByteSize (sessionLengths: Float64Array, sessionRows?: Uint32Array): number {
  return sessionLengths.byteLength + (sessionRows?.byteLength ?? 0) + TABLE_OVERHEAD_BYTES
}

/** The first `count` values in an array of their own (what the cache holds), copied a slice at a time. */
async function copyInSlices<T extends Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer>> (values: T, count: number): Promise<T> {
  const copy = new (values.constructor as new (length: number) => T)(count)
  for await (const [start, end] of slicesOf(0, count)) copy.set(values.subarray(start, end), start)
  return copy
}

/**
 * Calls `visit` with each session of a table whose first view is in `range`: its index, its rows [first, end) in
 * the store, and its first view's time. Read from the table's session rows, a slice of sessions at a time,
 * yielding to the event loop between slices: every answer in a time range walks the sessions this way.
 */
export async function forEachSessionIn (
  table: SessionTable, store: SessionStore, range: TimeRange,
  visit: (session: number, first: number, end: number, start: number) => void
): Promise<void> {
  const { sessionRows } = table
  const { timestampColumn } = store
  const sessions = sessionRows.length - 1
  for await (const [sliceStart, sliceEnd] of slicesOf(0, sessions)) {
    for (let session = sliceStart; session < sliceEnd; session++) {
      const first = sessionRows[session]
      const start = timestampColumn[first]
      if (start >= range.from && start < range.to) visit(session, first, sessionRows[session + 1], start)
    }
  }
}

/**
 * The sessions of a table whose first view is in `range`, summarized as a table's own are, with no sessionizing.
 */
export async function summarizeRange (table: SessionTable, store: SessionStore, range: TimeRange): Promise<SessionSummary> {
  const { visitorColumn, timestampColumn } = store
  const lengths = new Float64Array(table.sessionRows.length - 1)
  let count = 0
  let pageViews = 0
  let visitors = 0
  let totalSessionLength = 0
  let singleViewSessions = 0
  let previousVisitor = -1
  await forEachSessionIn(table, store, range, (_session, first, end, start) => {
    const length = timestampColumn[end - 1] - start
    lengths[count++] = length
    totalSessionLength += length
    pageViews += end - first
    if (end - first === 1) singleViewSessions++
    // A visitor's sessions are together in store order, so a new visitor is a change from the last one counted.
    const visitor = visitorColumn[first]
    if (visitor !== previousVisitor) visitors++
    previousVisitor = visitor
  })
  return {
    siteUrl: table.siteUrl,
    pageViews,
    visitors,
    sessionLengths: await sortInSlices(await copyInSlices(lengths, count)),
    totalSessionLength,
    singleViewSessions
  }
}

/** Bits of a value a radix pass sorts on, and so how many buckets it counts into. */
const RADIX_BITS = 8
const RADIX_BUCKETS = 1 << RADIX_BITS
const TWO_TO_THE_32 = 2 ** 32
/** Up to this many values, Float64Array's own sort is the faster: a radix pass costs as much to set up as it saves. */
const NATIVE_SORT_LIMIT = 1024

/** Bits [shift, shift + RADIX_BITS) of a whole number from 0 to 2^53: from its low 32 bits, or its high ones. */
function radixDigit (value: number, shift: number): number {
  // `>>> 0` keeps a double's low 32 bits, and truncates a quotient as Math.floor would: integer arithmetic throughout.
  return shift < 32 ? (value >>> shift) & (RADIX_BUCKETS - 1) : ((value / TWO_TO_THE_32) >>> (shift - 32)) & (RADIX_BUCKETS - 1)
}

/**
 * Sorts session lengths (whole seconds, 0 to 2^53) ascending: a radix sort a byte at a time, least significant
 * first, over as many bytes as the largest length has (two for lengths under 18 hours), each pass a count and a
 * stable scatter; a few values, natively. It took half the time Float64Array's own sort did from 15,000 values up.
 * Works a slice of values at a time, yielding to the event loop between slices, so that a site of millions of
 * sessions never holds up other requests. Returns the sorted array, which is `values` or a second array of its length.
 */
export async function sortInSlices (values: Float64Array<ArrayBuffer>): Promise<Float64Array<ArrayBuffer>> {
  const count = values.length
  if (count <= NATIVE_SORT_LIMIT) return values.sort()
  let largest = 0
  for await (const [start, end] of slicesOf(0, count)) for (let i = start; i < end; i++) if (values[i] > largest) largest = values[i]
  let source = values
  let target = new Float64Array(count)
  const starts = new Uint32Array(RADIX_BUCKETS)
  for (let shift = 0; 2 ** shift <= largest; shift += RADIX_BITS) {
    starts.fill(0)
    for await (const [start, end] of slicesOf(0, count)) for (let i = start; i < end; i++) starts[radixDigit(source[i], shift)]++
    let sum = 0
    for (let digit = 0; digit < RADIX_BUCKETS; digit++) {
      const inBucket = starts[digit]
      starts[digit] = sum
      sum += inBucket
    }
    for await (const [start, end] of slicesOf(0, count)) for (let i = start; i < end; i++) target[starts[radixDigit(source[i], shift)]++] = source[i];
    [source, target] = [target, source]
  }
  return source
}

/** The median of ascending values; with an even count, the mean of the two middle ones. */
export function medianOfSorted (sorted: Float64Array): number {
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The p-th percentile (0–100) of ascending values, by linear interpolation between closest ranks. */
export function percentileOfSorted (sorted: Float64Array, p: number): number {
  const rank = (p / 100) * (sorted.length - 1)
  const below = Math.floor(rank)
  const above = Math.min(below + 1, sorted.length - 1)
  return sorted[below] + (sorted[above] - sorted[below]) * (rank - below)
}
