// The sessions plugin with a cache folder: a restart on unchanged data reads the saved store and session
// tables instead of parsing, gives the same answers, and anything that would make them wrong rebuilds.
import t, { type Test } from 'tap'
import { execFile, execFileSync } from 'node:child_process'
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout } from 'node:timers/promises'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import app, { serverOptions, type AppOptions } from '../../src/app.js'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews } from '../../scripts/lib/page-view-generator.js'
import { DEFAULT_TEST_OPTIONS, allSites, get } from '../helper.js'
import { listCsvFiles } from '../../src/ingest/data-folder.js'
import { LoadAhead } from '../../src/ingest/load-ahead.js'
import { csvLoadOptions } from '../../src/backends/memory.js'


/** Builds the app with its warnings collected, and waits for its data and for the cache file to settle. */
async function start (t: Test, options: Partial<AppOptions> & { dataDir: string }) {
  const logged: string[] = []
  const server = Fastify({ ...serverOptions, logger: { level: 'info', stream: { write: (line: string) => logged.push(JSON.parse(line).msg) } } })
  await server.register(app, { ...DEFAULT_TEST_OPTIONS, warmCache: true, ...options })
  t.teardown(() => server.close())
  await server.sessions.loaded
  await server.sessions.saved
  return { server, logged }
}

/** Every answer the routes give for the data: per site in text and JSON, and for a sample of visitors. */
async function answers (server: FastifyInstance): Promise<string[]> {
  const sites = await allSites(server)
  const all: string[] = [JSON.stringify(sites)]
  for (const { site_url } of sites) {
    for (const route of ['/num_sessions', '/median_session_length']) all.push((await get(server, route, { site_url })).body)
    all.push((await get(server, '/site_stats', { site_url }, true)).body)
    all.push((await get(server, '/site_pages', { site_url, limit: '5' }, true)).body)
  }
  for (let visitor = 1; visitor <= 300; visitor += 7) {
    all.push((await get(server, '/num_unique_visited_sites', { visitor_id: `visitor_${visitor}` })).body)
  }
  return all
}

function dataset (t: Test) {
  const root = t.testdir({ data: {}, cache: {} })
  const dataDir = join(root, 'data')
  generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 40_000, sites: 12, visitors: 3000, files: 3, out: dataDir })
  appendFileSync(join(dataDir, 'page_views_1.csv'), 'a bad row\n')
  return { dataDir, cacheDir: join(root, 'cache') }
}

t.test('a restart on unchanged files reads the store and the warm tables, and answers the same', async t => {
  const { dataDir, cacheDir } = dataset(t)
  const first = await start(t, { dataDir, cacheDir })
  t.match(first.server.sessions.health(), { status: 'ready', source: 'csv', cache_file: 'saved', skipped_rows: 1 })
  t.match(first.logged, [/store cache .* not used: there is none yet; reading the CSV files/])
  const expected = await answers(first.server)

  const again = await start(t, { dataDir, cacheDir })
  const health = again.server.sessions.health()
  t.match(health, {
    status: 'ready', source: 'cache', cache_file: 'read', rows: 40_000, skipped_rows: 1, sites: 12, parse_ms: 0,
    skipped_row_examples: [{ file: 'page_views_1.csv', reason: /./ }],
    cache: { sites_cached: 12, computations: 0 }
  })
  t.same(await answers(again.server), expected)
  t.equal(again.server.sessions.cacheStats().computations, 0, 'every answer came from the saved tables')
  t.match(again.logged, [/^skipped bad row page_views_1\.csv:\d+/, /data loaded/])
})

t.test('another session timeout reuses the store but computes and saves its own tables', async t => {
  const { dataDir, cacheDir } = dataset(t)
  await start(t, { dataDir, cacheDir })
  const fresh = await start(t, { dataDir, cacheDir: null, sessionTimeoutSeconds: 600 })
  const other = await start(t, { dataDir, cacheDir, sessionTimeoutSeconds: 600 })
  t.match(other.server.sessions.health(), { source: 'cache', cache_file: 'saved', cache: { computations: 12 } })
  t.match(other.logged, [/saved session tables not used: SESSION_TIMEOUT_SECONDS was 1800 when it was written; computing them/])
  t.same(await answers(other.server), await answers(fresh.server))
  const third = await start(t, { dataDir, cacheDir, sessionTimeoutSeconds: 600 })
  t.match(third.server.sessions.health(), { source: 'cache', cache_file: 'read', cache: { computations: 0 } })
})

