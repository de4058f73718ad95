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
