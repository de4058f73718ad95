import t from 'tap'
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import Fastify from 'fastify'
import app from '../../src/app.js'
import { DEFAULT_TEST_OPTIONS, build, buildLoaded, csv, get } from '../helper.js'
import { formatLength } from '../../src/routes/queries.js'

const views = csv([
  ['visitor 1 & co', 'www.s_1.com', 0], ['visitor 1 & co', 'www.s_1.com', 1800],
  ['visitor 1 & co', 'www.s_1.com', 3601], ['vïsitör-2', 'www.s_1.com', 100],
  ['vïsitör-2', 'www.s_1.com', 101], ['vïsitör-2', 'www.é x.com', 5]
])

t.test('200: the three historical answers, byte for byte, in text', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  const sessions = await get(server, '/num_sessions', { site_url: 'www.s_1.com' })
  t.equal(sessions.statusCode, 200)
  t.match(sessions.headers['content-type'], /^text\/plain/)
  t.equal(sessions.body, 'Num sessions for site www.s_1.com = 3')
  t.equal((await get(server, '/median_session_length', { site_url: 'www.s_1.com' })).body,
    'Median session length for site www.s_1.com = 1.0')
  t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: 'vïsitör-2' })).body,
    'Num of unique sites for vïsitör-2 = 2')
})

t.test('200: the same answers in JSON when the client asks for it', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  const sessions = await get(server, '/num_sessions', { site_url: 'www.s_1.com' }, true)
  t.match(sessions.headers['content-type'], /^application\/json/)
  t.same(sessions.json(), { site_url: 'www.s_1.com', num_sessions: 3 })
  t.same((await get(server, '/median_session_length', { site_url: 'www.s_1.com' }, true)).json(),
    { site_url: 'www.s_1.com', median_session_length: 1 })
  t.same((await get(server, '/num_unique_visited_sites', { visitor_id: 'visitor 1 & co' }, true)).json(),
    { visitor_id: 'visitor 1 & co', num_unique_visited_sites: 1 })
  t.match((await get(server, '/site_stats', { site_url: 'www.é x.com' })).json(),
    { site_url: 'www.é x.com', num_sessions: 1, page_views: 1, bounce_rate: 1 })
})

t.test('content negotiation follows the Accept header', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  const ask = (accept: string) => server.inject({ url: '/num_sessions?site_url=www.s_1.com', headers: { accept } })
  t.match((await ask('application/json;q=0.5, text/plain')).headers['content-type'], /^text\/plain/)
  t.match((await ask('text/plain;q=0.1, application/json')).headers['content-type'], /^application\/json/)
  t.match((await ask('*/*')).headers['content-type'], /^text\/plain/)
  t.match((await ask('image/png')).headers['content-type'], /^text\/plain/)
})

t.test('parameters are URL-decoded: spaces, & and non-ASCII ids work', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  const res = await server.inject('/num_sessions?site_url=www.%C3%A9+x.com')
  t.equal(res.body, 'Num sessions for site www.é x.com = 1')
  const visitor = await server.inject('/num_unique_visited_sites?visitor_id=visitor%201%20%26%20co')
  t.equal(visitor.body, 'Num of unique sites for visitor 1 & co = 1')
})

t.test('400: a missing, empty or repeated parameter is named', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  for (const url of ['/num_sessions', '/median_session_length', '/site_stats', '/site_histogram', '/site_timeline', '/site_pages']) {
    const missing = await server.inject(url)
    t.equal(missing.statusCode, 400)
    t.equal(missing.body, "querystring must have required property 'site_url'")
    const empty = await get(server, url, { site_url: '' }, true)
    t.equal(empty.statusCode, 400)
    t.same(empty.json(), { statusCode: 400, message: 'querystring/site_url must NOT have fewer than 1 characters' })
  }
  const visitor = await server.inject('/num_unique_visited_sites?visitor_id=')
  t.equal(visitor.statusCode, 400)
  t.match(visitor.body, /visitor_id/)
  const repeated = await server.inject('/num_sessions?site_url=a&site_url=b')
  t.equal(repeated.statusCode, 400)
  t.match(repeated.body, /site_url must be string/)
})

t.test('404: an unknown site, visitor or path', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  for (const url of ['/num_sessions', '/median_session_length', '/site_stats', '/site_histogram', '/site_timeline', '/site_pages']) {
    const text = await get(server, url, { site_url: 'www.nowhere.com' })
    t.equal(text.statusCode, 404)
    t.equal(text.body, 'Unknown site_url: www.nowhere.com')
  }
  const visitor = await get(server, '/num_unique_visited_sites', { visitor_id: 'ghost' }, true)
  t.equal(visitor.statusCode, 404)
  t.same(visitor.json(), { statusCode: 404, message: 'Unknown visitor_id: ghost' })
  const path = await server.inject('/no_such_route?x=1')
  t.equal(path.statusCode, 404)
  t.equal(path.body, 'Not found: GET /no_such_route')
})

