import t from 'tap'
import { join } from 'node:path'
import { setTimeout } from 'node:timers/promises'
import { Worker, type Transferable } from 'node:worker_threads'
import Fastify, { type FastifyInstance } from 'fastify'
import sessions, { SessionService } from '../../src/plugins/sessions.js'
import type { SessionBackend, SiteTable } from '../../src/backends/backend.js'
import type { DatasetSummary } from '../../src/ingest/dataset.js'
import { WHOLE_DATA } from '../../src/domain/time-range.js'
import { DEFAULT_TEST_OPTIONS, build, buildLoaded, csv, get } from '../helper.js'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews } from '../../scripts/lib/page-view-generator.js'

const twoSites = csv([['a', 's1', 0], ['a', 's1', 60], ['b', 's1', 10], ['a', 's2', 5], ['c', 's2', 9000]])

t.test('a site is computed on the first request, then served from the cache', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': twoSites }) })
  const first = await server.sessions.sessionTable('s1')
  const second = await server.sessions.sessionTable('s1')
  t.equal(first, second, 'the same table object')
  t.match(server.sessions.cacheStats(), { sites_cached: 1, misses: 1, hits: 1, computations: 1 })
  t.ok(server.sessions.cacheStats().bytes > 0)
})

t.test('concurrent requests for one site compute it once', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': twoSites }) })
  const tables = await Promise.all(Array.from({ length: 8 }, () => server.sessions.sessionTable('s2')))
  t.ok(tables.every(table => table === tables[0]))
  t.match(server.sessions.cacheStats(), { computations: 1, misses: 1, shared_in_flight: 7 })
})

t.test('the cache evicts the least recently used site at its entry bound', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': twoSites }), cacheMaxSites: 1 })
  await server.sessions.sessionTable('s1')
  await server.sessions.sessionTable('s2')
  await server.sessions.sessionTable('s1')
  t.match(server.sessions.cacheStats(), { sites_cached: 1, computations: 3, misses: 3, max_sites: 1 })
})

t.test('a computation evicted while in flight still answers: a one-site cache under twenty pipelined requests', async t => {
  const rows: [string, string, number][] = []
  for (let site = 0; site < 20; site++) for (let view = 0; view < 50; view++) rows.push([`v${view % 7}`, `s${site}`, view * 100])
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': csv(rows) }), cacheMaxSites: 1 })
  const answers = await Promise.all(Array.from({ length: 20 }, (_, site) => get(server, '/num_sessions', { site_url: `s${site}` })))
  t.same(answers.map(answer => answer.statusCode), Array(20).fill(200))
  t.same(answers.map(answer => answer.body), Array.from({ length: 20 }, (_, site) => `Num sessions for site s${site} = 7`))
  t.equal(server.sessions.cacheStats().sites_cached, 1)
})

t.test('the cache evicts at its byte bound', async t => {
  const dataDir = t.testdir({ 'v.csv': twoSites })
  const probe = await buildLoaded(t, { dataDir })
  const oneTable = (await probe.sessions.sessionTable('s1')).byteSize
  const server = await buildLoaded(t, { dataDir, cacheMaxBytes: oneTable + 8 })
  await server.sessions.sessionTable('s1')
  await server.sessions.sessionTable('s2')
  t.match(server.sessions.cacheStats(), { sites_cached: 1, computations: 2 })
  t.ok(server.sessions.cacheStats().bytes <= oneTable + 8)
  await server.sessions.sessionTable('s1')
  t.equal(server.sessions.cacheStats().computations, 3, 's1 was evicted and computed again')
})

t.test('warming computes every site before the data counts as loaded, busiest first, within the cache bounds', async t => {
  const dataDir = t.testdir({})
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 300_000, sites: 50, visitors: 20_000, files: 2, out: dataDir })
  const warm = await buildLoaded(t, { dataDir, warmCache: true })
  const sites = warm.sessions.health()
  t.match(sites, { status: 'ready', sites: 50, cache: { sites_cached: 50, computations: 50, misses: 0 } })
  await warm.sessions.sessionTable('www.s_7.com')
  t.match(warm.sessions.cacheStats(), { hits: 1, misses: 0, computations: 50 })

  const fewSites = await buildLoaded(t, { dataDir, warmCache: true, cacheMaxSites: 3 })
  t.match(fewSites.sessions.cacheStats(), { sites_cached: 3, computations: 3 })
  await fewSites.sessions.sessionTable('www.s_1.com')
  t.match(fewSites.sessions.cacheStats(), { hits: 1 }, 'the busiest site was warmed')

  const oneTable = (await warm.sessions.sessionTable('www.s_1.com')).byteSize
  const fewBytes = await buildLoaded(t, { dataDir, warmCache: true, cacheMaxBytes: oneTable + 1 })
  t.match(fewBytes.sessions.cacheStats(), { sites_cached: 1, computations: 1 })
})

