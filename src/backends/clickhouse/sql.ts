// The SQL the ClickHouse backend sends: string literals escaped, and sessions worked out with arrays, which
// ClickHouse 18.16 (no window functions, no query parameters) and current versions both run alike.
import type { TimeRange } from '../../domain/time-range.js'

const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' }

/**
 * A ClickHouse string literal of any text: with no query parameters in 18.16, every id reaches ClickHouse
 * inside quotes, with the backslash, the quote and the control characters the lexer reads escaped.
 */
export function quote (value: string): string {
  return `'${value.replace(/[\\'\n\r\t\0]/g, char => ESCAPES[char])}'`
}

/** Text as ClickHouse's TabSeparated format reads a field of it. */
export function tabSeparatedField (value: string): string {
  return /[\\\n\r\t\0]/.test(value) ? value.replace(/[\\\n\r\t\0]/g, char => ESCAPES[char]) : value
}

/** The views' filter on their sites: every site, or those listed. */
export function siteFilter (siteUrls?: readonly string[]): string {
  return siteUrls === undefined ? '' : `WHERE site_url IN (${siteUrls.map(quote).join(', ')})`
}

/** Sessions whose first view is in the range; `start` is a session's first view. */
function rangeFilter (range: TimeRange): string {
  const bounds = []
  if (range.from !== -Infinity) bounds.push(`start >= ${Math.max(0, Math.ceil(range.from))}`)
  if (range.to !== Infinity) bounds.push(`start < ${Math.max(0, Math.ceil(range.to))}`)
  return bounds.length === 0 ? '' : `WHERE ${bounds.join(' AND ')}`
}

/**
 * One row per visitor and site, sessionized: its views' times, ascending, and per session its first view's index,
 * time, length and views. `perView` adds each view's URL and session start, sorting views by time then URL: of
 * views in a session's first second, the entry page is the URL that sorts first. The views of one visitor are
 * on one shard, so each shard sessionizes its own (distributed_group_by_no_merge).
 */
function visitorSessions (source: string, where: string, timeoutSeconds: number, perView = false): string {
  return `
    SELECT site_url, visitor_id,${perView ? `
      arraySort(groupArray((timestamp, page_view_url))) AS sorted_views,
      arrayMap(view -> view.1, sorted_views) AS times,` : `
      arraySort(groupArray(timestamp)) AS times,`}
      arrayMap((i, gap) -> i = 1 OR gap > ${timeoutSeconds}, arrayEnumerate(times), arrayDifference(times)) AS opens,
      arrayFilter((i, open) -> open = 1, arrayEnumerate(times), opens) AS firsts,
      arrayMap(k -> (k = length(firsts) ? length(times) + 1 : firsts[k + 1]) - firsts[k], arrayEnumerate(firsts)) AS session_views,
      arrayMap((first, count) -> times[first + count - 1] - times[first], firsts, session_views) AS lengths,
      arrayMap(first -> times[first], firsts) AS starts${perView ? `,
      arrayMap(view -> view.2, sorted_views) AS pages,
      arrayMap(k -> starts[k], arrayCumSum(opens)) AS view_starts` : ''}
    FROM ${source} ${where}
    GROUP BY site_url, visitor_id`
}

/** Settings every query that sessionizes runs with. */
export const SESSION_QUERY_SETTINGS = { distributed_group_by_no_merge: '1' }

/**
 * Per site: visitors, page views, one-view sessions and the histogram of session lengths (lengths and their
 * counts, ascending), for the sessions that began in the range.
 */
export function siteSummariesQuery (source: string, siteUrls: readonly string[] | undefined, timeoutSeconds: number, range: TimeRange): string {
  return `
    SELECT site_url, uniqExact(visitor_id) AS visitors, sum(views) AS page_views, countIf(views = 1) AS single_view_sessions,
      sumMap([length], [toUInt64(1)]) AS histogram
    FROM (${visitorSessions(source, siteFilter(siteUrls), timeoutSeconds)})
    ARRAY JOIN lengths AS length, session_views AS views, starts AS start
    ${rangeFilter(range)}
    GROUP BY site_url`
}

/** A site's sessions and their page views per day (UTC) of their first view. */
export function siteDaysQuery (source: string, siteUrl: string, timeoutSeconds: number, range: TimeRange): string {
  return `
    SELECT intDiv(start, 86400) AS day, count() AS sessions, sum(views) AS page_views
    FROM (${visitorSessions(source, siteFilter([siteUrl]), timeoutSeconds)})
    ARRAY JOIN session_views AS views, starts AS start
    ${rangeFilter(range)}
    GROUP BY day
    ORDER BY day`
}

/**
 * A site's pages in the sessions that began in the range: sessions, views and distinct pages, and the `limit`
 * most viewed pages and entry pages, most first, ties by URL.
 */
export function sitePagesQuery (source: string, siteUrl: string, timeoutSeconds: number, range: TimeRange, limit: number): string {
  return `
    SELECT sum(entries) AS sessions, sum(views) AS page_views, count() AS distinct_pages,
      arraySlice(arraySort(page -> (-page.2, page.1), groupArray((page_view_url, views))), 1, ${limit}) AS top_pages,
      arraySlice(arraySort(page -> (-page.2, page.1), arrayFilter(page -> page.2 > 0, groupArray((page_view_url, entries)))), 1, ${limit}) AS entry_pages
    FROM (
      SELECT page_view_url, count() AS views, sum(open) AS entries
      FROM (${visitorSessions(source, siteFilter([siteUrl]), timeoutSeconds, true)})
      ARRAY JOIN pages AS page_view_url, opens AS open, view_starts AS start
      ${rangeFilter(range)}
      GROUP BY page_view_url
    )`
}
