// The answers the routes give: one pure function per question, over a session table or the store.
import { setImmediate } from 'node:timers/promises'
import type { PageViewStore, SessionStore } from './page-view-store.js'
import { forEachSessionIn, medianOfSorted, percentileOfSorted, SLICE, type SessionSummary, type SessionTable } from './sessions.js'
import type { TimeRange } from './time-range.js'

/** A site's headline figures: its line in the sites table, which lists sites with sessions. */
export interface SiteRow {
  site_url: string
  page_views: number
  visitors: number
  num_sessions: number
  median_session_length: number
  views_per_session: number
  bounce_rate: number
}

type OrNull<T> = { [K in keyof T]: T[K] | null }

/**
 * The figures an analytics dashboard shows for one site. In a time range in which the site has no session,
 * the counts are 0 and the figures of sessions null.
 */
export interface SiteStats extends Pick<SiteRow, 'site_url' | 'page_views' | 'visitors' | 'num_sessions'>,
  OrNull<Omit<SiteRow, 'site_url' | 'page_views' | 'visitors' | 'num_sessions'>> {
  mean_session_length: number | null
  p90_session_length: number | null
  max_session_length: number | null
}

export function numSessions (summary: SessionSummary): number {
  return summary.sessionLengths.length
}

/** The median session length; null when there is no session (in a time range). */
export function medianSessionLength (summary: SessionSummary): number | null {
  return summary.sessionLengths.length === 0 ? null : medianOfSorted(summary.sessionLengths)
}

export function numUniqueVisitedSites (store: SessionStore, visitorId: number): number {
  return store.visitorSiteCount[visitorId]
}

function roundTo (value: number, decimals: number): number {
  const scale = 10 ** decimals
  return Math.round(value * scale) / scale
}

/** The figures of a summary with at least one session. */
export function siteRow (summary: SessionSummary): SiteRow {
  const sessions = summary.sessionLengths.length
  return {
    site_url: summary.siteUrl,
    page_views: summary.pageViews,
    visitors: summary.visitors,
    num_sessions: sessions,
    median_session_length: medianOfSorted(summary.sessionLengths),
    views_per_session: roundTo(summary.pageViews / sessions, 2),
    bounce_rate: roundTo(summary.singleViewSessions / sessions, 4)
  }
}

export function siteStats (summary: SessionSummary): SiteStats {
  const lengths = summary.sessionLengths
  if (lengths.length === 0) {
    return {
      site_url: summary.siteUrl,
      page_views: 0,
      visitors: 0,
      num_sessions: 0,
      median_session_length: null,
      views_per_session: null,
      bounce_rate: null,
      mean_session_length: null,
      p90_session_length: null,
      max_session_length: null
    }
  }
  return {
    ...siteRow(summary),
    mean_session_length: roundTo(summary.totalSessionLength / lengths.length, 1),
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
export function siteHistogram (summary: SessionSummary): SiteHistogram {
  const lengths = summary.sessionLengths
  const atMost = SESSION_LENGTH_BOUNDS.map(bound => countAtMost(lengths, bound))
  const buckets: HistogramBucket[] = SESSION_LENGTH_BOUNDS.map((to, i) =>
    ({ from: i === 0 ? 0 : SESSION_LENGTH_BOUNDS[i - 1], to, sessions: atMost[i] - (i === 0 ? 0 : atMost[i - 1]) }))
  buckets.push({ from: SESSION_LENGTH_BOUNDS.at(-1)!, to: null, sessions: lengths.length - atMost.at(-1)! })
  return { site_url: summary.siteUrl, num_sessions: lengths.length, buckets }
}

const SECONDS_PER_DAY = 86_400
/** A timeline has at most this many bars: a day each for a year of data, wider ones beyond that. */
export const MAX_TIMELINE_BUCKETS = 366

export interface TimelineBucket {
  /** The bucket's first second (00:00 UTC of its first day), and that day as YYYY-MM-DD. */
  start: number
  date: string
  sessions: number
  /** The page views of the sessions that began in the bucket. */
  page_views: number
}

export interface SiteTimeline {
  site_url: string
  /** How many days each bucket spans: 1 (sessions per day), or more when the sessions span more than a year. */
  bucket_days: number
  /** From the day of the first session to that of the last, every bucket, those without sessions too. */
  buckets: TimelineBucket[]
}

/**
 * The proleptic Gregorian date of a day counted from 1970-01-01, by arithmetic alone (Howard Hinnant's
 * civil_from_days): JavaScript's Date stops at the year 275760, and timestamps may go up to 2^53 − 1 seconds.
 */
export function dateOfDay (day: number): string {
  const shifted = day + 719_468
  const era = Math.floor(shifted / 146_097)
  const dayOfEra = shifted - era * 146_097
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365)
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153)
  const dayOfMonth = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  const pad = (value: number) => String(value).padStart(2, '0')
  return `${String(year).padStart(4, '0')}-${pad(month)}-${pad(dayOfMonth)}`
}

/** Sessions that began on one day (counted from 1970-01-01, UTC), and their page views. */
export interface DayCount {
  day: number
  sessions: number
  pageViews: number
}

/**
 * A timeline from the days that have sessions, ascending: a bucket a day, from the first to the last, those
 * without sessions too. A span of more than MAX_TIMELINE_BUCKETS days is drawn in buckets of a week, or of as
 * many days as keep it to that many.
 */
