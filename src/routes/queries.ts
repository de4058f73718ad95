// The session queries: the three historical questions and a site's full statistics.
import type { FastifyPluginAsync } from 'fastify'
import { medianSessionLength, numSessions, siteHistogram, siteStats } from '../domain/queries.js'
import type { SessionSummary } from '../domain/sessions.js'
import type { SessionService } from '../plugins/sessions.js'
import { sendAnswer } from './negotiation.js'
import { rangeQueryProperties, timeRangeOf, type RangeQuery } from './range-query.js'
import { described, errorResponses, integer, jsonObject, number, numberOrNull, string, textOrJson } from './schemas.js'

interface SiteQuery extends RangeQuery { site_url: string }
interface PagesQuery extends SiteQuery { limit: number }
interface VisitorQuery { visitor_id: string }

const siteQuery = {
  type: 'object',
  required: ['site_url'],
  properties: { site_url: { type: 'string', minLength: 1, description: 'The site, as its URL appears in the data.' }, ...rangeQueryProperties }
} as const

const QUERY_ERRORS = errorResponses(400, 404, 500, 503)

const numSessionsSchema = {
  summary: 'The number of sessions of a site',
  tags: ['sessions'],
  querystring: siteQuery,
  response: {
    200: textOrJson('How many sessions the site has (that began in the range, if one is given).', 'Num sessions for site www.s_1.com = 3242',
      jsonObject({ site_url: string(), num_sessions: integer() })),
    ...QUERY_ERRORS
  }
} as const

const medianSchema = {
  summary: 'The median session length of a site',
  description: 'In seconds: with an even number of sessions, the mean of the two middle lengths. Text prints one ' +
    'decimal; a range without sessions has no median (n/a, or null in JSON).',
  tags: ['sessions'],
  querystring: siteQuery,
  response: {
    200: textOrJson('The median session length in seconds.', 'Median session length for site www.s_1.com = 532.0',
      jsonObject({ site_url: string(), median_session_length: numberOrNull('Seconds; null without sessions.') })),
    ...QUERY_ERRORS
  }
} as const

const visitorSchema = {
  summary: 'The number of distinct sites a visitor has viewed',
  description: 'Over the whole data (it takes no date range).',
  tags: ['visitors'],
  querystring: {
    type: 'object',
    required: ['visitor_id'],
    properties: { visitor_id: { type: 'string', minLength: 1, description: 'The visitor, as its id appears in the data.' } }
  },
  response: {
    200: textOrJson('How many distinct sites the visitor has viewed.', 'Num of unique sites for visitor_1 = 2',
      jsonObject({ visitor_id: string(), num_unique_visited_sites: integer() })),
    ...QUERY_ERRORS
  }
} as const

const siteStatsSchema = {
  summary: 'A site\'s figures',
  tags: ['sessions'],
  querystring: siteQuery,
  response: {
    200: described('The site\'s figures; in a range without sessions, the counts are 0 and the rest null.', jsonObject({
      site_url: string(),
      page_views: integer('Page views of the sessions counted.'),
      visitors: integer('Distinct visitors of the sessions counted.'),
      num_sessions: integer(),
      median_session_length: numberOrNull('Seconds.'),
      mean_session_length: numberOrNull('Seconds, to one decimal.'),
      p90_session_length: numberOrNull('Seconds, interpolated between the closest ranks.'),
      max_session_length: numberOrNull('Seconds.'),
      views_per_session: numberOrNull('Page views per session, to two decimals.'),
      bounce_rate: numberOrNull('The share of sessions of a single page view, 0 to 1, to four decimals.')
    })),
    ...QUERY_ERRORS
  }
} as const

const histogramSchema = {
  summary: 'How long a site\'s sessions last',
  description: 'Sessions of length 0, then in (from, to] seconds for to = 10, 30, 60, 180, 600, 1800 and 3600, then over an hour.',
  tags: ['sessions'],
  querystring: siteQuery,
  response: {
    200: described('The distribution of the site\'s session lengths.', jsonObject({
      site_url: string(),
      num_sessions: integer(),
      buckets: {
        type: 'array',
        items: jsonObject({
          from: number('Lengths above this many seconds (the first bucket: exactly 0)…'),
          to: { type: ['number', 'null'], description: '…up to this many; null for the last bucket.' },
          sessions: integer()
        })
      }
    })),
    ...QUERY_ERRORS
  }
} as const

