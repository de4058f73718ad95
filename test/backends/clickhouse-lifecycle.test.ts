// The ClickHouse backend over time: a restart loads no file twice and reports a changed one, rows inserted by
// others show up after the time to live, strict mode stores nothing from a bad file, `npm run ingest` loads
// without serving, and ClickHouse out of reach is a clear message (at start) or a 503 (while serving).
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { appendFileSync, writeFileSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createClient, ClickHouseLogLevel } from '@clickhouse/client'
import type { AppOptions } from '../../src/app.js'
import { build, buildLoaded, compiled, csv, get } from '../helper.js'
import { CLICKHOUSE_INSTALLED, NEEDS_CLICKHOUSE, requires, startCluster, type Cluster } from '../clickhouse-cluster.js'

function options (cluster: Cluster, database: string, dataDir: string, more: Partial<AppOptions> = {}): Partial<AppOptions> & { dataDir: string } {
  return { backend: 'clickhouse', clickhouseUrl: cluster.url, clickhouseDatabase: database, clickhouseCluster: 'sessionizer', warmCache: true, dataDir, ...more }
}

async function count (cluster: Cluster, query: string): Promise<number> {
  const client = createClient({ url: cluster.url, log: { level: ClickHouseLogLevel.OFF } })
  try {
    return Number((await (await client.query({ query, format: 'JSONEachRow' })).json<{ value: string }>())[0].value)
  } finally {
    await client.close()
  }
}

function twoFiles (t: Test): string {
  return t.testdir({
    'a.csv': csv([['v1', 'one.example', 100], ['v1', 'one.example', 200], ['v2', 'two.example', 300]]),
    'b.csv': csv([['v1', 'two.example', 5000], ['v3', 'one.example', 9000]])
  })
}

