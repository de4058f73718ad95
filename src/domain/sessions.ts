// Sessionization of one site and the order statistics of its session lengths.
import { setImmediate } from 'node:timers/promises'
import type { PageViewStore } from './page-view-store.js'

/** One site's sessions, reduced to what the queries need. */
export interface SessionTable {
  readonly siteUrl: string
  readonly pageViews: number
  readonly visitors: number
  /** Every session's length in seconds (last view − first view), ascending. */
  readonly sessionLengths: Float64Array
  /** The sum of all session lengths, for the mean. */
  readonly totalSessionLength: number
  /** Sessions of a single page view: bounces. */
  readonly singleViewSessions: number
  /** What the table costs in memory, for the cache's byte bound. */
  readonly byteSize: number
}

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
export async function sessionizeSite (store: PageViewStore, siteId: number, timeoutSeconds: number): Promise<SessionTable> {
  const from = store.siteRowStart[siteId]
  const to = store.siteRowStart[siteId + 1]
  const visitorColumn = store.visitorColumn
  const timestampColumn = store.timestampColumn
  const lengths = new Float64Array(to - from)
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

  const sessionLengths = await sortInSlices(await copyInSlices(lengths, sessionCount))
  return {
    siteUrl: store.siteUrls[siteId],
    pageViews: to - from,
    visitors,
    sessionLengths,
    totalSessionLength,
    singleViewSessions,
    byteSize: tableByteSize(sessionLengths)
  }
}

/** What a table with these session lengths costs in memory, for the cache's byte bound. */
export function tableByteSize (sessionLengths: Float64Array): number {
  return sessionLengths.byteLength + TABLE_OVERHEAD_BYTES
}

/** The first `count` values in an array of their own (what the cache holds), copied a slice at a time. */
async function copyInSlices (values: Float64Array, count: number): Promise<Float64Array<ArrayBuffer>> {
  const copy = new Float64Array(count)
  for (let start = 0; start < count; start += SLICE) {
    if (start > 0) await setImmediate()
    copy.set(values.subarray(start, Math.min(count, start + SLICE)), start)
  }
  return copy
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
