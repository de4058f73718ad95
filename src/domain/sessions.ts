// Sessionization of one site and the order statistics of its session lengths.
import { setImmediate } from 'node:timers/promises'
import type { PageViewStore } from './page-view-store.js'
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
export type SessionizedColumns = Pick<PageViewStore, 'siteUrls' | 'siteRowStart' | 'visitorColumn' | 'timestampColumn'>

/** A rough fixed cost of a table besides its lengths: object, strings and numbers. */
const TABLE_OVERHEAD_BYTES = 256

/**
 * How many rows, or session lengths, one slice of work covers before it lets the event loop run: a few
 * milliseconds even at its slowest (a native sort, some 100 ns a value; the scan's first slice, before the
 * compiler has optimized it), so that computing a site of millions of views never holds up other requests.
 */
export const SLICE = 16_384

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

  for (let sliceStart = from; sliceStart < to; sliceStart += SLICE) {
    if (sliceStart > from) await setImmediate()
    const sliceEnd = Math.min(to, sliceStart + SLICE)
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
  return {
    siteUrl: store.siteUrls[siteId],
    pageViews: to - from,
    visitors,
    sessionLengths,
    totalSessionLength,
    singleViewSessions,
    sessionRows,
    byteSize: tableByteSize(sessionLengths, sessionRows)
  }
}

/** What a table (or a summary, without session rows) with these arrays costs in memory, for a cache's byte bound. */
export function tableByteSize (sessionLengths: Float64Array, sessionRows?: Uint32Array): number {
  return sessionLengths.byteLength + (sessionRows?.byteLength ?? 0) + TABLE_OVERHEAD_BYTES
}

/** The first `count` values in an array of their own (what the cache holds), copied a slice at a time. */
async function copyInSlices<T extends Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer>> (values: T, count: number): Promise<T> {
  const copy = new (values.constructor as new (length: number) => T)(count)
  for (let start = 0; start < count; start += SLICE) {
    if (start > 0) await setImmediate()
    copy.set(values.subarray(start, Math.min(count, start + SLICE)), start)
  }
  return copy
}

/**
 * Calls `visit` with each session of a table whose first view is in `range`: its index, its rows [first, end) in
 * the store, and its first view's time. Read from the table's session rows, a slice of sessions at a time,
 * yielding to the event loop between slices: every answer in a time range walks the sessions this way.
 */
export async function forEachSessionIn (
  table: SessionTable, store: PageViewStore, range: TimeRange,
  visit: (session: number, first: number, end: number, start: number) => void
): Promise<void> {
  const { sessionRows } = table
  const { timestampColumn } = store
  const sessions = sessionRows.length - 1
  for (let sliceStart = 0; sliceStart < sessions; sliceStart += SLICE) {
    if (sliceStart > 0) await setImmediate()
    const sliceEnd = Math.min(sessions, sliceStart + SLICE)
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
export async function summarizeRange (table: SessionTable, store: PageViewStore, range: TimeRange): Promise<SessionSummary> {
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

/**
 * Sorts numbers ascending, a slice at a time: runs of a slice are sorted natively, then merged pairwise,
 * yielding to the event loop after each run and each slice of merged values. Returns the sorted array,
 * which is `values` or a second array of its length.
 */
export async function sortInSlices (values: Float64Array<ArrayBuffer>): Promise<Float64Array<ArrayBuffer>> {
  const count = values.length
  if (count <= SLICE) return values.sort()
  for (let start = 0; start < count; start += SLICE) {
    values.subarray(start, start + SLICE).sort()
    await setImmediate()
  }
  let source = values
  let target = new Float64Array(count)
  for (let width = SLICE; width < count; width *= 2) {
    for (let left = 0; left < count; left += 2 * width) {
      const middle = Math.min(left + width, count)
      const right = Math.min(left + 2 * width, count)
      let i = left
      let j = middle
      for (let at = left; at < right;) {
        const sliceEnd = Math.min(right, at + SLICE)
        while (at < sliceEnd) target[at++] = j >= right || (i < middle && source[i] <= source[j]) ? source[i++] : source[j++]
        await setImmediate()
      }
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
