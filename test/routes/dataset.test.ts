import t from 'tap'
import { buildLoaded, csv, get } from '../helper.js'

t.test('/sites lists every site with its page views', async t => {
  const dataDir = t.testdir({ 'v.csv': csv([['a', 'www.s_10.com', 1], ['a', 'www.s_9.com', 2], ['b', 'www.s_9.com', 3]]) })
  const server = await buildLoaded(t, { dataDir })
  const res = await get(server, '/sites')
  t.equal(res.statusCode, 200)
  t.same(res.json(), [{ site_url: 'www.s_9.com', page_views: 2 }, { site_url: 'www.s_10.com', page_views: 1 }])
})

t.test('/health summarizes the dataset once loaded', async t => {
  const dataDir = t.testdir({
    '1.csv': 'visitor_id,site_url,page_view_url,timestamp\r\na,s,u,10\r\nbroken\r\n',
    '2.csv': 'b,s,u,4294967296\n'
  })
  const server = await buildLoaded(t, { dataDir, sessionTimeoutSeconds: 60 })
  await get(server, '/num_sessions', { site_url: 's' })
  const res = await get(server, '/health')
  t.equal(res.statusCode, 200)
  t.match(res.json(), {
    status: 'ready',
    rows: 2,
    skipped_rows: 1,
    skipped_row_examples: [{ line: 3, reason: 'expected 4 fields, found 1' }],
    files: [{ rows: 1, skipped_rows: 1 }, { rows: 1, skipped_rows: 0 }],
    sites: 1,
    visitors: 2,
    first_timestamp: 10,
    last_timestamp: 4294967296,
    session_timeout_seconds: 60,
    cache: { sites_cached: 1, misses: 1, computations: 1 }
  })
  t.type(res.json().load_ms, 'number')
})

t.test('the landing page is served at /', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,1\n' }) })
  const res = await server.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /Sessionizer/)
})
