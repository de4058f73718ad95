// The root plugin: static landing page, the sessions plugin, the routes, and one error and 404 handler.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import accepts from '@fastify/accepts'
import fastifyStatic from '@fastify/static'
import helmet from 'helmet'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import sessions, { type SessionsOptions } from './plugins/sessions.js'
import metrics from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import queryRoutes from './routes/queries.js'
import datasetRoutes from './routes/dataset.js'
import { sendAnswer } from './routes/negotiation.js'
import { PROJECT_ROOT } from './project-root.js'
import { lazySchemaController } from './schema-compilers.js'

export type AppOptions = SessionsOptions

function sendError (request: FastifyRequest, reply: FastifyReply, statusCode: number, message: string): FastifyReply {
  return sendAnswer(request, reply.code(statusCode), message, { statusCode, message })
}

/**
 * Answers errors Fastify meets before any route or hook (a malformed URL such as `/%`) as every other error
 * is answered: text, unless the client asks for JSON. Such a request never reached the plugins, so it has
 * no accepts() decorator: the header decides alone.
 */
function answerFrameworkError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Fastify's framework errors (FST_ERR_BAD_URL, FST_ERR_ASYNC_CONSTRAINT) always carry their status code.
  /* c8 ignore next */
  const statusCode = error.statusCode ?? 400
  if (request.headers.accept?.toLowerCase().includes('application/json')) void reply.code(statusCode).send({ statusCode, message: error.message })
  else void reply.code(statusCode).type('text/plain; charset=utf-8').send(error.message)
}

/**
 * A client must send its whole request within this (Fastify's default is no limit): slow clients that hold
 * connections open (slowloris) are let go. Every answer here is a GET that needs no upload.
 */
const REQUEST_TIMEOUT_MS = 30_000

/** What Node's parser met, by its error code, as a status and a message; anything else is a malformed request. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, `Request not received within ${REQUEST_TIMEOUT_MS / 1000} s`]
}

/**
 * Answers a request that never became one (431: headers too large; 408: too slow; 400: not HTTP) as text:
 * with no header read, the client cannot have asked for JSON. Fastify's own answer here would be JSON.
 */
function answerClientError (error: NodeJS.ErrnoException, socket: Socket): void {
  const [statusCode, message] = CLIENT_ERRORS[String(error.code)] ?? [400, 'Malformed request']
  // A connection reset before the answer (ECONNRESET) cannot be timed from a test.
  /* c8 ignore next */
  if (!socket.writable) return
  socket.end(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(message)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${message}`)
}

/** Server options the app needs, shared by the server and the tests. */
export const serverOptions = {
  frameworkErrors: answerFrameworkError,
  clientErrorHandler: answerClientError,
  requestTimeout: REQUEST_TIMEOUT_MS,
  // Checking each route's schema against JSON Schema's meta-schema means compiling that meta-schema first: a
  // tenth of a second of every start, for schemas fixed in this code. Ajv's strict mode still refuses unknown
  // keywords and bad types when it compiles them, and the tests compile every route.
  ajv: { customOptions: { validateSchema: false } },
  schemaController: lazySchemaController
} as const

/** Only the page's own files: no inline script or style, no frames, no other origin. */
const CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'none'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"]
  }
}

/**
 * The security headers helmet sets for documents (the CSP above, no referrer, frames denied, …), for the
 * page's own files. None depends on the request, so they are worked out once, here; @fastify/helmet works them
 * out for every request, which cost cached queries some 40 % of their throughput.
 */
function documentSecurityHeaders (): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: string) => { headers[name] = value },
    removeHeader: () => {}
  } as unknown as ServerResponse
  helmet({ contentSecurityPolicy: CONTENT_SECURITY_POLICY, frameguard: { action: 'deny' } })({} as IncomingMessage, response, () => {})
  return headers
}

const app: FastifyPluginAsync<AppOptions> = async (fastify, options) => {
  // Answers are text or JSON, which no browser may sniff into a document; the rest of helmet's headers
  // (a dozen, some 12 µs a request) only mean something on a document, so only the page's files carry them.
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.header('x-content-type-options', 'nosniff')
    done()
  })
  const documentHeaders = documentSecurityHeaders()
  await fastify.register(accepts)
  // First of the plugins that do work: loading starts here, and goes on in workers while the rest registers.
  await fastify.register(sessions, options)
  // Before any route, so that the API's documentation covers every route.
  await fastify.register(openapi)
  // Before any route, so that every route is counted.
  await fastify.register(metrics)
  await fastify.register(fastifyStatic, { root: join(PROJECT_ROOT, 'public'), setHeaders: reply => { reply.headers(documentHeaders) } })

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    const statusCode = error.statusCode !== undefined && error.statusCode >= 400 ? error.statusCode : 500
    if (statusCode === 503) reply.header('retry-after', '1')
    // A 503 is expected while loading; other 5xx are faults whose details belong in the log, not the reply.
    if (statusCode < 500 || statusCode === 503) return sendError(request, reply, statusCode, error.message)
    request.log.error({ err: error, reqId: request.id, url: request.url }, 'request failed')
    return sendError(request, reply, statusCode, 'Internal Server Error')
  })

  fastify.setNotFoundHandler((request, reply) => {
    sendError(request, reply, 404, `Not found: ${request.method} ${request.url.split('?')[0]}`)
    fastify.metrics.observeUnmatched(request, reply)
  })

  // Registered after the handlers above, so that the routes' contexts inherit them.
  await fastify.register(queryRoutes)
  await fastify.register(datasetRoutes)
}

export default fp(app, { name: 'sessionizer', fastify: '5.x' })
