// The session queries: the three historical questions and a site's full statistics.
import type { FastifyPluginAsync } from 'fastify'
import { medianSessionLength, numSessions, numUniqueVisitedSites, siteHistogram, siteStats } from '../domain/queries.js'
import type { SessionTable } from '../domain/sessions.js'
import type { SessionService } from '../plugins/sessions.js'
import { sendAnswer } from './negotiation.js'

interface SiteQuery { site_url: string }
interface VisitorQuery { visitor_id: string }

function requiredStringQuery (name: string) {
  return {
    querystring: {
      type: 'object',
      required: [name],
      properties: { [name]: { type: 'string', minLength: 1 } }
    }
  } as const
}

const siteSchema = requiredStringQuery('site_url')
const visitorSchema = requiredStringQuery('visitor_id')

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

/** Text answers print lengths with at least one decimal, as the original service did: 1353.0, 1341.5. */
export function formatLength (seconds: number): string {
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds)
}

/**
 * Calls `answer` with a site's session table: at once when the table is cached (a cached query's hot path: no
 * promise, no async handler), or once it is computed. Handlers return what this returns, which is nothing when
 * the answer was sent at once: Fastify would take a returned reply for a second answer.
 */
function withSessionTable (sessions: SessionService, site: string, answer: (table: SessionTable) => void): Promise<void> | undefined {
  const table = sessions.sessionTable(site)
  if (table instanceof Promise) return table.then(answer)
  answer(table)
}

const queryRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get<{ Querystring: SiteQuery }>('/num_sessions', { schema: siteSchema }, (request, reply) => {
    const site = request.query.site_url
    return withSessionTable(fastify.sessions, site, table => {
      const count = numSessions(table)
      sendAnswer(request, reply, `Num sessions for site ${site} = ${count}`, { site_url: site, num_sessions: count })
    })
  })

  fastify.get<{ Querystring: SiteQuery }>('/median_session_length', { schema: siteSchema }, (request, reply) => {
    const site = request.query.site_url
    return withSessionTable(fastify.sessions, site, table => {
      const median = medianSessionLength(table)
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
    withSessionTable(fastify.sessions, request.query.site_url, table => { reply.send(siteStats(table)) }))

  fastify.get<{ Querystring: SiteQuery }>('/site_histogram', { schema: histogramSchema }, (request, reply) =>
    withSessionTable(fastify.sessions, request.query.site_url, table => { reply.send(siteHistogram(table)) }))
}

export default queryRoutes
