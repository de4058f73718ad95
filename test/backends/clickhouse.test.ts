// The ClickHouse backend gives the memory backend's answers, on one server and on a cluster of two shards:
// the assignment, edge cases, generated data; and it loads each file once, sees rows others insert, keeps
// ids out of its SQL, and says so when ClickHouse cannot be reached.
import t, { type Test } from 'tap'
import { existsSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, ClickHouseLogLevel } from '@clickhouse/client'
import type { FastifyInstance } from 'fastify'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS } from '../../scripts/lib/page-view-generator.js'
import { PROJECT_ROOT } from '../../src/project-root.js'
import type { AppOptions } from '../../src/app.js'
import { naiveAnswers } from '../naive-sessionizer.js'
import { allSites, build, buildLoaded, get } from '../helper.js'
import { CLICKHOUSE_INSTALLED, NEEDS_CLICKHOUSE, requires, startCluster, type Cluster } from '../clickhouse-cluster.js'

const ASSIGNMENT = join(PROJECT_ROOT, '..', 'shared', 'assignment')

interface Topology { name: string, clustered: boolean }
const TOPOLOGIES: Topology[] = [{ name: 'one server', clustered: false }, { name: 'two shards', clustered: true }]

async function buildOnClickHouse (t: Test, cluster: Cluster, clustered: boolean, options: Partial<AppOptions> & { dataDir: string }, database?: string) {
  return buildLoaded(t, {
    backend: 'clickhouse',
    clickhouseUrl: cluster.url,
    clickhouseDatabase: database ?? await cluster.database(clustered),
    // A server used alone: no cluster of that name.
    clickhouseCluster: clustered ? 'sessionizer' : 'no_such_cluster',
    warmCache: true,
    ...options
  })
}

/** The same request to both, the same status and body. */
async function same (t: Test, memory: FastifyInstance, clickhouse: FastifyInstance, url: string, query: Record<string, string>, json: boolean) {
  const [expected, actual] = await Promise.all([get(memory, url, query, json), get(clickhouse, url, query, json)])
  if (expected.statusCode !== actual.statusCode || expected.body !== actual.body) {
    t.same({ status: actual.statusCode, body: actual.body }, { status: expected.statusCode, body: expected.body }, `${url} ${JSON.stringify(query)}`)
    return false
  }
  return true
}

/** Every question about every site (whole data and three ranges), a sample of visitors, and unknown ids. */
async function compare (t: Test, memory: FastifyInstance, clickhouse: FastifyInstance, dataDir: string, timeout: number) {
  const sites = await allSites(memory)
  t.same(await allSites(clickhouse), sites, 'the sites table')
  const { first_timestamp: first, last_timestamp: last } = (await get(memory, '/health')).json()
  const third = Math.floor((last - first) / 3)
  const ranges: Record<string, string>[] = [{}, { from: String(first + third) }, { to: String(first + third) }, { from: String(first + third), to: String(last - third) }]
  let agreed = 0
  let asked = 0
  for (const range of ranges.slice(1)) {
    asked++
    if (await same(t, memory, clickhouse, '/sites', { ...range, limit: '1000' }, true)) agreed++
  }
  for (const { site_url: site } of sites) {
    for (const range of ranges) {
      const query = { site_url: site, ...range }
      for (const [url, json] of [['/num_sessions', false], ['/median_session_length', false], ['/num_sessions', true],
        ['/site_stats', true], ['/site_histogram', true], ['/site_timeline', true]] as const) {
        asked++
        if (await same(t, memory, clickhouse, url, query, json)) agreed++
      }
      asked++
      if (await same(t, memory, clickhouse, '/site_pages', { ...query, limit: '3' }, true)) agreed++
    }
  }
  const visitors = [...naiveAnswers(dataDir, timeout).sitesByVisitor.keys()]
  for (const visitor of visitors.filter((_, i) => i % 5 === 0)) {
    asked++
    if (await same(t, memory, clickhouse, '/num_unique_visited_sites', { visitor_id: visitor }, false)) agreed++
  }
  for (const unknown of ["no'such", 'back\\slash', '%', 'line\nbreak', '<b>x</b>']) {
    asked += 2
    if (await same(t, memory, clickhouse, '/num_sessions', { site_url: unknown }, false)) agreed++
    if (await same(t, memory, clickhouse, '/num_unique_visited_sites', { visitor_id: unknown }, true)) agreed++
  }
  t.equal(agreed, asked, `all ${asked} answers agree`)
}

/** Hand-made edges: gaps of 1800 and 1801 s, overlapping files, duplicates, one-view sessions, even and odd
 * medians, a header, CRLF, quoted fields, bad rows, huge timestamps, and ids shaped to break SQL. */