t.test('503 with Retry-After while loading, then answers', async t => {
  const dataDir = t.testdir({ 'a.csv': 'early,www.s_0.com,u,1\n' })
  const pipe = join(dataDir, 'b.csv')
  execFileSync('mkfifo', [pipe])
  const server = await build(t, { dataDir })
  // a.csv loads at once; b.csv, a named pipe, holds the load until the test writes to it.
  const bytesDone = () => {
    const health = server.sessions.health()
    return health.status === 'loading' ? health.bytes_done : -1
  }
  while (bytesDone() === 0) await new Promise(resolve => setTimeout(resolve, 10))
  for (const json of [false, true]) {
    const res = await get(server, '/num_sessions', { site_url: 'www.s_1.com' }, json)
    t.equal(res.statusCode, 503)
    t.equal(res.headers['retry-after'], '1')
    t.match(res.body, /Data is still loading \(100% read\); retry shortly/, 'a pipe has no size to read')
  }
  t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: 'x' })).statusCode, 503)
  t.equal((await get(server, '/sites')).statusCode, 503)
  const health = await get(server, '/health')
  t.equal(health.statusCode, 503)
  t.match(health.json(), { status: 'loading', files_total: 2, bytes_total: 22, bytes_done: 22 })

  await writeFile(pipe, views)
  await server.sessions.loaded
  t.equal((await get(server, '/num_sessions', { site_url: 'www.s_1.com' })).body, 'Num sessions for site www.s_1.com = 3')
})

t.test('500: a failed load answers without leaking details', async t => {
  const server = await build(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,x\n' }), strictCsv: true })
  await t.rejects(server.sessions.loaded)
  const res = await get(server, '/num_sessions', { site_url: 's' }, true)
  t.equal(res.statusCode, 500)
  t.same(res.json(), { statusCode: 500, message: 'Internal Server Error' })
  const health = await get(server, '/health')
  t.equal(health.statusCode, 500)
  t.match(health.json(), { status: 'failed', message: /v\.csv:1/ })
})

t.test('500: an unexpected fault is logged, and its details stay out of the reply', async t => {
  const logged: string[] = []
  const server = Fastify({ logger: { level: 'error', stream: { write: (line: string) => logged.push(line) } } })
  await server.register(app, { ...DEFAULT_TEST_OPTIONS, dataDir: t.testdir({ 'v.csv': views }) })
  server.get('/fault', async () => { throw new Error('secret internals') })
  t.teardown(() => server.close())
  const res = await server.inject('/fault')
  t.equal(res.statusCode, 500)
  t.equal(res.body, 'Internal Server Error')
  t.match(logged.join(''), /secret internals/)
})

t.test('text lengths always show a decimal; no sessions, no median', async t => {
  t.equal(formatLength(1353), '1353.0')
  t.equal(formatLength(1341.5), '1341.5')
  t.equal(formatLength(0), '0.0')
  t.equal(formatLength(null), 'n/a')
})

t.test('a date range: the sessions whose first view is in [from, to), in either form', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  // www.s_1.com's sessions start at 0 (length 1800), 100 (length 1) and 3601 (length 0).
  const answer = async (url: string, query: Record<string, string>) => (await get(server, url, { site_url: 'www.s_1.com', ...query })).body
  t.equal(await answer('/num_sessions', { from: '100' }), 'Num sessions for site www.s_1.com = 2')
  t.equal(await answer('/num_sessions', { from: '1970-01-01T00:01:40Z', to: '3601' }), 'Num sessions for site www.s_1.com = 1')
  t.equal(await answer('/num_sessions', { to: '1970-01-01T01:00:01+00:00' }), 'Num sessions for site www.s_1.com = 2')
  t.equal(await answer('/median_session_length', { to: '101' }), 'Median session length for site www.s_1.com = 900.5')
  t.equal(await answer('/num_sessions', { from: '', to: '' }), 'Num sessions for site www.s_1.com = 3', 'empty ends are open')
  t.match((await get(server, '/site_stats', { site_url: 'www.s_1.com', from: '1' }, true)).json(),
    { num_sessions: 2, page_views: 3, visitors: 2, bounce_rate: 0.5, median_session_length: 0.5, max_session_length: 1 })
  t.same((await get(server, '/site_histogram', { site_url: 'www.s_1.com', from: '1' }, true)).json().buckets.map((b: { sessions: number }) => b.sessions),
    [1, 1, 0, 0, 0, 0, 0, 0, 0])
  t.same((await get(server, '/site_timeline', { site_url: 'www.s_1.com', from: '1' }, true)).json(),
    { site_url: 'www.s_1.com', bucket_days: 1, buckets: [{ start: 0, date: '1970-01-01', sessions: 2, page_views: 3 }] })
  t.same((await get(server, '/sites', { from: '3000' })).json(), {
    total: 1,
    sites: [{ site_url: 'www.s_1.com', page_views: 1, visitors: 1, num_sessions: 1, median_session_length: 0, views_per_session: 1, bounce_rate: 1 }]
  }, 'only the sites with sessions in the range')
})