if (requires(CLICKHOUSE_INSTALLED, 'ClickHouse lifecycle test', NEEDS_CLICKHOUSE)) {
  const cluster = startCluster(t, 1, 10)

  t.test('a restart loads no file twice; a changed file is reported, not loaded again; a new one is loaded', async t => {
    const dataDir = twoFiles(t)
    const database = await cluster.database(true)
    const first = await buildLoaded(t, options(cluster, database, dataDir))
    t.match((await get(first, '/health')).json(), { rows: 5, sites: 2, visitors: 3, warnings: [] })
    await first.close()

    appendFileSync(join(dataDir, 'b.csv'), csv([['v9', 'one.example', 9100]]))
    writeFileSync(join(dataDir, 'c.csv'), csv([['v4', 'three.example', 400]]))
    const again = await buildLoaded(t, options(cluster, database, dataDir))
    const health = (await get(again, '/health')).json()
    t.match(health, { rows: 6, sites: 3, visitors: 4 }, 'only the new file is added')
    t.same(health.files, [{ file: 'a.csv', rows: 3, skipped_rows: 0 }, { file: 'b.csv', rows: 2, skipped_rows: 0 }, { file: 'c.csv', rows: 1, skipped_rows: 0 }])
    t.match(health.warnings, [/^b\.csv changed since it was loaded \(\d+ bytes then, \d+ now\): not loaded again/])
    t.equal((await get(again, '/num_sessions', { site_url: 'one.example' })).body, 'Num sessions for site one.example = 2')
    t.equal(await count(cluster, `SELECT count() AS value FROM ${database}.page_views`), 6, 'the database holds each row once')
  })

  t.test('a file an earlier load left half done is reported, not loaded again', async t => {
    const dataDir = twoFiles(t)
    const database = await cluster.database(true)
    await buildLoaded(t, options(cluster, database, dataDir))
    const client = createClient({ url: cluster.url, log: { level: ClickHouseLogLevel.OFF } })
    await client.insert({ table: `${database}.ingested_files`, format: 'JSONEachRow', values: [{ file: 'a.csv', bytes: 0, mtime_ms: 0, state: 'loading', rows: 0, skipped_rows: 0, recorded_ms: Date.now() + 60_000 }] })
    await client.close()
    const again = await buildLoaded(t, options(cluster, database, dataDir))
    t.match((await get(again, '/health')).json(), { rows: 5, warnings: [/^a\.csv was being loaded when an earlier load stopped/] })
  })

  t.test('rows inserted straight into page_views are answered once the time to live has passed', async t => {
    const database = await cluster.database(true)
    const server = await buildLoaded(t, options(cluster, database, twoFiles(t), { cacheTtlSeconds: 1 }))
    t.equal((await get(server, '/num_sessions', { site_url: 'two.example' })).body, 'Num sessions for site two.example = 2')
    t.equal((await get(server, '/sites')).json().total, 2, 'the sites table, made when first asked for')
    const client = createClient({ url: cluster.url, log: { level: ClickHouseLogLevel.OFF } })
    await client.insert({
      table: `${database}.page_views`,
      format: 'JSONEachRow',
      values: [{ visitor_id: "new'visitor", site_url: 'two.example', page_view_url: 'two.example/x', timestamp: 20_000 },
        { visitor_id: 'v8', site_url: 'four.example', page_view_url: 'four.example/', timestamp: 20_000 }],
      clickhouse_settings: { insert_distributed_sync: 1 }
    })
    await client.close()
    t.equal((await get(server, '/num_sessions', { site_url: 'four.example' })).body, 'Num sessions for site four.example = 1', 'a new site at once')
    t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: "new'visitor" })).body, "Num of unique sites for new'visitor = 1")
    await sleep(1100)
    t.equal((await get(server, '/num_sessions', { site_url: 'two.example' })).body, 'Num sessions for site two.example = 3', 'a cached site after the TTL')
    // The sites table past its TTL is served while the next one is built: the next is there a moment later.
    t.equal((await get(server, '/sites')).json().total, 2, 'the last sites table at once')
    let total = 2
    for (let tries = 0; tries < 50 && total !== 3; tries++) {
      await sleep(100)
      total = (await get(server, '/sites')).json().total
    }
    t.equal(total, 3, 'then the sites table too')
    t.match((await get(server, '/health')).json(), { rows: 7, sites: 3 })
  })

  t.test('strict mode: a bad row stops the load before any row of it is stored', async t => {
    const dataDir = t.testdir({ 'a.csv': csv([['v1', 'one.example', 100]]) + 'v2,one.example,p,later\n' })
    const database = await cluster.database(true)
    const server = await build(t, options(cluster, database, dataDir, { strictCsv: true }))
    await t.rejects(server.sessions.loaded, { name: 'CsvFormatError', message: /a\.csv:2: timestamp "later"/ })
    t.equal(await count(cluster, `SELECT count() AS value FROM ${database}.page_views`), 0)
    const good = await buildLoaded(t, options(cluster, database, twoFiles(t), { strictCsv: true }))
    t.match((await get(good, '/health')).json(), { rows: 5 }, 'good files load in strict mode')
  })

  t.test('no data folder: the service serves what the database holds, nothing at first', async t => {
    const database = await cluster.database(true)
    const empty = await buildLoaded(t, options(cluster, database, join(t.testdirName, 'absent')))
    t.match((await get(empty, '/health')).json(), { status: 'ready', rows: 0, sites: 0, first_timestamp: null, last_timestamp: null })
    t.equal((await get(empty, '/sites')).json().total, 0)
    await empty.close()
    await buildLoaded(t, options(cluster, database, twoFiles(t)))
    const server = await buildLoaded(t, options(cluster, database, join(t.testdirName, 'absent')))
    t.match((await get(server, '/health')).json(), { status: 'ready', rows: 5, files: [] })
    t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: 'v1' })).body, 'Num of unique sites for v1 = 2')
  })

  t.test('a page_views table other producers filled before the service came: every row is answered', async t => {
    const database = await cluster.database(false)
    const client = createClient({ url: cluster.url, log: { level: ClickHouseLogLevel.OFF } })
    await client.command({ query: `CREATE DATABASE ${database}` })
    await client.command({ query: `CREATE TABLE ${database}.page_views (visitor_id String, site_url String, page_view_url String, timestamp UInt64) ENGINE = MergeTree ORDER BY timestamp` })
    await client.insert({ table: `${database}.page_views`, format: 'JSONEachRow', values: [{ visitor_id: 'early', site_url: 'old.example', page_view_url: 'old.example/', timestamp: 5 }] })
    await client.close()
    const server = await buildLoaded(t, { ...options(cluster, database, join(t.testdirName, 'absent')), clickhouseCluster: 'no_such_cluster' })
    t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: 'early' })).body, 'Num of unique sites for early = 1')
    t.equal((await get(server, '/num_sessions', { site_url: 'old.example' })).body, 'Num sessions for site old.example = 1')
  })

  t.test('a named pipe is reported, not loaded: nothing tells one pipe\'s contents from the next', async t => {
    const dataDir = twoFiles(t)
    execFileSync('mkfifo', [join(dataDir, 'live.csv')])
    const server = await buildLoaded(t, options(cluster, await cluster.database(true), dataDir))
    const health = (await get(server, '/health')).json()
    t.match(health, { rows: 5, warnings: [/^live\.csv is a named pipe: not loaded/] })
    t.same(health.files.map((file: { file: string, rows: number }) => [file.file, file.rows]), [['a.csv', 3], ['b.csv', 2], ['live.csv', 0]])
  })

  t.test('npm run ingest loads a folder without serving, and once', async t => {
    const dataDir = twoFiles(t)
    appendFileSync(join(dataDir, 'a.csv'), 'not a row\n')
    const database = await cluster.database(true)
    const env = { ...process.env, CLICKHOUSE_URL: cluster.url, CLICKHOUSE_DATABASE: database }
    const ingest = () => spawnSync(process.execPath, [compiled('scripts/ingest.ts'), dataDir], { env, encoding: 'utf8' })
    const first = ingest()
    t.equal(first.status, 0, first.stderr)
    t.match(first.stderr, /skipped bad row a\.csv:4: /)
    t.match(first.stdout, /loaded a\.csv \(3 rows, 1 skipped\), b\.csv \(2 rows, 0 skipped\); the database holds 5 page views of 2 sites/)
    const touched = new Date(Date.now() + 5000)
    utimesSync(join(dataDir, 'a.csv'), touched, touched)
    const second = ingest()
    t.equal(second.status, 0)
    t.match(second.stderr, /warning: a\.csv changed since it was loaded/)
    t.match(second.stdout, /the database holds 5 page views/)
    t.match(spawnSync(process.execPath, [compiled('scripts/ingest.ts')], { env, encoding: 'utf8' }), { status: 1, stderr: /usage: npm run ingest -- DIR/ })
  })

  t.test('a query that fails for another reason is a 500, its details in the log only', async t => {
    const database = await cluster.database(true)
    const server = await buildLoaded(t, options(cluster, database, twoFiles(t)))
    const client = createClient({ url: cluster.url, log: { level: ClickHouseLogLevel.OFF } })
    await client.command({ query: `DROP TABLE ${database}.visitor_sites` })
    await client.close()
    const answer = await get(server, '/num_unique_visited_sites', { visitor_id: 'v1' })
    t.equal(answer.statusCode, 500)
    t.equal(answer.body, 'Internal Server Error')
    t.equal((await get(server, '/num_sessions', { site_url: 'one.example' })).statusCode, 200, 'what does not need that table still answers')
  })

  t.test('ClickHouse that stops answering: a question for a request is a 503 after CLICKHOUSE_QUERY_TIMEOUT_SECONDS, not a hang', async t => {
    const server = await buildLoaded(t, options(cluster, await cluster.database(true), twoFiles(t), { clickhouseQueryTimeoutSeconds: 1 }))
    cluster.signal('SIGSTOP')
    try {
      const started = performance.now()
      const answers = await Promise.all([get(server, '/num_sessions', { site_url: 'not-cached.example' }),
        get(server, '/num_unique_visited_sites', { visitor_id: 'v1' }), get(server, '/site_pages', { site_url: 'one.example' })])
      const seconds = (performance.now() - started) / 1000
      t.ok(seconds >= 1 && seconds < 5, `answered in ${seconds.toFixed(1)} s`)
      for (const answer of answers) {
        t.equal(answer.statusCode, 503)
        t.equal(answer.body, `ClickHouse at ${cluster.url} did not answer within 1 s; retry shortly`)
      }
      t.equal((await get(server, '/num_sessions', { site_url: 'one.example' })).statusCode, 200, 'a cached answer needs no query')
    } finally {
      cluster.signal('SIGCONT')
    }
    t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: 'v1' })).body, 'Num of unique sites for v1 = 2', 'answers again once it resumes')
  })

  t.test('ClickHouse out of reach: at start, a message naming CLICKHOUSE_URL; while serving, 503 until it is back', async t => {
    const unreachable = await build(t, { ...options(cluster, 'sessionizer', twoFiles(t)), clickhouseUrl: 'http://127.0.0.1:9' })
    await t.rejects(unreachable.sessions.loaded, { message: /^cannot reach ClickHouse at CLICKHOUSE_URL=http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/ })

    const database = await cluster.database(true)
    const server = await buildLoaded(t, options(cluster, database, twoFiles(t), { cacheTtlSeconds: 1 }))
    t.equal((await get(server, '/sites')).json().total, 2, 'the sites table, made when first asked for')
    cluster.down()
    try {
      const cached = await get(server, '/num_sessions', { site_url: 'one.example' })
      t.equal(cached.body, 'Num sessions for site one.example = 2', 'a cached answer is still served')
      await sleep(1100)
      t.equal((await get(server, '/num_sessions', { site_url: 'one.example' })).body, 'Num sessions for site one.example = 2', 'past its TTL too, while ClickHouse is away')
      for (const [url, query] of [['/num_unique_visited_sites', { visitor_id: 'v1' }], ['/site_pages', { site_url: 'one.example' }],
        ['/num_sessions', { site_url: 'one.example', from: '150' }], ['/sites', { from: '150' }], ['/num_sessions', { site_url: 'not-cached.example' }]] as const) {
        const answer = await get(server, url, query)
        t.equal(answer.statusCode, 503, url)
        t.match(answer.body, new RegExp(`^ClickHouse at ${cluster.url.replaceAll('.', '\\.')} cannot be reached \\(ECONNREFUSED\\); retry shortly$`))
        t.equal(answer.headers['retry-after'], '1')
      }
      t.equal((await get(server, '/sites')).json().total, 2, 'the last sites table is still served, once made')
    } finally {
      cluster.up()
    }
    t.equal((await get(server, '/num_unique_visited_sites', { visitor_id: 'v1' })).body, 'Num of unique sites for v1 = 2', 'answers again once it is back')
    t.equal((await get(server, '/sites')).json().total, 2)
  })
}
