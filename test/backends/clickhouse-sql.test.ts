// The ClickHouse backend's SQL on both generations: Debian's clickhouse-server 18.16 (a local server) and
// current ClickHouse (chDB, the same engine as a library, installed by npm test's pretest). Same tables, same
// rows, same queries: the same answers, and the schema's statements run on both.
import t from 'tap'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, ClickHouseLogLevel } from '@clickhouse/client'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS } from '../../scripts/lib/page-view-generator.js'
import { PROJECT_ROOT } from '../../src/project-root.js'
import { listCsvFiles } from '../../src/ingest/data-folder.js'
import { streamFile } from '../../src/ingest/stream-file.js'
import { tabSeparated } from '../../src/backends/clickhouse/ingest.js'
import { entryStatements, shardStatements } from '../../src/backends/clickhouse/schema.js'
import { SESSION_QUERY_SETTINGS, siteDaysQuery, sitePagesQuery, siteSummariesQuery } from '../../src/backends/clickhouse/sql.js'
import type { TimeRange } from '../../src/domain/time-range.js'
import { CLICKHOUSE_INSTALLED, requires, startCluster } from '../clickhouse-cluster.js'

const CHDB = join(PROJECT_ROOT, '.tools', 'chdb', 'node_modules', 'chdb', 'index.mjs')

interface ChdbSession { query: (sql: string, format?: string) => string, cleanup: () => void }

/** Numbers as numbers: one generation quotes 64-bit integers in JSON, the other does not. */
function normalized (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, normalized(field)]))
  return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
}

if (requires(CLICKHOUSE_INSTALLED && existsSync(CHDB), 'ClickHouse SQL test',
  'needs clickhouse-server and chDB (npm test\'s pretest installs both: scripts/clickhouse.sh install, scripts/ensure-chdb.sh)')) {
  t.test('every query gives the same answers on ClickHouse 18.16 and on current ClickHouse', async t => {
    const { Session } = await import(CHDB) as { Session: new (path: string) => ChdbSession }
    const dataDir = t.testdir({})
    generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 5_000, sites: 6, visitors: 300, files: 2, out: dataDir, seed: 77 })
    writeFileSync(join(dataDir, 'odd.csv'), ['"o\'brien","site\\\\x",p,1000', '"tab\there","site\\\\x",q,1900', '"<b>",ünï.example,"a""b",2147483648'].join('\n') + '\n')

    const cluster = startCluster(t, 1, 20)
    const database = await cluster.database(false)
    const server = createClient({ url: cluster.url, log: { level: ClickHouseLogLevel.OFF } })
    t.teardown(() => server.close())
    const current = new Session(t.testdirName + '-chdb')
    t.teardown(() => current.cleanup())

    const statements = [...shardStatements(database, false), ...entryStatements(database, null)]
    for (const query of statements) {
      await server.command({ query })
      current.query(query)
    }
    t.match(current.query('SELECT version()', 'CSV'), /^"(2[2-9]|[3-9]\d)\./, 'chDB is a current ClickHouse')
    for (const file of await listCsvFiles(dataDir)) {
      await streamFile(file, { strict: false, fastPath: true, maxBadRowExamples: 0, chunkBytes: 64 * 1024, maxRecordBytes: 1024 * 1024, batchRows: 1000 }, async batch => {
        const rows = tabSeparated(batch)
        await server.command({ query: `INSERT INTO ${database}.page_views FORMAT TabSeparated\n${rows}` })
        current.query(`INSERT INTO ${database}.page_views FORMAT TabSeparated\n${rows}`)
      }, () => {})
    }

    const source = `${database}.page_views`
    const settings = Object.entries(SESSION_QUERY_SETTINGS).map(([name, value]) => `${name} = ${value}`).join(', ')
    const both = async (query: string) => {
      const fromServer = await (await server.query({ query, format: 'JSONEachRow', clickhouse_settings: SESSION_QUERY_SETTINGS })).json()
      const fromCurrent = current.query(`${query} SETTINGS ${settings}`, 'JSONEachRow').split('\n').filter(line => line !== '').map(line => JSON.parse(line) as unknown)
      return [normalized(fromServer), normalized(fromCurrent)]
    }
    const sites = (await server.query({ query: `SELECT DISTINCT site_url FROM ${source} ORDER BY site_url`, format: 'JSONEachRow' }))
    const siteUrls = (await sites.json<{ site_url: string }>()).map(row => row.site_url)
    t.equal(siteUrls.length, 8, 'six generated sites and two odd ones')
    const ranges: TimeRange[] = [{ from: -Infinity, to: Infinity }, { from: 1_347_900_000, to: Infinity }, { from: 0, to: 1_347_900_000 }]
    let compared = 0
    for (const range of ranges) {
      const [expected, actual] = await both(`${siteSummariesQuery(source, undefined, 1800, range)} ORDER BY site_url`)
      t.same(actual, expected, `summaries from ${range.from} to ${range.to}`)
      compared++
      for (const siteUrl of siteUrls) {
        for (const query of [siteDaysQuery(source, siteUrl, 1800, range), sitePagesQuery(source, siteUrl, 600, range, 3)]) {
          const [fromServer, fromCurrent] = await both(query)
          if (JSON.stringify(fromServer) !== JSON.stringify(fromCurrent)) t.same(fromCurrent, fromServer, query)
          compared++
        }
      }
    }
    t.equal(compared, 3 + 3 * 8 * 2)
    const [expected, actual] = await both(`SELECT visitor_id, uniqExact(site_url) AS sites FROM ${database}.visitor_sites GROUP BY visitor_id ORDER BY visitor_id`)
    t.same(actual, expected, 'each visitor\'s sites, from the materialized view')
    t.match(expected, [{ visitor_id: '<b>', sites: 1 }, { visitor_id: "o'brien", sites: 1 }], 'odd ids come back as they went in')
  })
}
