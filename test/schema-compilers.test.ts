import t from 'tap'
import Fastify from 'fastify'
import type { Ajv } from 'ajv'
import { serverOptions } from '../src/app.js'

/** A server with the app's options and one route: `n` defaults to 5, and the answer keeps only `n`. */
async function serverWith (querySchema: object) {
  const server = Fastify({ ...serverOptions, logger: false })
  server.get<{ Querystring: { n: number } }>('/route', {
    schema: {
      querystring: querySchema,
      response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } }
    }
  }, async request => ({ n: request.query.n, type: typeof request.query.n, internal: 'not for clients' }))
  await server.ready()
  return server
}

const QUERY = { type: 'object', properties: { n: { type: 'integer', minimum: 1, default: 5 } } }

t.test('a route validates, coerces, fills defaults and serializes through its schemas as Fastify\'s own compilers do', async t => {
  const server = await serverWith(QUERY)
  t.teardown(() => server.close())
  t.same((await server.inject('/route?n=7')).json(), { n: 7 }, 'coerced to a number, and only the schema\'s fields answered')
  t.same((await server.inject('/route')).json(), { n: 5 }, 'the default filled in')
  const bad = await server.inject('/route?n=0')
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, 'querystring/n must be >= 1', 'the error names the parameter')
  const notNumber = await server.inject('/route?n=seven')
  t.match(notNumber.json().message, 'querystring/n must be integer', 'each failed request has its own errors')
  t.equal((await server.inject('/route?n=2')).statusCode, 200, 'a good request after bad ones passes')
})

t.test('schemas are compiled on the route\'s first request, not before the server is ready', async t => {
  // Ajv's strict mode refuses an unknown keyword when it compiles the schema.
  const server = await serverWith({ ...QUERY, properties: { n: { type: 'integer', notAKeyword: true } } })
  t.teardown(() => server.close())
  const first = await server.inject('/route?n=1')
  t.equal(first.statusCode, 500, 'the server started; the route\'s first request meets the bad schema')
  t.match(first.json().message, 'notAKeyword')
})

t.test('Ajv itself is made on the first request that validates, not as the server starts', async t => {
  let made = 0
  // Ajv's plugins are applied as each Ajv is made. Ajv's compiler keeps one Ajv for each set of options for the
  // whole process: a default set explicitly (allErrors) makes this test's its own.
  const countMade = (ajv: Ajv) => { made++; return ajv }
  const ajv = { customOptions: { ...serverOptions.ajv.customOptions, allErrors: false }, plugins: [countMade] }
  const server = Fastify({ ...serverOptions, logger: false, ajv })
  server.get('/route', { schema: { querystring: QUERY } }, async request => request.query)
  server.get('/other', { schema: { querystring: QUERY } }, async request => request.query)
  await server.ready()
  t.teardown(() => server.close())
  t.equal(made, 0, 'no Ajv before a request')
  t.same((await server.inject('/route?n=3')).json(), { n: 3 })
  t.same((await server.inject('/other')).json(), { n: 5 })
  t.equal(made, 1, 'one Ajv, made on the first request, for every route')
})