t.test('warm-up takes the tables the load\'s workers computed as they built the store, as far as the cache holds them', async t => {
  const dataDir = t.testdir({})
  // Enough data for the load to take worker threads.
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 300_000, sites: 20, visitors: 20_000, files: 2, out: dataDir, seed: 9 })
  const onThisThread = await buildLoaded(t, { dataDir, warmCache: true })
  const onWorkers = await buildLoaded(t, { dataDir, warmCache: true, loadWorkers: 2, cacheMaxSites: 3 })
  t.match(onWorkers.sessions.health(), { status: 'ready', load_workers: 2, sites: 20, cache: { sites_cached: 3, computations: 3 } })
  // Session rows are places in a store, which the two loads lay out differently: the rest must agree.
  const figures = ({ siteUrl, pageViews, visitors, sessionLengths, totalSessionLength, singleViewSessions }: SiteTable) =>
    JSON.stringify({ siteUrl, pageViews, visitors, totalSessionLength, singleViewSessions, sessionLengths: [...sessionLengths].join() })
  for (const site of Array.from({ length: 20 }, (_, i) => `www.s_${i + 1}.com`)) {
    t.equal(figures(await onWorkers.sessions.sessionTable(site)), figures(await onThisThread.sessions.sessionTable(site)), `${site}: warmed, or computed later`)
  }
  t.match(onWorkers.sessions.cacheStats(), { computations: 20 }, 'the sites warm-up left out were computed when asked')
})

t.test('a load on workers answers a site\'s pages, merged after the rest, as a load on this thread does, and saves them', async t => {
  const dataDir = t.testdir({})
  // Enough data for the load to take worker threads; pages of a site are many, and shared between the files.
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 300_000, sites: 6, visitors: 20_000, files: 2, out: dataDir, seed: 4 })
  const cacheDir = join(t.testdirName, 'cache')
  const onThisThread = await buildLoaded(t, { dataDir })
  const onWorkers = await buildLoaded(t, { dataDir, warmCache: true, loadWorkers: 2, cacheDir })
  t.match(onWorkers.sessions.health(), { status: 'ready', load_workers: 2 })
  const pages = (server: FastifyInstance, site: string) => get(server, '/site_pages', { site_url: site, limit: '50' }).then(reply => reply.json())
  const sites = Array.from({ length: 6 }, (_, i) => `www.s_${i + 1}.com`)
  // Asked at once, before the pages' merge can be done: each answer waits for it.
  const fromWorkers = await Promise.all(sites.map(site => pages(onWorkers, site)))
  for (const [i, site] of sites.entries()) t.same(fromWorkers[i], await pages(onThisThread, site), `${site}: the same pages`)
  while ((onWorkers.sessions.health() as { cache_file?: string }).cache_file !== 'saved') await setTimeout(20)
  const restarted = await buildLoaded(t, { dataDir, cacheDir })
  t.match(restarted.sessions.health(), { source: 'cache' })
  for (const [i, site] of sites.entries()) t.same(await pages(restarted, site), fromWorkers[i], `${site}: the same pages from the cache folder`)
  t.match(onWorkers.sessions.health(), { pages: 'ready', warnings: [] })
  t.match(restarted.sessions.health(), { pages: 'ready', warnings: [] })
})

