// The answers the routes give: one pure function per question, over a session table or the store.
import type { PageViewStore } from './page-view-store.js'
import { medianOfSorted, percentileOfSorted, type SessionTable } from './sessions.js'

/** A site's headline figures: its line in the sites table. */
export interface SiteRow {
  site_url: string
  page_views: number
  visitors: number
  num_sessions: number
  median_session_length: number
  views_per_session: number
  bounce_rate: number
}

/** The figures an analytics dashboard shows for one site. */
export interface SiteStats extends SiteRow {
  mean_session_length: number
  p90_session_length: number
  max_session_length: number
}

export function numSessions (table: SessionTable): number {
  return table.sessionLengths.length
}

export function medianSessionLength (table: SessionTable): number {
  return medianOfSorted(table.sessionLengths)
}

export function numUniqueVisitedSites (store: PageViewStore, visitorId: number): number {
  return store.visitorSiteCount[visitorId]
}

function roundTo (value: number, decimals: number): number {
  const scale = 10 ** decimals
  return Math.round(value * scale) / scale
}

export function siteRow (table: SessionTable): SiteRow {
  const sessions = table.sessionLengths.length
  return {
    site_url: table.siteUrl,
    page_views: table.pageViews,
    visitors: table.visitors,
    num_sessions: sessions,
    median_session_length: medianOfSorted(table.sessionLengths),
    views_per_session: roundTo(table.pageViews / sessions, 2),
    bounce_rate: roundTo(table.singleViewSessions / sessions, 4)
  }
}

export function siteStats (table: SessionTable): SiteStats {
  const lengths = table.sessionLengths
  return {
    ...siteRow(table),
    mean_session_length: roundTo(table.totalSessionLength / lengths.length, 1),
    p90_session_length: percentileOfSorted(lengths, 90),
    max_session_length: lengths[lengths.length - 1]
  }
}

/**
 * Session-length buckets as web-analytics tools draw them, in seconds: zero (a single view, or views in the
 * same second), then (0, 10], (10, 30], … (1800, 3600] and over an hour.
 */
export const SESSION_LENGTH_BOUNDS = [0, 10, 30, 60, 180, 600, 1800, 3600]

export interface HistogramBucket {
  /** The bucket holds lengths above `from` (or exactly 0, for the first) up to `to`; `to` is null for the last. */
  from: number
  to: number | null
  sessions: number
}

export interface SiteHistogram {
  site_url: string
  num_sessions: number
  buckets: HistogramBucket[]
}

/** How many of the ascending values are at most `bound`. */
function countAtMost (sorted: Float64Array, bound: number): number {
  let low = 0
  let high = sorted.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (sorted[middle] <= bound) low = middle + 1
    else high = middle
  }
  return low
}

/** The distribution of a site's session lengths over SESSION_LENGTH_BOUNDS, by binary search in the sorted lengths. */
export function siteHistogram (table: SessionTable): SiteHistogram {
  const lengths = table.sessionLengths
  const atMost = SESSION_LENGTH_BOUNDS.map(bound => countAtMost(lengths, bound))
  const buckets: HistogramBucket[] = SESSION_LENGTH_BOUNDS.map((to, i) =>
    ({ from: i === 0 ? 0 : SESSION_LENGTH_BOUNDS[i - 1], to, sessions: atMost[i] - (i === 0 ? 0 : atMost[i - 1]) }))
  buckets.push({ from: SESSION_LENGTH_BOUNDS.at(-1)!, to: null, sessions: lengths.length - atMost.at(-1)! })
  return { site_url: table.siteUrl, num_sessions: lengths.length, buckets }
}
