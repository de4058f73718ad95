// What the dataset holds: its sites for the landing page, and its health for operators and probes.
import type { FastifyPluginAsync } from 'fastify'

const datasetRoutes: FastifyPluginAsync = async (fastify) => {
  // The list is the same for the whole life of the data: built and serialized once, not per request.
  fastify.get('/sites', async (_request, reply) => reply.type('application/json; charset=utf-8').send(fastify.sessions.sitesJson()))

  fastify.get('/health', async (_request, reply) => {
    const health = fastify.sessions.health()
    if (health.status === 'loading') reply.code(503).header('retry-after', '1')
    else if (health.status === 'failed') reply.code(500)
    return health
  })
}

export default datasetRoutes