t.test('a changed, added or removed file is read afresh, with a warning saying why', async t => {
  const { dataDir, cacheDir } = dataset(t)
  await start(t, { dataDir, cacheDir })
  appendFileSync(join(dataDir, 'page_views_2.csv'), 'visitor_1,www.s_1.com,/late,1900000000\n')
  const changed = await start(t, { dataDir, cacheDir })
  t.match(changed.server.sessions.health(), { source: 'csv', cache_file: 'saved', rows: 40_001 })
  t.match(changed.logged, [/not used: the data files changed \(page_views_2\.csv changed\); reading the CSV files/])
  const fresh = await start(t, { dataDir, cacheDir: null })
  t.same(await answers(changed.server), await answers(fresh.server))
})

t.test('a damaged cache file is a warning and a rebuild, never an answer', async t => {
  const { dataDir, cacheDir } = dataset(t)
  await start(t, { dataDir, cacheDir })
  const storeFile = readdirSync(cacheDir).find(name => name.endsWith('.store'))!
  writeFileSync(join(cacheDir, storeFile), 'garbage')
  const damaged = await start(t, { dataDir, cacheDir })
  t.match(damaged.server.sessions.health(), { source: 'csv', cache_file: 'saved' })
  t.match(damaged.logged, [/not used: it is damaged \(not a Sessionizer cache file of this format\)/])
})

