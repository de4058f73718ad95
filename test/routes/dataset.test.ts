import t from 'tap'
import { build, buildLoaded, csv, get } from '../helper.js'
import { WHOLE_DATA } from '../../src/domain/time-range.js'

t.test('/sites lists the sites with their figures, a page at a time, sorted and filtered as asked', async t => {
  const dataDir = t.testdir({
    'v.csv': csv([['a', 'www.s_10.com', 1], ['a', 'www.s_9.com', 2], ['b', 'www.s_9.com', 3], ['b', 'www.s_9.com', 4000], ['c', 'other.org', 5]])
  })
  const server = await buildLoaded(t, { dataDir })
  const res = await get(server, '/sites')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    total: 3,
    sites: [
      { site_url: 'other.org', page_views: 1, visitors: 1, num_sessions: 1, median_session_length: 0, views_per_session: 1, bounce_rate: 1 },
      { site_url: 'www.s_9.com', page_views: 3, visitors: 2, num_sessions: 3, median_session_length: 0, views_per_session: 1, bounce_rate: 1 },
      { site_url: 'www.s_10.com', page_views: 1, visitors: 1, num_sessions: 1, median_session_length: 0, views_per_session: 1, bounce_rate: 1 }
    ]
  })
  const urls = async (query: Record<string, string>) => {
    const page = (await get(server, '/sites', query)).json()
    return [page.total, page.sites.map((site: { site_url: string }) => site.site_url)]
  }
  t.same(await urls({ sort: 'page_views', order: 'desc' }), [3, ['www.s_9.com', 'other.org', 'www.s_10.com']], 'ties in natural order')
  t.same(await urls({ order: 'desc', limit: '2' }), [3, ['www.s_10.com', 'www.s_9.com']])
  t.same(await urls({ offset: '1', limit: '1' }), [3, ['www.s_9.com']])
  t.same(await urls({ offset: '5' }), [3, []])
  t.same(await urls({ q: 'WWW.S_' }), [2, ['www.s_9.com', 'www.s_10.com']], 'filtered, ignoring case')
  t.same(await urls({ q: 'nowhere' }), [0, []])
})

t.test('/sites names a bad parameter', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,1\n' }) })
  for (const [query, message] of [
    [{ limit: '0' }, /limit must be >= 1/],
    [{ limit: '1001' }, /limit must be <= 1000/],
    [{ offset: '-1' }, /offset must be >= 0/],
    [{ offset: 'x' }, /offset must be integer/],
    [{ sort: 'visitor_id' }, /sort must be equal to one of the allowed values/],
    [{ order: 'up' }, /order must be equal to one of the allowed values/],
    [{ q: 'x'.repeat(257) }, /q must NOT have more than 256 characters/]
  ] as const) {
    const res = await get(server, '/sites', query)
    t.equal(res.statusCode, 400, JSON.stringify(query))
    t.match(res.body, message)
  }
})

t.test('/health summarizes the dataset once loaded', async t => {
  const dataDir = t.testdir({
    '1.csv': 'visitor_id,site_url,page_view_url,timestamp\r\na,s,u,10\r\nbroken\r\n',
    '2.csv': 'b,s,u,4294967296\n'
  })
  const built = Date.now()
  const server = await buildLoaded(t, { dataDir, sessionTimeoutSeconds: 60 })
  const loaded = Date.now()
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
    source: 'csv',
    cache_file: 'off',
    cache: { sites_cached: 1, misses: 1, computations: 1 }
  })
  t.type(res.json().load_ms, 'number')
  // The process started before this test built its server; the data was ready while the test waited for it.
  const { started_at: startedAt, ready_at: readyAt } = res.json()
  t.ok(Date.parse(startedAt) <= built, `started ${startedAt}`)
  t.ok(Date.parse(readyAt) >= built && Date.parse(readyAt) <= loaded, `ready ${readyAt}`)
  t.equal(new Date(Date.parse(readyAt)).toISOString(), readyAt)
})

