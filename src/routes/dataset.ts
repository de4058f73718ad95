// What the dataset holds: its sites for the landing page, and its health for operators and probes.
import type { FastifyPluginAsync } from 'fastify'
import { SITE_SORT_KEYS, type SitePageQuery } from '../domain/site-directory.js'
import { rangeQueryProperties, timeRangeOf, type RangeQuery } from './range-query.js'

/** The most sites one page may ask for: enough for any table, bounded for any client. */
export const MAX_SITES_PER_PAGE = 1000

const siteRowSchema = {
  type: 'object',
  required: ['site_url', 'page_views', 'visitors', 'num_sessions', 'median_session_length', 'views_per_session', 'bounce_rate'],
  properties: {
    site_url: { type: 'string' },
    page_views: { type: 'integer' },
    visitors: { type: 'integer' },
    num_sessions: { type: 'integer' },
    median_session_length: { type: 'number' },
    views_per_session: { type: 'number' },
    bounce_rate: { type: 'number' }
  }
} as const

const sitesSchema = {
  querystring: {
    type: 'object',
    properties: {
      offset: { type: 'integer', minimum: 0, default: 0 },
      limit: { type: 'integer', minimum: 1, maximum: MAX_SITES_PER_PAGE, default: 50 },
      sort: { type: 'string', enum: SITE_SORT_KEYS, default: 'site_url' },
      order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
      q: { type: 'string', maxLength: 256, default: '' },
      ...rangeQueryProperties
    }
  },
  response: {
    200: {
      type: 'object',
      required: ['total', 'sites'],
      properties: { total: { type: 'integer' }, sites: { type: 'array', items: siteRowSchema } }
    }
  }
} as const

const datasetRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get<{ Querystring: SitePageQuery & RangeQuery }>('/sites', { schema: sitesSchema }, async request =>
    (await fastify.sessions.siteDirectory(timeRangeOf(request.query))).page(request.query))

  fastify.get('/health', async (_request, reply) => {
    const health = fastify.sessions.health()
    if (health.status === 'loading') reply.code(503).header('retry-after', '1')
    else if (health.status === 'failed') reply.code(500)
    return health
  })
}

export default datasetRoutes
