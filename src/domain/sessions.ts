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
export type SessionizedColumns = Pick<SessionStore, 'siteRowStart' | 'visitorColumn' | 'timestampColumn'>

/** A rough fixed cost of a table besides its lengths: object, strings and numbers. */
const TABLE_OVERHEAD_BYTES = 256

/**
 * How many rows, or session lengths, one slice of work covers before it lets the event loop run: a few
 * milliseconds even at its slowest (the scan's first slice, before the compiler has optimized it), so that
 * computing a site of millions of views never holds up other requests.
 */
export const SLICE = 16_384

/**
 * Work over many values, done a slice at a time: the generator pauses (yields) between slices, and returns its
 * result. The main thread lets the event loop run at each pause (finishYielding), so that work over millions of
 * values never holds up other requests; a build worker, which answers nothing meanwhile, runs it through
 * (finishNow).
 */
export type SlicedWork<T> = Generator<undefined, T, undefined>

/** Runs sliced work to its end, letting the event loop run at each pause. */
export async function finishYielding<T> (work: SlicedWork<T>): Promise<T> {
  let step = work.next()
  while (step.done !== true) {
    await setImmediate()
    step = work.next()
  }
  return step.value
}

/** Runs sliced work to its end without pausing. */
export function finishNow<T> (work: SlicedWork<T>): T {
  let step = work.next()
  while (step.done !== true) step = work.next()
  return step.value
}

/** A site's figures from sessionizing it, besides the lengths and session rows written out. */
interface SessionCounts { sessions: number, visitors: number, totalSessionLength: number, singleViewSessions: number }

/**
 * Splits the views in rows [from, to) of the store into sessions: a visitor's successive views at most
 * `timeoutSeconds` apart belong to one session. Relies on the store's (site, visitor, timestamp) clustering.
 * Writes each session's length to `lengths` (in store order, unsorted) and where it begins to `rows`, then `to`
 * after the last: room for as many sessions as rows, and one more row.
 */
function * splitSessions (
  { visitorColumn, timestampColumn }: SessionizedColumns, from: number, to: number,
  timeoutSeconds: number, lengths: Float64Array, rows: Uint32Array
): SlicedWork<SessionCounts> {
  let sessions = 0
  let totalSessionLength = 0
  let visitors = 0
  let singleViewSessions = 0
  let previousVisitor = -1
  let sessionStart = 0
  let previousTime = 0
  let sessionViews = 0

  for (let sliceStart = from; sliceStart < to; sliceStart += SLICE) {
    if (sliceStart > from) yield
    const sliceEnd = Math.min(to, sliceStart + SLICE)
    for (let row = sliceStart; row < sliceEnd; row++) {
      const visitor = visitorColumn[row]
      const time = timestampColumn[row]
      const sameVisitor = visitor === previousVisitor
      if (!sameVisitor || time - previousTime > timeoutSeconds) {
        if (sessions > 0) {
          lengths[sessions - 1] = previousTime - sessionStart
          totalSessionLength += previousTime - sessionStart
          if (sessionViews === 1) singleViewSessions++
        }
        if (!sameVisitor) visitors++
        rows[sessions] = row
        sessions++
        sessionStart = time
        sessionViews = 0
      }
      sessionViews++
      previousVisitor = visitor
      previousTime = time
    }
  }
  if (sessions > 0) {
    lengths[sessions - 1] = previousTime - sessionStart
    totalSessionLength += previousTime - sessionStart
    if (sessionViews === 1) singleViewSessions++
  }
  rows[sessions] = to
  return { sessions, visitors, totalSessionLength, singleViewSessions }
}

/**
 * A site's session table, computed on the main thread: in slices, yielding to the event loop between them, so
 * that a site of millions of views never holds up other requests.
 */