function writeEdges (dir: string): void {
  const odd = ["o'brien", 'back\\slash', '100%_sure', 'ünï©ødé 訪問者', '<script>alert(1)</script>', 'tab\there', "x'); DROP TABLE page_views; --"]
  const rows = [
    'visitor_id,site_url,page_view_url,timestamp',
    'g1,gap.example,gap.example/a,1000',
    'g1,gap.example,gap.example/b,2800',
    'g1,gap.example,gap.example/c,4601',
    'g2,gap.example,gap.example/a,5000',
    'e1,even.example,even.example/a,2147483650',
    'e1,even.example,even.example/b,2147483660',
    'e2,even.example,even.example/a,4000000000000',
    'e2,even.example,even.example/b,4000000000020',
    '"q,1","quoted.example","quoted.example/?a=1,b=""2""",1500',
    'only,three,fields',
    'v,bad.example,p,soon',
    ...odd.map((id, i) => `"${id.replaceAll('"', '""')}","${odd[(i + 1) % odd.length].replaceAll('"', '""')}",page-${i},${7000 + i}`)
  ]
  writeFileSync(join(dir, 'a.csv'), rows.join('\r\n') + '\r\n')
  writeFileSync(join(dir, 'b.csv'), [
    'g1,gap.example,gap.example/z,900',
    'g1,gap.example,gap.example/a,1000',
    'e3,even.example,even.example/a,3000',
    '"multi\nline",gap.example,gap.example/m,100'
  ].join('\n') + '\n')
}

if (requires(CLICKHOUSE_INSTALLED, 'ClickHouse backend test', NEEDS_CLICKHOUSE)) {
  const cluster = startCluster(t, 2, 0)

  for (const { name, clustered } of TOPOLOGIES) {
    t.test(`${name}: edge cases give the memory backend's answers`, async t => {
      const dataDir = t.testdir({})
      writeEdges(dataDir)
      const memory = await buildLoaded(t, { dataDir })
      const clickhouse = await buildOnClickHouse(t, cluster, clustered, { dataDir })
      const health = (await get(clickhouse, '/health')).json()
      t.match(health, { backend: 'clickhouse', source: 'database', rows: (await get(memory, '/health')).json().rows, skipped_rows: 2 })
      t.same(health.skipped_row_examples.map((bad: { file: string, line: number }) => `${bad.file}:${bad.line}`), ['a.csv:11', 'a.csv:12'])
      await compare(t, memory, clickhouse, dataDir, 1800)
    })

    t.test(`${name}: generated, roughed-up data with a 600 s timeout gives the memory backend's answers`, async t => {
      const dataDir = t.testdir({})
      const [, second] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 6_000, sites: 7, visitors: 400, files: 3, out: dataDir, seed: 4242 })
      appendFileSync(second, '"quoted,visitor",site-q.example,"site-q.example/?x=""1""",1347900000\n,,,\n')
      const options = { dataDir, sessionTimeoutSeconds: 600 }
      const memory = await buildLoaded(t, options)
      const clickhouse = await buildOnClickHouse(t, cluster, clustered, options)
      await compare(t, memory, clickhouse, dataDir, 600)
    })
  }

  t.test('a cluster whose shards lack their table is named, with what to run', async t => {
    const dataDir = t.testdir({ 'a.csv': 'v,s,p,1\n' })
    const server = await build(t, { backend: 'clickhouse', clickhouseUrl: cluster.url, clickhouseDatabase: await cluster.database(false), dataDir })
    await t.rejects(server.sessions.loaded, { message: /^1 of the 2 shards of ClickHouse cluster sessionizer \(CLICKHOUSE_CLUSTER\) have no table test_\w+\.page_views_local: create it on each shard with npm run clickhouse:schema -- --database test_\w+ URL… \(every shard's HTTP URL\)$/ })
  })

  t.test('two shards: the assignment\'s answers, with rows on both shards', { skip: !existsSync(ASSIGNMENT) && !process.env.CI && 'no assignment data' }, async t => {
    const memory = await buildLoaded(t, { dataDir: ASSIGNMENT })
    const database = await cluster.database(true)
    const clickhouse = await buildOnClickHouse(t, cluster, true, { dataDir: ASSIGNMENT }, database)
    t.equal((await get(clickhouse, '/median_session_length', { site_url: 'www.s_5.com' })).body, 'Median session length for site www.s_5.com = 1375.0')
    const perShard = []
    for (const url of cluster.shardUrls) {
      const client = createClient({ url, log: { level: ClickHouseLogLevel.OFF } })
      perShard.push(Number((await (await client.query({ query: `SELECT count() AS rows FROM ${database}.page_views_local`, format: 'JSONEachRow' })).json<{ rows: string }>())[0].rows))
      await client.close()
    }
    t.equal(perShard[0] + perShard[1], 145_967, 'every row is on a shard')
    t.ok(perShard.every(rows => rows > 50_000), `both shards hold rows: ${perShard.join(' and ')}`)
    await compare(t, memory, clickhouse, ASSIGNMENT, 1800)
  })
}
