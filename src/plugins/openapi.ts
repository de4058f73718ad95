// The API's documentation: an OpenAPI 3 document built from the routes' own schemas, at /openapi.json, and
// Swagger UI at /docs, served from the package itself (no CDN). Registered before any route, so that it sees them all.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'

const DESCRIPTION = `Sessions of every visitor on every site, from page-view logs. A session is a visitor's run of page
views on one site in time order, no two successive views more than the session timeout apart (1800 s by default;
a gap of exactly the timeout stays in the session). Its length is its last view's time minus its first's.

The three original questions answer **plain text** by default — the original service's strings — and **JSON**
when the request says \`Accept: application/json\`; errors likewise. Every other route answers JSON. The site
statistics take an optional date range, \`from\` and \`to\`: only sessions whose first view is in [from, to) count.`

const openapiPlugin: FastifyPluginAsync = async (fastify) => {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Sessionizer', version: '1.0.0', description: DESCRIPTION },
      tags: [
        { name: 'sessions', description: 'Questions about a site\'s sessions' },
        { name: 'visitors', description: 'Questions about a visitor' },
        { name: 'sites', description: 'Every site at once' },
        { name: 'operations', description: 'For operators and probes' }
      ]
    }
  })
  await fastify.register(swaggerUi, {
    routePrefix: '/docs',
    // Nothing leaves this server: no validator badge fetched from swagger.io.
    uiConfig: { validatorUrl: null, docExpansion: 'list', defaultModelsExpandDepth: 0 },
    // Swagger UI's own policy, less what would reach past this server or force HTTPS on a plain-HTTP service.
    // Its React code sets inline styles (never scripts), so styles may be inline on these pages alone.
    staticCSP: true,
    transformStaticCSP: header => header.replace(' validator.swagger.io', '').replaceAll(' https:', '')
      .replace(' upgrade-insecure-requests;', '').replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
  })
  fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
}

export default fp(openapiPlugin, { name: 'openapi', fastify: '5.x' })