export async function sessionizeSite (store: SessionizedColumns & Pick<SessionStore, 'siteUrls'>, siteId: number, timeoutSeconds: number): Promise<SessionTable> {
  const from = store.siteRowStart[siteId]
  const to = store.siteRowStart[siteId + 1]
  const lengths = new Float64Array(to - from)
  const rows = new Uint32Array(to - from + 1)
  const { sessions, visitors, totalSessionLength, singleViewSessions } =
    await finishYielding(splitSessions(store, from, to, timeoutSeconds, lengths, rows))
  const sessionLengths = await finishYielding(sortedCopy(lengths, sessions))
  const sessionRows = await finishYielding(copied(rows, sessions + 1))
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
  /** The counts sortLengths sorts by, reused from site to site (it leaves them zero); made by the first sessionize. */
  #lengthCounts: Uint32Array<ArrayBuffer> | undefined
  #tables = 0
  #sessions = 0

  constructor (maxTables: number, maxSessions: number) {
    this.#numbers = new Float64Array(maxTables * TABLE_FIELDS)
    this.#lengths = new Float64Array(maxSessions)
    this.#rows = new Uint32Array(maxSessions + maxTables)
  }

  add (siteId: number, table: SessionTable): void {
    this.#lengths.set(table.sessionLengths, this.#sessions)
    this.#rows.set(table.sessionRows, this.#sessions + this.#tables)
    this.#added(siteId, table.pageViews, {
      sessions: table.sessionLengths.length, visitors: table.visitors, totalSessionLength: table.totalSessionLength, singleViewSessions: table.singleViewSessions
    })
  }

  /**
   * Sessionizes a site straight into the packed arrays, without pausing: a build worker's way, which sessionizes
   * every site. No array of the site's own to fill, copy and sort: 25,000 sites took twice the time that way.
   */
  sessionize (store: SessionizedColumns, siteId: number, timeoutSeconds: number): void {
    const from = store.siteRowStart[siteId]
    const to = store.siteRowStart[siteId + 1]
    const lengths = this.#lengths.subarray(this.#sessions, this.#sessions + to - from)
    const rows = this.#rows.subarray(this.#sessions + this.#tables, this.#sessions + this.#tables + to - from + 1)
    const counts = finishNow(splitSessions(store, from, to, timeoutSeconds, lengths, rows))
    finishNow(sortLengths(lengths.subarray(0, counts.sessions), this.#lengthCounts ??= new Uint32Array(COUNTED_LENGTHS)))
    this.#added(siteId, to - from, counts)
  }

  #added (siteId: number, pageViews: number, { sessions, visitors, totalSessionLength, singleViewSessions }: SessionCounts): void {
    this.#numbers.set([siteId, pageViews, visitors, sessions, totalSessionLength, singleViewSessions], this.#tables * TABLE_FIELDS)
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

/**
 * Packed tables, each made (an object and two views of the packed arrays) only when asked for: a restart's
 * 25,000 saved tables, all made at once and put in the cache, held up its first answer by a tenth of a second.
 */
export class PackedTableIndex {
  readonly #packed: PackedTables
  readonly #sites: Pick<SessionStore, 'siteUrls' | 'siteIdByUrl'>
  /** Each site's place among the packed tables, by site id; -1 for a site without one. */
  readonly #places: Int32Array
  /** Where each table's lengths begin in the packed lengths, and where the last one's end. */
  readonly #starts: Float64Array
  /** What all the tables cost in memory, as a cache counts them. */
  readonly byteSize: number

  /** `sites` names the sites whose ids the packed tables hold. */
  constructor (packed: PackedTables, sites: Pick<SessionStore, 'siteUrls' | 'siteIdByUrl'>) {
    const { numbers } = packed
    const count = numbers.length / TABLE_FIELDS
    this.#packed = packed
    this.#sites = sites
    this.#places = new Int32Array(sites.siteUrls.length).fill(-1)
    this.#starts = new Float64Array(count + 1)
    let byteSize = 0
    for (let place = 0; place < count; place++) {
      const sessions = numbers[place * TABLE_FIELDS + 3]
      this.#places[numbers[place * TABLE_FIELDS]] = place
      this.#starts[place + 1] = this.#starts[place] + sessions
      byteSize += byteSizeOf(sessions, sessions + 1)
    }
    this.byteSize = byteSize
  }

  get count (): number {
    return this.#starts.length - 1
  }

  /** The table of the site at `siteUrl`, made now; undefined for a site without one. */
  table (siteUrl: string): SessionTable | undefined {
    const siteId = this.#sites.siteIdByUrl.get(siteUrl)
    const place = siteId === undefined ? -1 : this.#places[siteId]
    return place < 0 ? undefined : this.#tableAt(place)
  }

  /** Every table, with its site's id, in the order they were packed. */
  tables (): { siteId: number, table: SessionTable }[] {
    return Array.from({ length: this.count }, (_, place) => ({ siteId: this.#packed.numbers[place * TABLE_FIELDS], table: this.#tableAt(place) }))
  }

  #tableAt (place: number): SessionTable {
    const { numbers, lengths, rows } = this.#packed
    // Read one by one: destructuring a view of them took a third of a restart's making of 25,000 tables.
    const at = place * TABLE_FIELDS
    const start = this.#starts[place]
    const sessions = numbers[at + 3]
    return sessionTable({
      siteUrl: this.#sites.siteUrls[numbers[at]],
      pageViews: numbers[at + 1],
      visitors: numbers[at + 2],
      sessionLengths: lengths.subarray(start, start + sessions),
      totalSessionLength: numbers[at + 4],
      singleViewSessions: numbers[at + 5],
      // Each table's rows are one longer than its lengths: table `place`'s start `place` further on.
      sessionRows: rows.subarray(start + place, start + place + sessions + 1)
    })
  }
}

/** What a table (or a summary, without session rows) with these arrays costs in memory, for a cache's byte bound. */
export function tableByteSize (sessionLengths: Float64Array, sessionRows?: Uint32Array): number {
  return byteSizeOf(sessionLengths.length, sessionRows?.length ?? 0)
}

/** What a table of `sessions` session lengths and `rows` session rows costs in memory. */
function byteSizeOf (sessions: number, rows: number): number {
  return sessions * Float64Array.BYTES_PER_ELEMENT + rows * Uint32Array.BYTES_PER_ELEMENT + TABLE_OVERHEAD_BYTES
}

/** The first `count` values in an array of their own (what the cache holds), copied a slice at a time. */
function * copied<T extends Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer>> (values: T, count: number): SlicedWork<T> {
  const copy = new (values.constructor as new (length: number) => T)(count)
  for (let start = 0; start < count; start += SLICE) {
    if (start > 0) yield
    copy.set(values.subarray(start, Math.min(count, start + SLICE)), start)
  }
  return copy
}

/** The first `count` session lengths in an array of their own, ascending: what a table or a summary holds. */
function * sortedCopy (lengths: Float64Array<ArrayBuffer>, count: number): SlicedWork<Float64Array<ArrayBuffer>> {
  const copy = yield * copied(lengths, count)
  yield * sortLengths(copy)
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
  await finishYielding(function * (): SlicedWork<void> {
    for (let sliceStart = 0; sliceStart < sessions; sliceStart += SLICE) {
      if (sliceStart > 0) yield
      const sliceEnd = Math.min(sessions, sliceStart + SLICE)
      for (let session = sliceStart; session < sliceEnd; session++) {
        const first = sessionRows[session]
        const start = timestampColumn[first]
        if (start >= range.from && start < range.to) visit(session, first, sessionRows[session + 1], start)
      }
    }
  }())
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
  const sessionLengths = await finishYielding(sortedCopy(lengths, count))
  return {
    siteUrl: table.siteUrl,
    pageViews,
    visitors,
    sessionLengths,
    totalSessionLength,
    singleViewSessions
  }
}

/**
 * Session lengths under this many seconds (18 hours: nearly every session but bots') are sorted by counting how
 * many sessions have each length.
 */
const COUNTED_LENGTHS = 1 << 16
/** Bits of a value a radix pass sorts on, and so how many buckets it counts into. */
const RADIX_BITS = 8
const RADIX_BUCKETS = 1 << RADIX_BITS
const TWO_TO_THE_32 = 2 ** 32
/** Up to this many values, Float64Array's own sort is the faster: counting, or a radix pass, costs as much to set up as it saves. */
const NATIVE_SORT_LIMIT = 1024

/**
 * Sorts session lengths (whole seconds, 0 to 2^53) ascending, in place. Lengths under COUNTED_LENGTHS are
 * counted, length by length, in `counts` (all zero, and left so), then written back in order: two passes, some
 * 4 ns a length, where Float64Array's own sort takes 80 and a radix sort 30 or more. Longer ones are gathered at
 * the front as the count meets them, radix-sorted, and moved to the end. A few values, natively.
 */
export function * sortLengths (values: Float64Array<ArrayBuffer>, counts = new Uint32Array(COUNTED_LENGTHS)): SlicedWork<void> {
  const count = values.length
  if (count <= NATIVE_SORT_LIMIT) {
    values.sort()
    return
  }
  let longer = 0
  let longestCounted = 0
  for (let start = 0; start < count; start += SLICE) {
    if (start > 0) yield
    const end = Math.min(count, start + SLICE)
    for (let i = start; i < end; i++) {
      const length = values[i]
      if (length < COUNTED_LENGTHS) {
        counts[length]++
        if (length > longestCounted) longestCounted = length
      } else {
        // i is never behind `longer`: what this overwrites was read already.
        values[longer++] = length
      }
    }
  }
  if (longer > 0) values.set(yield * radixSorted(values.subarray(0, longer)), count - longer)
  let at = 0
  let pauseAt = SLICE
  for (let length = 0; length <= longestCounted; length++) {
    const sessions = counts[length]
    counts[length] = 0
    for (const end = at + sessions; at < end; at++) values[at] = length
    if (at >= pauseAt) {
      yield
      pauseAt = at + SLICE
    }
  }
}

/** Bits [shift, shift + RADIX_BITS) of a whole number from 0 to 2^53: from its low 32 bits, or its high ones. */
function radixDigit (value: number, shift: number): number {
  // `>>> 0` keeps a double's low 32 bits, and truncates a quotient as Math.floor would: integer arithmetic throughout.
  return shift < 32 ? (value >>> shift) & (RADIX_BUCKETS - 1) : ((value / TWO_TO_THE_32) >>> (shift - 32)) & (RADIX_BUCKETS - 1)
}

/**
 * Whole numbers from 0 to 2^53, sorted: a radix sort a byte at a time, least significant first, over as many bytes
 * as the largest has, each pass a count and a stable scatter; a few values, natively. Returns `values` or a second
 * array of its length, whichever holds them sorted.
 */
function * radixSorted (values: Float64Array<ArrayBuffer>): SlicedWork<Float64Array<ArrayBuffer>> {
  const count = values.length
  if (count <= NATIVE_SORT_LIMIT) return values.sort()
  let largest = 0
  for (let start = 0; start < count; start += SLICE) {
    if (start > 0) yield
    for (let i = start, end = Math.min(count, start + SLICE); i < end; i++) if (values[i] > largest) largest = values[i]
  }
  let source = values
  let target = new Float64Array(count)
  const starts = new Uint32Array(RADIX_BUCKETS)
  for (let shift = 0; 2 ** shift <= largest; shift += RADIX_BITS) {
    starts.fill(0)
    for (let start = 0; start < count; start += SLICE) {
      if (start > 0) yield
      for (let i = start, end = Math.min(count, start + SLICE); i < end; i++) starts[radixDigit(source[i], shift)]++
    }
    let sum = 0
    for (let digit = 0; digit < RADIX_BUCKETS; digit++) {
      const inBucket = starts[digit]
      starts[digit] = sum
      sum += inBucket
    }
    for (let start = 0; start < count; start += SLICE) {
      if (start > 0) yield
      for (let i = start, end = Math.min(count, start + SLICE); i < end; i++) target[starts[radixDigit(source[i], shift)]++] = source[i]
    }
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