t.test('a range without sessions: 0 sessions, no median, and the site is still known', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  const query = { site_url: 'www.s_1.com', from: '2030-01-01', to: '2030-01-01' }
  t.equal((await get(server, '/num_sessions', query)).body, 'Num sessions for site www.s_1.com = 0')
  t.equal((await get(server, '/median_session_length', query)).body, 'Median session length for site www.s_1.com = n/a')
  t.same((await get(server, '/median_session_length', query, true)).json(), { site_url: 'www.s_1.com', median_session_length: null })
  t.match((await get(server, '/site_stats', query, true)).json(), { num_sessions: 0, page_views: 0, median_session_length: null, bounce_rate: null })
  t.same((await get(server, '/site_timeline', query, true)).json().buckets, [])
  t.same((await get(server, '/sites', { from: '2030-01-01' })).json(), { total: 0, sites: [] })
  t.equal((await get(server, '/num_sessions', { ...query, site_url: 'www.nowhere.com' })).statusCode, 404)
})

t.test('400: a bad or reversed range is named, before the site is looked up', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  for (const url of ['/num_sessions', '/median_session_length', '/site_stats', '/site_histogram', '/site_timeline', '/site_pages', '/sites']) {
    const bad = await get(server, url, { site_url: 'www.nowhere.com', from: 'yesterday' }, true)
    t.equal(bad.statusCode, 400, url)
    t.same(bad.json(), {
      statusCode: 400,
      message: 'from must be epoch seconds or an ISO 8601 date or date-time (UTC unless an offset is given), got "yesterday"'
    })
    const reversed = await get(server, url, { site_url: 'www.s_1.com', from: '2012-09-18', to: '2012-09-17' })
    t.equal(reversed.statusCode, 400)
    t.equal(reversed.body, 'to must not be before from, got from=2012-09-18 and to=2012-09-17')
    const long = await get(server, url, { site_url: 'www.s_1.com', to: '1'.repeat(41) })
    t.equal(long.statusCode, 400)
    t.match(long.body, /^querystring\/to must NOT have more than 40 characters/)
  }
})

t.test('a range\'s summaries and sites table are computed once and shared', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': views }) })
  const query = { site_url: 'www.s_1.com', from: '1' }
  const [first, second] = await Promise.all([server.sessions.sessionSummary('www.s_1.com', { from: 1, to: Infinity }),
    server.sessions.sessionSummary('www.s_1.com', { from: 1, to: Infinity })])
  t.equal(second, first, 'one summary for one site and range')
  t.not(await server.sessions.sessionSummary('www.s_1.com', { from: 2, to: Infinity }), first, 'another for another range')
  t.equal((await get(server, '/num_sessions', query)).body, 'Num sessions for site www.s_1.com = 2')
  const range = { from: 1, to: 5000 }
  const [directory, again] = await Promise.all([server.sessions.siteDirectory(range), server.sessions.siteDirectory({ ...range })])
  t.equal(again, directory, 'one sites table for one range')
})

t.test('a site\'s top pages and entry pages, in a range too, as many as asked for', async t => {
  const server = await buildLoaded(t, {
    dataDir: t.testdir({
      'v.csv': 'a,s,/home,0\na,s,/b,10\na,s,/a,4000\nb,s,/z,0\nb,s,/a,0\nb,s,/home,100\nc,t,/x,5\n'
    })
  })
  t.same((await get(server, '/site_pages', { site_url: 's' })).json(), {
    site_url: 's',
    num_sessions: 3,
    page_views: 6,
    distinct_pages: 4,
    top_pages: [{ page_view_url: '/a', page_views: 2 }, { page_view_url: '/home', page_views: 2 }, { page_view_url: '/b', page_views: 1 },
      { page_view_url: '/z', page_views: 1 }],
    entry_pages: [{ page_view_url: '/a', sessions: 2 }, { page_view_url: '/home', sessions: 1 }]
  }, 'b\'s views of /z and /a in the same second: /a, first by URL, is the entry page')
  const limited = (await get(server, '/site_pages', { site_url: 's', limit: '1', from: '1' })).json()
  t.same([limited.num_sessions, limited.top_pages, limited.entry_pages], [1, [{ page_view_url: '/a', page_views: 1 }], [{ page_view_url: '/a', sessions: 1 }]])
  const tooMany = await get(server, '/site_pages', { site_url: 's', limit: '101' })
  t.equal(tooMany.statusCode, 400)
  t.equal(tooMany.body, 'querystring/limit must be <= 100')
})