export function timelineOfDays (siteUrl: string, days: readonly DayCount[]): SiteTimeline {
  if (days.length === 0) return { site_url: siteUrl, bucket_days: 1, buckets: [] }
  const firstDay = days[0].day
  const span = days[days.length - 1].day - firstDay + 1
  const bucketDays = span <= MAX_TIMELINE_BUCKETS ? 1 : span <= 7 * MAX_TIMELINE_BUCKETS ? 7 : Math.ceil(span / MAX_TIMELINE_BUCKETS)
  const buckets: TimelineBucket[] = Array.from({ length: Math.ceil(span / bucketDays) }, (_, i) => {
    const day = firstDay + i * bucketDays
    return { start: day * SECONDS_PER_DAY, date: dateOfDay(day), sessions: 0, page_views: 0 }
  })
  for (const { day, sessions, pageViews } of days) {
    const bucket = buckets[Math.floor((day - firstDay) / bucketDays)]
    bucket.sessions += sessions
    bucket.page_views += pageViews
  }
  return { site_url: siteUrl, bucket_days: bucketDays, buckets }
}

/**
 * Sessions and their page views per day (UTC) of their first view, for the sessions in `range`: counted from
 * the table's session rows, a slice at a time.
 */
export async function siteTimeline (table: SessionTable, store: SessionStore, range: TimeRange): Promise<SiteTimeline> {
  const { sessionRows } = table
  const byDay = new Map<number, DayCount>()
  await forEachSessionIn(table, store, range, (session, _first, _end, start) => {
    const day = Math.floor(start / SECONDS_PER_DAY)
    let count = byDay.get(day)
    if (count === undefined) {
      count = { day, sessions: 0, pageViews: 0 }
      byDay.set(day, count)
    }
    count.sessions++
    count.pageViews += sessionRows[session + 1] - sessionRows[session]
  })
  return timelineOfDays(table.siteUrl, [...byDay.values()].sort((a, b) => a.day - b.day))
}

export interface PageViewsCount {
  page_view_url: string
  page_views: number
}

export interface EntryPageCount {
  page_view_url: string
  sessions: number
}

export interface SitePages {
  site_url: string
  num_sessions: number
  page_views: number
  /** Distinct pages viewed in the sessions counted. */
  distinct_pages: number
  /** The most viewed pages, most first; ties in the order of their URLs. */
  top_pages: PageViewsCount[]
  /** The pages sessions began on, most sessions first; ties in the order of their URLs. */
  entry_pages: EntryPageCount[]
}

function increment (counts: Map<number, number>, key: number): void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
}

/** Inserts `url` into `smallest`, kept ascending and at most `size` long. */
function keepSmallest (smallest: string[], url: string, size: number): void {
  if (smallest.length === size && url >= smallest[size - 1]) return
  let at = smallest.length
  while (at > 0 && smallest[at - 1] > url) at--
  smallest.splice(at, 0, url)
  if (smallest.length > size) smallest.pop()
}

/**
 * The `limit` pages with the largest counts, largest first, ties by URL. A site may have a page per view (URLs
 * with query strings): so no sort of them all. The limit-th largest count is found from how many pages have
 * each count; pages above it are in; of those at it, the first URLs, kept in a list of at most `limit`. URLs are
 * decoded a slice at a time, yielding between slices.
 */
async function topCounts (counts: Map<number, number>, store: PageViewStore, limit: number): Promise<[url: string, count: number][]> {
  const pagesByCount = new Map<number, number>()
  for (const count of counts.values()) increment(pagesByCount, count)
  // Counts from the largest; `above` pages have a count above the threshold, which stops at the last count.
  const byCount = [...pagesByCount.keys()].sort((a, b) => b - a)
  let index = 0
  let above = 0
  while (index < byCount.length - 1 && above + pagesByCount.get(byCount[index])! < limit) above += pagesByCount.get(byCount[index++])!
  const threshold = byCount[index]
  const chosen: [string, number][] = []
  const tied: string[] = []
  let decoded = 0
  for (const [page, count] of counts) {
    if (count < threshold) continue
    if (++decoded % SLICE === 0) await setImmediate()
    const url = store.pages.keyOf(page)
    if (count > threshold) chosen.push([url, count])
    else keepSmallest(tied, url, limit - above)
  }
  // The URLs are a dictionary's keys, so no two are equal.
  chosen.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return [...chosen, ...tied.map((url): [string, number] => [url, threshold])]
}

/**
 * The page a session of rows [first, end) began on. Views in the same second keep no order (files overlap, and
 * may be read in any order), so of several in the session's first second, the one whose URL sorts first.
 */
function entryPage (store: PageViewStore, first: number, end: number): number {
  const { pageColumn, timestampColumn, pages } = store
  let entry = pageColumn[first]
  for (let row = first + 1; row < end && timestampColumn[row] === timestampColumn[first]; row++) {
    if (pages.keyOf(pageColumn[row]) < pages.keyOf(entry)) entry = pageColumn[row]
  }
  return entry
}

/**
 * A site's most viewed pages and its entry pages (the first page of each session), for the sessions in
 * `range`: read from the table's session rows and the store's page column, a slice of sessions at a time.
 */
export async function sitePages (table: SessionTable, store: PageViewStore, range: TimeRange, limit: number): Promise<SitePages> {
  const { pageColumn } = store
  const views = new Map<number, number>()
  const entries = new Map<number, number>()
  let sessionsCounted = 0
  let viewsCounted = 0
  await forEachSessionIn(table, store, range, (_session, first, end) => {
    sessionsCounted++
    viewsCounted += end - first
    increment(entries, entryPage(store, first, end))
    for (let row = first; row < end; row++) increment(views, pageColumn[row])
  })
  return {
    site_url: table.siteUrl,
    num_sessions: sessionsCounted,
    page_views: viewsCounted,
    distinct_pages: views.size,
    top_pages: (await topCounts(views, store, limit)).map(([url, count]) => ({ page_view_url: url, page_views: count })),
    entry_pages: (await topCounts(entries, store, limit)).map(([url, count]) => ({ page_view_url: url, sessions: count }))
  }
}
