// The answers the routes give: one pure function per question, over a session table or the store.
import { siteRowCount, type PageViewStore } from './page-view-store.js'
import { medianOfSorted, percentileOfSorted, type SessionTable } from './sessions.js'

export interface SiteListing {
  site_url: string
  page_views: number
}

export interface SiteStats {
  site_url: string
  page_views: number
  visitors: number
  num_sessions: number
  median_session_length: number
  mean_session_length: number
  p90_session_length: number
  max_session_length: number
  views_per_session: number
  bounce_rate: number
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

const byNaturalOrder = new Intl.Collator('en', { numeric: true }).compare

/** Every site with its page-view count, in natural order (www.s_2 before www.s_10). */
export function listSites (store: PageViewStore): SiteListing[] {
  return store.siteUrls
    .map((site_url, siteId) => ({ site_url, page_views: siteRowCount(store, siteId) }))
    .sort((a, b) => byNaturalOrder(a.site_url, b.site_url))
}

function roundTo (value: number, decimals: number): number {
  const scale = 10 ** decimals
  return Math.round(value * scale) / scale
}

/** The figures an analytics dashboard shows for one site. */
export function siteStats (table: SessionTable): SiteStats {
  const lengths = table.sessionLengths
  const sessions = lengths.length
  return {
    site_url: table.siteUrl,
    page_views: table.pageViews,
    visitors: table.visitors,
    num_sessions: sessions,
    median_session_length: medianOfSorted(lengths),
    mean_session_length: roundTo(table.totalSessionLength / sessions, 1),
    p90_session_length: percentileOfSorted(lengths, 90),
    max_session_length: lengths[sessions - 1],
    views_per_session: roundTo(table.pageViews / sessions, 2),
    bounce_rate: roundTo(table.singleViewSessions / sessions, 4)
  }
}