const timelineSchema = {
  summary: 'A site\'s sessions per day',
  description: 'Sessions (and their page views) by the UTC day of their first view, every day from the first ' +
    'session\'s to the last\'s, days without sessions too. Past 366 days, buckets of 7 days, or of as many days as ' +
    'keep it to 366.',
  tags: ['sessions'],
  querystring: siteQuery,
  response: {
    200: described('Sessions per day (or per bucket_days days).', jsonObject({
      site_url: string(),
      bucket_days: integer('How many days each bucket spans.'),
      buckets: {
        type: 'array',
        items: jsonObject({
          start: integer('The bucket\'s first second: 00:00 UTC of its first day, in epoch seconds.'),
          date: string('That day, as YYYY-MM-DD.'),
          sessions: integer('Sessions that began in the bucket.'),
          page_views: integer('The page views of those sessions.')
        })
      }
    })),
    ...QUERY_ERRORS
  }
} as const

/** The most pages one answer lists of each kind. */
export const MAX_PAGES = 100

const pagesSchema = {
  summary: 'A site\'s top pages and entry pages',
  description: 'The most viewed pages, and the pages sessions began on (of views in the same second that begin a ' +
    'session, the one whose URL sorts first), in the sessions counted. Ties are in the order of the URLs.',
  tags: ['sessions'],
  querystring: {
    ...siteQuery,
    properties: {
      ...siteQuery.properties,
      limit: { type: 'integer', minimum: 1, maximum: MAX_PAGES, default: 10, description: 'How many pages to list of each kind.' }
    }
  },
  response: {
    200: described('The site\'s pages.', jsonObject({
      site_url: string(),
      num_sessions: integer(),
      page_views: integer(),
      distinct_pages: integer('Distinct pages viewed in the sessions counted.'),
      top_pages: { type: 'array', items: jsonObject({ page_view_url: string(), page_views: integer() }) },
      entry_pages: { type: 'array', items: jsonObject({ page_view_url: string(), sessions: integer('Sessions that began on this page.') }) }
    })),
    ...QUERY_ERRORS
  }
} as const

/**
 * Text answers print lengths with at least one decimal, as the original service did: 1353.0, 1341.5; a range
 * without sessions has no median.
 */
export function formatLength (seconds: number | null): string {
  if (seconds === null) return 'n/a'
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds)
}

/**
 * Calls `answer` with what a site's figures in the query's range come from: at once when that is a cached table
 * (a cached query's hot path: no promise, no async handler), or once it is computed. Handlers return what this returns, which is nothing when
 * the answer was sent at once: Fastify would take a returned reply for a second answer.
 */
function withSessionSummary (
  sessions: SessionService, query: SiteQuery, answer: (summary: SessionSummary) => void
): Promise<void> | undefined {
  const summary = sessions.sessionSummary(query.site_url, timeRangeOf(query))
  if (summary instanceof Promise) return summary.then(answer)
  answer(summary)
}

const queryRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get<{ Querystring: SiteQuery }>('/num_sessions', { schema: numSessionsSchema }, (request, reply) => {
    const site = request.query.site_url
    return withSessionSummary(fastify.sessions, request.query, summary => {
      const count = numSessions(summary)
      sendAnswer(request, reply, `Num sessions for site ${site} = ${count}`, { site_url: site, num_sessions: count })
    })
  })

  fastify.get<{ Querystring: SiteQuery }>('/median_session_length', { schema: medianSchema }, (request, reply) => {
    const site = request.query.site_url
    return withSessionSummary(fastify.sessions, request.query, summary => {
      const median = medianSessionLength(summary)
      sendAnswer(request, reply, `Median session length for site ${site} = ${formatLength(median)}`,
        { site_url: site, median_session_length: median })
    })
  })

  fastify.get<{ Querystring: VisitorQuery }>('/num_unique_visited_sites', { schema: visitorSchema }, (request, reply) => {
    const visitor = request.query.visitor_id
    const answer = (count: number): void => {
      sendAnswer(request, reply, `Num of unique sites for ${visitor} = ${count}`, { visitor_id: visitor, num_unique_visited_sites: count })
    }
    // The memory backend answers at once: no promise on its path.
    const count = fastify.sessions.visitedSites(visitor)
    if (typeof count === 'number') return answer(count)
    return count.then(answer)
  })

  fastify.get<{ Querystring: SiteQuery }>('/site_stats', { schema: siteStatsSchema }, (request, reply) =>
    withSessionSummary(fastify.sessions, request.query, summary => { reply.send(siteStats(summary)) }))

  fastify.get<{ Querystring: SiteQuery }>('/site_histogram', { schema: histogramSchema }, (request, reply) =>
    withSessionSummary(fastify.sessions, request.query, summary => { reply.send(siteHistogram(summary)) }))

  fastify.get<{ Querystring: SiteQuery }>('/site_timeline', { schema: timelineSchema }, async request =>
    fastify.sessions.siteTimeline(request.query.site_url, timeRangeOf(request.query)))

  fastify.get<{ Querystring: PagesQuery }>('/site_pages', { schema: pagesSchema }, async request =>
    fastify.sessions.sitePages(request.query.site_url, timeRangeOf(request.query), request.query.limit))
}

export default queryRoutes