t.test('/health stays small and names files only as they stand in the data folder', async t => {
  // Timestamps of 5 MB (a line over the 1 MiB record limit) and of 500 kB (a bad timestamp).
  const files: Record<string, string> = {
    'big.csv': Array.from({ length: 10 }, (_, i) => `v${i},s,u,${'9'.repeat(i < 5 ? 5_000_000 : 500_000)}x\n`).join('')
  }
  for (let i = 0; i < 150; i++) files[`f${String(i).padStart(3, '0')}-${'n'.repeat(200)}.csv`] = `v,s,u,${i}\n`
  const dataDir = t.testdir(files)
  const server = await buildLoaded(t, { dataDir })
  const res = await get(server, '/health')
  t.ok(res.body.length < 64 * 1024, `${res.body.length} bytes`)
  t.notMatch(res.body, dataDir)
  t.match(res.json(), { skipped_rows: 10, files_total: 151, files: { length: 100 } })
  t.match(res.json().skipped_row_examples[0], { file: 'big.csv', line: 1, reason: 'longer than 1048576 bytes' })
  t.match(res.json().skipped_row_examples[5], { file: 'big.csv', line: 6, reason: /^timestamp "9{40}"… is not/ })

  const failed = await build(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u\n' }), strictCsv: true })
  await t.rejects(failed.sessions.loaded)
  const failure = await get(failed, '/health')
  t.equal(failure.statusCode, 500)
  t.same(failure.json(), { status: 'failed', backend: 'memory', message: 'v.csv:1: expected 4 fields, found 3' })
})

t.test('the landing page is served at /', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,1\n' }) })
  const res = await server.inject('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /Sessionizer/)
})

t.test('every reply is marked nosniff; the page\'s files carry a strict Content-Security-Policy and helmet\'s other headers', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,1\n' }) })
  for (const url of ['/', '/app.js', '/style.css']) {
    const res = await server.inject(url)
    t.equal(res.statusCode, 200, url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
    t.equal(res.headers['x-frame-options'], 'DENY', url)
    t.equal(res.headers['referrer-policy'], 'no-referrer', url)
    t.match(res.headers['content-security-policy'], /default-src 'self';.*script-src 'self';.*frame-ancestors 'none'/, url)
  }
  for (const url of ['/num_sessions?site_url=s', '/num_sessions?site_url=unknown', '/nowhere', '/health', '/sites']) {
    const res = await server.inject(url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
    t.match(res.headers['content-type'], /^(text\/plain|application\/json); charset=utf-8$/, url)
  }
})

t.test('Fastify\'s own errors answer like every other: text, or JSON when asked; media types ignore case', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,1\n' }) })
  const badUrl = await server.inject('/%')
  t.equal(badUrl.statusCode, 400)
  t.match(badUrl.headers['content-type'], /^text\/plain/)
  t.equal(badUrl.body, "'/%' is not a valid url component")
  const badUrlJson = await server.inject({ url: '/%', headers: { accept: 'application/json' } })
  t.same(badUrlJson.json(), { statusCode: 400, message: "'/%' is not a valid url component" })
  const upper = await server.inject({ url: '/num_sessions?site_url=s', headers: { accept: 'APPLICATION/JSON' } })
  t.same(upper.json(), { site_url: 's', num_sessions: 1 })
  const tooLarge = await server.inject({ method: 'POST', url: '/num_sessions', headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(2_000_000) })
  t.equal(tooLarge.statusCode, 413)
  t.match(tooLarge.headers['content-type'], /^text\/plain/)
})

t.test('requests too broken to parse answer text: 431 for headers too large, 400 for what is not HTTP', async t => {
  const { connect } = await import('node:net')
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u,1\n' }) })
  await server.listen({ host: '127.0.0.1', port: 0 })
  const { port } = server.server.address() as { port: number }
  const raw = (request: string) => new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    let answer = ''
    socket.on('data', chunk => { answer += chunk })
    socket.on('close', () => resolve(answer))
    socket.on('error', () => {})
  })
  const tooLarge = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`)
  t.match(tooLarge, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
  t.match(tooLarge, /Content-Type: text\/plain; charset=utf-8\r\n/)
  t.match(tooLarge, /\r\n\r\nRequest headers are too large$/)
  const notHttp = await raw('HELLO THERE\r\n\r\n')
  t.match(notHttp, /^HTTP\/1\.1 400 Bad Request\r\n[^]*\r\n\r\nMalformed request$/)
})

t.test('a client too slow to send its request is let go with a 408, in text', async t => {
  const { connect } = await import('node:net')
  const Fastify = (await import('fastify')).default
  const { serverOptions } = await import('../../src/app.js')
  t.equal(serverOptions.requestTimeout, 30_000)
  // The same handler, with a timeout short enough to wait for, checked often.
  const server = Fastify({ ...serverOptions, requestTimeout: 200, http: { connectionsCheckingInterval: 50 }, logger: false })
  t.teardown(() => server.close())
  await server.listen({ host: '127.0.0.1', port: 0 })
  const { port } = server.server.address() as { port: number }
  const answer = await new Promise<string>(resolve => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /health HTTP/1.1\r\nHost: x\r\n'))
    let text = ''
    socket.on('data', chunk => { text += chunk })
    socket.on('close', () => resolve(text))
  })
  t.match(answer, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*text\/plain[^]*\r\n\r\nRequest not received within 30 s$/)
})

t.test('the site directory is built once for the data, from cached tables where there are some', async t => {
  const rows: [string, string, number][] = []
  for (let site = 0; site < 2100; site++) rows.push([`v${site % 3}`, `s${site}`, site])
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': csv(rows) }) })
  await server.sessions.sessionTable('s7')
  const [first, second] = await Promise.all([server.sessions.siteDirectory(WHOLE_DATA), server.sessions.siteDirectory(WHOLE_DATA)])
  t.equal(second, first, 'one directory')
  t.equal(first.size, 2100)
  t.match(server.sessions.cacheStats(), { computations: 2100, sites_cached: 1 }, 'the cached site was not computed again, and others not kept')
})