t.test('a pages\' merge that fails shows in /health, and only /site_pages fails with it', async t => {
  const dataDir = t.testdir({})
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 300_000, sites: 6, visitors: 20_000, files: 2, out: dataDir, seed: 4 })
  // The worker lost the moment it is asked for the pages (read again, as a load on workers does): how that fails.
  const postMessage = Worker.prototype.postMessage
  Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: readonly Transferable[]): void {
    if ((message as { type?: string }).type === 'readPages') void this.terminate()
    else postMessage.call(this, message, transfer)
  }
  t.teardown(() => { Worker.prototype.postMessage = postMessage })
  const server = await buildLoaded(t, { dataDir, loadWorkers: 2 })
  const pagesReply = await get(server, '/site_pages', { site_url: 'www.s_1.com' })
  t.equal(pagesReply.statusCode, 503)
  t.match(pagesReply.body, /^The pages failed to load \(\/health's warnings say why\)/, 'the reply says where to look')
  t.match(server.sessions.health(), { status: 'ready', pages: 'failed', warnings: [/^the pages could not be merged \(a load worker exited.*until a restart$/] })
  t.equal((await get(server, '/num_sessions', { site_url: 'www.s_1.com' })).statusCode, 200, 'the rest answers')
})

t.test('warming more sites than one batch warms them all, a batch at a time', async t => {
  const rows = Array.from({ length: 2_100 }, (_, i): [string, string, number] => ['v', `s${i}`, i])
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': csv(rows) }), warmCache: true, cacheMaxSites: 5_000 })
  t.match(server.sessions.health(), { sites: 2_100, cache: { sites_cached: 2_100, computations: 2_100 } })
})

t.test('closing the app empties the cache', async t => {
  const server = await buildLoaded(t, { dataDir: t.testdir({ 'v.csv': twoSites }) })
  await server.sessions.sessionTable('s1')
  await server.close()
  t.equal(server.sessions.cacheStats().sites_cached, 0)
})

t.test('a bad option or a missing data folder fails the boot', async t => {
  for (const [option, value] of [['cacheMaxBytes', 0], ['cacheMaxSites', 1.5], ['sessionTimeoutSeconds', -1], ['loadWorkers', -1]] as const) {
    const server = Fastify()
    await t.rejects(async () => { await server.register(sessions, { ...DEFAULT_TEST_OPTIONS, dataDir: '.', [option]: value }) },
      { message: new RegExp(`^sessions plugin: ${option} must be`) })
  }
  await t.rejects(build(t, { dataDir: '/no/such/folder' }), { name: 'DataDirError', message: /\/no\/such\/folder/ })
})

t.test('a strict load that meets a bad row fails, and says so in its health', async t => {
  const dataDir = t.testdir({ 'v.csv': 'a,s1,u,1\na,s1,u,later\n' })
  const server = await build(t, { dataDir, strictCsv: true })
  await t.rejects(server.sessions.loaded, { name: 'CsvFormatError', message: /v\.csv:2: timestamp "later"/ })
  t.match(server.sessions.health(), { status: 'failed', message: /v\.csv:2/ })
  t.throws(() => server.sessions.visitedSites('a'), { statusCode: 500, message: /Data failed to load/ })
})

t.test('closing the app while it loads aborts the load instead of finishing it', async t => {
  const { execFileSync } = await import('node:child_process')
  const dataDir = t.testdir({})
  execFileSync('mkfifo', [`${dataDir}/pipe.csv`])
  const server = await build(t, { dataDir })
  t.equal(server.sessions.health().status, 'loading')
  await server.close()
  await t.rejects(server.sessions.loaded, { name: 'AbortError' })
  t.match(server.sessions.health(), { status: 'failed' })
  t.equal(server.sessions.cacheStats().sites_cached, 0)
})

t.test('a site listed a moment ago but without rows since is left out of warm-up and of the sites table', async t => {
  const table = (siteUrl: string): SiteTable =>
    ({ siteUrl, pageViews: 1, visitors: 1, sessionLengths: new Float64Array([0]), totalSessionLength: 0, singleViewSessions: 1, byteSize: 300 })
  const summary: DatasetSummary = {
    files: [], rows: 1, skippedRows: 0, skippedRowExamples: [], sites: 2, visitors: 1, firstTimestamp: 1, lastTimestamp: 1, loadMs: 0, parseMs: 0, buildMs: 0, workers: 0
  }
  const unused = async (): Promise<never> => { throw new Error('not asked') }
  // A backend whose site list still names a site whose rows are gone (deleted from ClickHouse in between).
  const backend: SessionBackend = {
    name: 'clickhouse',
    ttlMs: Infinity,
    load: async () => ({}),
    summary: () => summary,
    source: () => 'database',
    cacheFile: () => 'off',
    pages: () => 'ready',
    warnings: () => [],
    siteUrls: async () => ['kept.example', 'gone.example'],
    sessionTables: async siteUrls => new Map(siteUrls.filter(siteUrl => siteUrl === 'kept.example').map(siteUrl => [siteUrl, table(siteUrl)])),
    summarizeRange: async tables => [...tables],
    visitedSites: () => undefined,
    siteTimeline: unused,
    sitePages: unused,
    warmed: async () => {},
    close: async () => {}
  }
  const service = new SessionService({ ...DEFAULT_TEST_OPTIONS, dataDir: '', warmCache: true }, backend, Fastify({ logger: false }).log, 0)
  t.teardown(() => service.close())
  await service.loaded
  t.match(service.cacheStats(), { sites_cached: 1, computations: 1 })
  const directory = await service.siteDirectory(WHOLE_DATA)
  t.same(directory.page({ offset: 0, limit: 10, sort: 'site_url', order: 'asc', q: '' }).sites.map(site => site.site_url), ['kept.example'])
  t.throws(() => service.visitedSites('anyone'), { name: 'FastifyError', message: 'Unknown visitor_id: anyone' })
})