t.test('saved pages damaged since are a warning: only /site_pages fails, and the next start parses afresh', async t => {
  const { dataDir, cacheDir } = dataset(t)
  const first = await start(t, { dataDir, cacheDir })
  const expected = await answers(first.server)
  const pagesFile = join(cacheDir, readdirSync(cacheDir).find(name => name.endsWith('.pages'))!)
  const pages = readFileSync(pagesFile)
  pages[pages.length >> 1] ^= 1
  writeFileSync(pagesFile, pages)
  const damaged = await start(t, { dataDir, cacheDir })
  t.match(damaged.server.sessions.health(), { status: 'ready', source: 'cache', pages: /^(reading|failed)$/ })
  const pagesReply = await get(damaged.server, '/site_pages', { site_url: 'www.s_1.com' })
  t.equal(pagesReply.statusCode, 503)
  t.match(pagesReply.body, /^The pages failed to load \(\/health's warnings say why\)/, 'the reply says where to look')
  t.equal((await get(damaged.server, '/num_sessions', { site_url: 'www.s_1.com' })).statusCode, 200, 'the rest answers')
  t.match(damaged.server.sessions.health(), { pages: 'failed', warnings: [/^the saved pages could not be read \(it is damaged \(checksum mismatch.*parses the CSV files again$/] })
  t.ok(damaged.logged.some(line => line.startsWith('the saved pages could not be read')), 'and logged')
  // Removed as the read fails, without waiting: a moment later.
  while (readdirSync(cacheDir).some(name => name.endsWith('.store'))) await setTimeout(10)
  const restarted = await start(t, { dataDir, cacheDir })
  t.match(restarted.server.sessions.health(), { source: 'csv', cache_file: 'saved' })
  t.same(await answers(restarted.server), expected)
  const again = await start(t, { dataDir, cacheDir })
  t.match(again.server.sessions.health(), { source: 'cache', cache_file: 'read' })
  t.same(await answers(again.server), expected)
  t.match(again.server.sessions.health(), { pages: 'ready', warnings: [] })
})

t.test('a load begun ahead is the one the app takes, unless a store was saved meanwhile', async t => {
  const { dataDir, cacheDir } = dataset(t)
  const twoFiles = (await listCsvFiles(dataDir)).slice(0, 2)
  const options = csvLoadOptions({ ...DEFAULT_TEST_OPTIONS, warmCache: true })
  // Begun on two of the three files: what the app serves shows which load it took.
  const first = await start(t, { dataDir, cacheDir, loadAhead: new LoadAhead(twoFiles, options) })
  t.match(first.server.sessions.health(), { source: 'csv', files_total: 2, cache_file: 'saved', cache: { computations: 12 } })
  const unwanted = new LoadAhead(twoFiles, options)
  const again = await start(t, { dataDir, cacheDir, loadAhead: unwanted })
  t.match(again.server.sessions.health(), { source: 'cache', files_total: 2 })
  await t.rejects(unwanted.take(() => {}, new AbortController().signal), { name: 'AbortError' }, 'the load begun ahead is stopped')
  t.same(await answers(again.server), await answers(first.server))
})

t.test('without warm-up only the store is saved, and read back', async t => {
  const { dataDir, cacheDir } = dataset(t)
  await start(t, { dataDir, cacheDir, warmCache: false })
  t.same(readdirSync(cacheDir).filter(name => !name.endsWith('.store') && !name.endsWith('.pages')), [])
  const again = await start(t, { dataDir, cacheDir, warmCache: false })
  t.match(again.server.sessions.health(), { source: 'cache', cache_file: 'read', cache: { sites_cached: 0 } })
  const withWarmUp = await start(t, { dataDir, cacheDir })
  t.match(withWarmUp.server.sessions.health(), { source: 'cache', cache_file: 'saved', cache: { sites_cached: 12, computations: 12 } },
    'tables missing from the folder are computed and saved')
})

t.test('saved tables go in the cache as their sites are first asked for, and count as cached from the start', async t => {
  const { dataDir, cacheDir } = dataset(t)
  const first = await start(t, { dataDir, cacheDir })
  const warm = first.server.sessions.cacheStats()
  const again = await start(t, { dataDir, cacheDir })
  t.match(again.server.sessions.cacheStats(), { sites_cached: 12, bytes: warm.bytes, hits: 0, misses: 0, computations: 0 })
  const [busiest, next] = (await allSites(first.server)).map(site => site.site_url)
  for (const site of [busiest, busiest, next]) {
    t.equal((await get(again.server, '/num_sessions', { site_url: site })).body, (await get(first.server, '/num_sessions', { site_url: site })).body)
  }
  t.match(again.server.sessions.cacheStats(), { sites_cached: 12, bytes: warm.bytes, hits: 3, misses: 0, computations: 0 })
  t.equal((await get(again.server, '/num_sessions', { site_url: 'nowhere' })).statusCode, 404)
  t.match(again.server.sessions.cacheStats(), { sites_cached: 12, bytes: warm.bytes, computations: 0 })
})

t.test('saved tables fill the cache at once, as far as its bounds, when they are not every site\'s or do not all fit', async t => {
  const { dataDir, cacheDir } = dataset(t)
  await start(t, { dataDir, cacheDir })
  const small = await start(t, { dataDir, cacheDir, cacheMaxSites: 4 })
  t.match(small.server.sessions.cacheStats(), { sites_cached: 4, computations: 0 })

  const fewer = dataset(t)
  await start(t, { ...fewer, cacheMaxSites: 5 })
  const larger = await start(t, fewer)
  t.match(larger.server.sessions.cacheStats(), { sites_cached: 5, computations: 0 }, 'five saved, of twelve sites')
  const uncached = await start(t, { ...fewer, cacheDir: null })
  t.same(await answers(larger.server), await answers(uncached.server))
  t.match(larger.server.sessions.cacheStats(), { sites_cached: 12, computations: 14 },
    'the others computed (for the sites table, which lets them go, then each for the cache) when asked for')
})

t.test('a cache folder that cannot be written costs the next start its speed, nothing else', async t => {
  const { dataDir, cacheDir } = dataset(t)
  writeFileSync(join(cacheDir, 'file'), '')
  const blocked = await start(t, { dataDir, cacheDir: join(cacheDir, 'file') })
  t.match(blocked.server.sessions.health(), { status: 'ready', source: 'csv', cache_file: 'failed' })
  t.match(blocked.logged, [/not used: it cannot be read: ENOTDIR/, /^skipped bad row/, /data loaded/, /could not save the store cache: EEXIST/])
  t.equal((await get(blocked.server, '/num_sessions', { site_url: 'www.s_1.com' })).statusCode, 200)
})

t.test('closing while the store is being saved leaves no file behind', async t => {
  const { dataDir, cacheDir } = dataset(t)
  const server = Fastify({ ...serverOptions, logger: false })
  await server.register(app, { ...DEFAULT_TEST_OPTIONS, dataDir, cacheDir })
  await server.sessions.loaded
  t.match(server.sessions.health(), { status: 'ready', cache_file: 'saving' })
  await server.close()
  t.same(readdirSync(cacheDir), [])
})

t.test('data read from a pipe is never cached', async t => {
  const root = t.testdir({ data: { 'a.csv': 'v,s,u,1\n' }, cache: {} })
  const [dataDir, cacheDir] = [join(root, 'data'), join(root, 'cache')]
  execFileSync('mkfifo', [join(dataDir, 'pipe.csv')])
  const server = Fastify({ ...serverOptions, logger: false })
  await server.register(app, { ...DEFAULT_TEST_OPTIONS, dataDir, cacheDir })
  t.teardown(() => server.close())
  // Another process writes, as a decompressor would: a write from this thread would wait for a reader that cannot run.
  await promisify(execFile)('sh', ['-c', `printf 'w,s,u,2\\n' > '${join(dataDir, 'pipe.csv')}'`])
  await server.sessions.loaded
  t.match(server.sessions.health(), { source: 'csv', cache_file: 'off', rows: 2 })
  t.same(readdirSync(cacheDir), [])
})
