// The root plugin: static landing page, the sessions plugin, the routes, and one error and 404 handler.
import { join } from 'node:path'
import fp from 'fastify-plugin'
import accepts from '@fastify/accepts'
import fastifyStatic from '@fastify/static'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import sessions, { type SessionsOptions } from './plugins/sessions.js'
import queryRoutes from './routes/queries.js'
import datasetRoutes from './routes/dataset.js'
import { sendAnswer } from './routes/negotiation.js'
import { PROJECT_ROOT } from './project-root.js'

export type AppOptions = SessionsOptions

function sendError (request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string): FastifyReply {
  return sendAnswer(request, reply.code(statusCode), message, { statusCode, message })
}

const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  await fastify.register(accepts)
  await fastify.register(fastifyStatic, { root: join(PROJECT_ROOT, 'public') })
  await fastify.register(sessions, options)

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode === 503) reply.header('retry-after', '1')
    // A 503 is expected while loading; other 5xx are faults whose details belong in the log, not the reply.
    if (statusCode < 500 || statusCode === 503) return sendError(request, reply, statusCode, error.message)
    request.log.error({ err: error, reqId: request.id, url: request.url }, 'request failed')
    return sendError(request, reply, statusCode, 'Internal Server Error')
  })

  fastify.setNotFoundHandler((request, reply) =>
    sendError(request, reply, 404, `Not found: ${request.method} ${request.url.split('?')[0]}`))

  // Registered after the handlers above, so that the routes' contexts inherit them.
  await fastify.register(queryRoutes)
  await fastify.register(datasetRoutes)
}

export default fp(app, { name: 'sessionizer', fastify: '5.x' })
