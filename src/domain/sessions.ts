// Sessionization of one site and the order statistics of its session lengths.
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
 * Splits a site's views into sessions: a visitor's successive views at most `timeoutSeconds` apart
 * belong to one session. Relies on the store's (site, visitor, timestamp) clustering.
 */
export function sessionizeSite (store: PageViewStore, siteId: number, timeoutSeconds: number): SessionTable {
  const from = store.siteRowStart[siteId]
  const to = store.siteRowStart[siteId + 1]
  const visitorColumn = store.visitorColumn
  const timestampColumn = store.timestampColumn
  const lengths = new Float64Array(to - from)
  let sessionCount = 0
  let visitors = 0
  let singleViewSessions = 0
  let previousVisitor = -1
  let sessionStart = 0
  let previousTime = 0
  let sessionViews = 0

  for (let row = from; row < to; row++) {
    const visitor = visitorColumn[row]
    const time = timestampColumn[row]
    const sameVisitor = visitor === previousVisitor
    if (!sameVisitor || time - previousTime > timeoutSeconds) {
      if (sessionCount > 0) {
        lengths[sessionCount - 1] = previousTime - sessionStart
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
  if (sessionCount > 0) {
    lengths[sessionCount - 1] = previousTime - sessionStart
    if (sessionViews === 1) singleViewSessions++
  }

  const sessionLengths = lengths.slice(0, sessionCount).sort()
  let totalSessionLength = 0
  for (const length of sessionLengths) totalSessionLength += length
  return {
    siteUrl: store.siteUrls[siteId],
    pageViews: to - from,
    visitors,
    sessionLengths,
    totalSessionLength,
    singleViewSessions,
    byteSize: sessionLengths.byteLength + TABLE_OVERHEAD_BYTES
  }
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
