// What the dataset holds: its sites for the landing page, and its health for operators and probes.
import type { FastifyPluginAsync } from 'fastify'
import { listSites } from '../domain/queries.js'

const datasetRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get('/sites', async () => listSites(fastify.sessions.store()))

  fastify.get('/health', async (_request, reply) => {
    const health = fastify.sessions.health()
    if (health.status === 'loading') reply.code(503).header('retry-after', '1')
    else if (health.status === 'failed') reply.code(500)
    return health
  })
}

export default datasetRoutes
