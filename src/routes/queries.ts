// The session queries: the three historical questions and a site's full statistics.
import type { FastifyPluginAsync } from 'fastify'
import { medianSessionLength, numSessions, numUniqueVisitedSites, siteStats } from '../domain/queries.js'
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

/** Text answers print lengths with at least one decimal, as the original service did: 1353.0, 1341.5. */
export function formatLength (seconds: number): string {
  return Number.isInteger(seconds) ? seconds.toFixed(1) : String(seconds)
}

const queryRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get<{ Querystring: SiteQuery }>('/num_sessions', { schema: siteSchema }, async (request, reply) => {
    const site = request.query.site_url
    const count = numSessions(await fastify.sessions.sessionTable(site))
    return sendAnswer(request, reply, `Num sessions for site ${site} = ${count}`, { site_url: site, num_sessions: count })
  })

  fastify.get<{ Querystring: SiteQuery }>('/median_session_length', { schema: siteSchema }, async (request, reply) => {
    const site = request.query.site_url
    const median = medianSessionLength(await fastify.sessions.sessionTable(site))
    return sendAnswer(request, reply, `Median session length for site ${site} = ${formatLength(median)}`,
      { site_url: site, median_session_length: median })
  })

  fastify.get<{ Querystring: VisitorQuery }>('/num_unique_visited_sites', { schema: visitorSchema }, async (request, reply) => {
    const visitor = request.query.visitor_id
    const count = numUniqueVisitedSites(fastify.sessions.store(), fastify.sessions.visitorId(visitor))
    return sendAnswer(request, reply, `Num of unique sites for ${visitor} = ${count}`,
      { visitor_id: visitor, num_unique_visited_sites: count })
  })

  fastify.get<{ Querystring: SiteQuery }>('/site_stats', { schema: siteSchema }, async (request) => {
    return siteStats(await fastify.sessions.sessionTable(request.query.site_url))
  })
}

export default queryRoutes
