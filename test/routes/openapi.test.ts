import t from 'tap'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../src/project-root.js'
import { siteStats } from '../../src/domain/queries.js'
import { buildLoaded, get } from '../helper.js'

interface Operation {
  summary: string
  parameters: { name: string, in: string, required: boolean, schema: object }[]
  responses: Record<string, { description: string, content: Record<string, { schema: { required?: string[] } }> }>
}

const DOCUMENTED = ['/num_sessions', '/median_session_length', '/num_unique_visited_sites', '/site_stats', '/site_histogram',
  '/site_timeline', '/site_pages', '/sites', '/health', '/metrics']

t.test('/openapi.json documents every route with its parameters, both answer forms and its errors', async t => {
  const server = await buildLoaded(t, { dataDir: join(PROJECT_ROOT, 'data') })
  const response = await get(server, '/openapi.json')
  t.equal(response.statusCode, 200)
  const document = response.json()
  t.equal(document.openapi, '3.0.3')
  t.same(Object.keys(document.paths).sort(), [...DOCUMENTED].sort(), 'every route, and not the page\'s files or the docs themselves')
  const operation = (path: string): Operation => document.paths[path].get
  for (const path of DOCUMENTED) {
    t.ok(operation(path).summary, `${path} has a summary`)
    t.ok(operation(path).responses[200].description, `${path} describes its answer`)
    t.ok(Object.values(operation(path).responses[200].content).every(media => media.schema), `${path} has a schema for each answer form`)
  }
  for (const path of ['/num_sessions', '/median_session_length', '/num_unique_visited_sites']) {
    t.same(Object.keys(operation(path).responses[200].content).sort(), ['application/json', 'text/plain'], `${path}: text and JSON`)
    t.same(Object.keys(operation(path).responses).sort(), ['200', '400', '404', '500', '503'])
    t.same(Object.keys(operation(path).responses[404].content).sort(), ['application/json', 'text/plain'], `${path}: errors in both forms`)
  }
  const siteParameters = operation('/site_stats').parameters
  t.same(siteParameters.map(parameter => [parameter.name, parameter.in, parameter.required]),
    [['site_url', 'query', true], ['from', 'query', false], ['to', 'query', false]])
  t.match(siteParameters[1], { description: /epoch seconds .* ISO 8601/ })
  t.same(operation('/sites').parameters.map(parameter => parameter.name), ['offset', 'limit', 'sort', 'order', 'q', 'from', 'to'])
  t.same(operation('/num_unique_visited_sites').parameters.map(parameter => parameter.name), ['visitor_id'])
  t.same(Object.keys(operation('/health').responses).sort(), ['200', '500', '503'])
  t.same(Object.keys(operation('/metrics').responses[200].content), ['text/plain'])
})

t.test('JSON answers are exactly what the documentation names: no field dropped, none undocumented', async t => {
  const server = await buildLoaded(t, { dataDir: join(PROJECT_ROOT, 'data') })
  const document = (await get(server, '/openapi.json')).json()
  const documented = (path: string) => document.paths[path].get.responses[200].content['application/json'].schema.required.sort()
  const site = { site_url: 'www.s_1.com' }
  const answers: [string, Record<string, string>][] = [['/num_sessions', site], ['/median_session_length', site],
    ['/num_unique_visited_sites', { visitor_id: 'visitor_1' }], ['/site_stats', site], ['/site_histogram', site],
    ['/site_timeline', site], ['/site_pages', site], ['/sites', {}], ['/health', {}]]
  for (const [path, query] of answers) {
    t.same(Object.keys((await get(server, path, query, true)).json()).sort(), documented(path), path)
  }
  t.same((await get(server, '/health')).json(), server.sessions.health(), 'the health answer as the service has it')
  t.same((await get(server, '/site_stats', site)).json(), siteStats(await server.sessions.sessionTable('www.s_1.com')),
    'the site\'s figures as the domain computes them')
})

t.test('/docs: Swagger UI, served by the app itself, under a policy that reaches nothing outside it', async t => {
  const server = await buildLoaded(t, { dataDir: join(PROJECT_ROOT, 'data') })
  const page = await get(server, '/docs')
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  t.match(page.body, /swagger-ui/)
  const policy = String(page.headers['content-security-policy'])
  t.match(policy, /default-src 'self'/)
  t.notMatch(policy, /https:|swagger\.io|upgrade-insecure-requests/)
  t.equal((await get(server, '/docs/static/index.html')).statusCode, 302, 'the old address leads to /docs')
  t.equal((await get(server, '/docs/static/swagger-ui-bundle.js')).statusCode, 200)
})
