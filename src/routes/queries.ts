// The session queries: the three historical questions and a site's full statistics.
import type { FastifyPluginAsync } from 'fastify'
import { medianSessionLength, numSessions, numUniqueVisitedSites, siteHistogram, siteStats, siteTimeline } from '../domain/queries.js'
import type { SessionSummary } from '../domain/sessions.js'
import type { SessionService } from '../plugins/sessions.js'
import { sendAnswer } from './negotiation.js'
import { rangeQueryProperties, timeRangeOf, type RangeQuery } from './range-query.js'

interface SiteQuery extends RangeQuery { site_url: string }
interface VisitorQuery { visitor_id: string }

const siteSchema = {
  querystring: {
    type: 'object',
    required: ['site_url'],
    properties: { site_url: { type: 'string', minLength: 1 }, ...rangeQueryProperties }
  }
} as const

const visitorSchema = {
  querystring: {
    type: 'object',
    required: ['visitor_id'],
    properties: { visitor_id: { type: 'string', minLength: 1 } }
  }
} as const

const histogramSchema = {
  ...siteSchema,
  response: {
    200: {
      type: 'object',
      required: ['site_url', 'num_sessions', 'buckets'],
      properties: {
        site_url: { type: 'string' },
        num_sessions: { type: 'integer' },
        buckets: {
          type: 'array',
          items: {
            type: 'object',
            required: ['from', 'to', 'sessions'],
            properties: { from: { type: 'number' }, to: { type: ['number', 'null'] }, sessions: { type: 'integer' } }
          }
        }
      }
    }
  }
} as const

const timelineSchema = {
  ...siteSchema,
  response: {
    200: {
      type: 'object',
      required: ['site_url', 'bucket_days', 'buckets'],
      properties: {
        site_url: { type: 'string' },
        bucket_days: { type: 'integer' },
        buckets: {
          type: 'array',
          items: {
            type: 'object',
            required: ['start', 'date', 'sessions', 'page_views'],
            properties: { start: { type: 'integer' }, date: { type: 'string' }, sessions: { type: 'integer' }, page_views: { type: 'integer' } }
          }
        }
      }
    }
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
 * Calls `answer` with a site's session table: at once when the table is cached (a cached query's hot path: no
 * promise, no async handler), or once it is computed. Handlers return what this returns, which is nothing when
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
  fastify.get<{ Querystring: SiteQuery }>('/num_sessions', { schema: siteSchema }, (request, reply) => {
    const site = request.query.site_url
    return withSessionSummary(fastify.sessions, request.query, summary => {
      const count = numSessions(summary)
      sendAnswer(request, reply, `Num sessions for site ${site} = ${count}`, { site_url: site, num_sessions: count })
    })
  })

  fastify.get<{ Querystring: SiteQuery }>('/median_session_length', { schema: siteSchema }, (request, reply) => {
    const site = request.query.site_url
    return withSessionSummary(fastify.sessions, request.query, summary => {
      const median = medianSessionLength(summary)
      sendAnswer(request, reply, `Median session length for site ${site} = ${formatLength(median)}`,
        { site_url: site, median_session_length: median })
    })
  })

  fastify.get<{ Querystring: VisitorQuery }>('/num_unique_visited_sites', { schema: visitorSchema }, (request, reply) => {
    const visitor = request.query.visitor_id
    const count = numUniqueVisitedSites(fastify.sessions.store(), fastify.sessions.visitorId(visitor))
    sendAnswer(request, reply, `Num of unique sites for ${visitor} = ${count}`, { visitor_id: visitor, num_unique_visited_sites: count })
  })

  fastify.get<{ Querystring: SiteQuery }>('/site_stats', { schema: siteSchema }, (request, reply) =>
    withSessionSummary(fastify.sessions, request.query, summary => { reply.send(siteStats(summary)) }))

  fastify.get<{ Querystring: SiteQuery }>('/site_histogram', { schema: histogramSchema }, (request, reply) =>
    withSessionSummary(fastify.sessions, request.query, summary => { reply.send(siteHistogram(summary)) }))

  fastify.get<{ Querystring: SiteQuery }>('/site_timeline', { schema: timelineSchema }, async request => {
    const range = timeRangeOf(request.query)
    return siteTimeline(await fastify.sessions.sessionTable(request.query.site_url), fastify.sessions.store(), range)
  })
}

export default queryRoutes
