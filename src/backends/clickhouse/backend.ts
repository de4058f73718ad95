// The ClickHouse backend: page views live in a ClickHouse table (Distributed over shards, on a cluster), the
// data folder's new files are loaded into it, and sessions are worked out there, many sites per query.
import { createClient, ClickHouseLogLevel, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import type { CsvFile } from '../../ingest/data-folder.js'
import type { DatasetSummary, LoadProgress } from '../../ingest/dataset.js'
import { tableByteSize, type SessionSummary } from '../../domain/sessions.js'
import { timelineOfDays, type SitePages, type SiteTimeline } from '../../domain/queries.js'
import type { TimeRange } from '../../domain/time-range.js'
import { BackendUnavailableError } from '../../errors.js'
import { MAX_BAD_ROW_EXAMPLES, type BackendLog, type CacheFileStatus, type DataSource, type LoadedData, type PagesStatus, type SessionBackend, type SiteTable } from '../backend.js'
import { ingestFiles } from './ingest.js'
import { entryStatements, PAGE_VIEWS, run, shardCount, shardStatements, shardsWithTable, VISITOR_SITES } from './schema.js'
import { quote, SESSION_QUERY_SETTINGS, siteDaysQuery, sitePagesQuery, siteSummariesQuery } from './sql.js'

export interface ClickHouseOptions {
  clickhouseUrl: string
  clickhouseDatabase: string
  clickhouseUser: string
  clickhousePassword: string
  /** The cluster whose shards hold the page views, when the server has one of that name. */
  clickhouseCluster: string
  /** How long answers are kept before ClickHouse is asked again: rows other producers insert show up within it. */
  cacheTtlSeconds: number
  /** How long a question asked for one request may take: past it, a 503, not a request that hangs. */
  clickhouseQueryTimeoutSeconds: number
  sessionTimeoutSeconds: number
  strictCsv: boolean
  csvFastPath: boolean
}

/** Site URLs in one query at most this long, as literals: well within ClickHouse's default max_query_size of 256 KiB. */
const MAX_SITE_LIST_BYTES = 128 * 1024
/** Errors that mean ClickHouse could not be reached (or dropped the connection), not that a query was wrong. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'])

interface SummaryRow { site_url: string, visitors: string, page_views: string, single_view_sessions: string, histogram: [string[], string[]] }

/** Lists of sites cut so that each query stays small. */
function batches (siteUrls: readonly string[]): string[][] {
  const lists: string[][] = []
  let bytes = Infinity
  for (const siteUrl of siteUrls) {
    const literal = Buffer.byteLength(siteUrl) + 8
    if (bytes + literal > MAX_SITE_LIST_BYTES) {
      lists.push([])
      bytes = 0
    }
    lists.at(-1)!.push(siteUrl)
    bytes += literal
  }
  return lists
}

/** A site's summary from ClickHouse's histogram of its session lengths: the lengths, ascending, and the rest. */
function summaryOf (row: SummaryRow): SiteTable {
  const [lengths, counts] = row.histogram
  let sessions = 0
  for (const count of counts) sessions += Number(count)
  const sessionLengths = new Float64Array(sessions)
  let at = 0
  let totalSessionLength = 0
  lengths.forEach((length, i) => {
    const count = Number(counts[i])
    sessionLengths.fill(Number(length), at, at + count)
    at += count
    totalSessionLength += Number(length) * count
  })
  return {
    siteUrl: row.site_url,
    pageViews: Number(row.page_views),
    visitors: Number(row.visitors),
    sessionLengths,
    totalSessionLength,
    singleViewSessions: Number(row.single_view_sessions),
    byteSize: tableByteSize(sessionLengths)
  }
}

function emptySummary (siteUrl: string): SessionSummary {
  return { siteUrl, pageViews: 0, visitors: 0, sessionLengths: new Float64Array(0), totalSessionLength: 0, singleViewSessions: 0 }
}

export class ClickHouseBackend implements SessionBackend {
  readonly name = 'clickhouse'
  readonly ttlMs: number
  readonly #options: ClickHouseOptions
  readonly #files: readonly CsvFile[]
  readonly #log: BackendLog
  readonly #client: ClickHouseClient
  readonly #database: string
  /** Where page views are read from: `page_views`, Distributed on a cluster. */
  readonly #pageViews: string
  /** Where each visitor's sites are read from: every shard's, on a cluster. */
  #visitorSites: string
  #clustered = false
  #summary: DatasetSummary | undefined
  #warnings: string[] = []
  /** Every site, busiest first, and when it was read: read again once older than the time to live. */
  #siteUrls: { at: number, urls: Promise<readonly string[]> } | undefined

  constructor (options: ClickHouseOptions, files: readonly CsvFile[], log: BackendLog) {
    this.#options = options
    this.#files = files
    this.#log = log
    this.ttlMs = options.cacheTtlSeconds * 1000
    this.#database = options.clickhouseDatabase
    this.#pageViews = `${this.#database}.${PAGE_VIEWS}`
    this.#visitorSites = `${this.#database}.${VISITOR_SITES}`
    this.#client = createClient({
      url: options.clickhouseUrl,
      username: options.clickhouseUser || 'default',
      password: options.clickhousePassword,
      request_timeout: 300_000,
      // Failures are reported where they are met, once, with what they mean here.
      log: { level: ClickHouseLogLevel.OFF }
    })
  }

  async load (onProgress: (progress: LoadProgress) => void, signal: AbortSignal): Promise<LoadedData> {
    const started = performance.now()
    try {
      await this.#client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then(result => result.json())
    } catch (error) {
      throw new Error(`cannot reach ClickHouse at CLICKHOUSE_URL=${this.#options.clickhouseUrl}: ${(error as Error).message}`)
    }
    await this.#createSchema()
    const report = await ingestFiles(this.#client, this.#files, {
      database: this.#database,
      clustered: this.#clustered,
      strict: this.#options.strictCsv,
      fastPath: this.#options.csvFastPath,
      maxBadRowExamples: MAX_BAD_ROW_EXAMPLES
    }, onProgress, signal, this.#log)
    this.#warnings = report.warnings
    const loadMs = Math.round(performance.now() - started)
    this.#summary = {
      files: report.files,
      rows: 0,
      skippedRows: report.files.reduce((sum, file) => sum + file.skippedRows, 0),
      skippedRowExamples: report.skippedRowExamples,
      sites: 0,
      visitors: 0,
      firstTimestamp: null,
      lastTimestamp: null,
      loadMs,
      parseMs: loadMs,
      buildMs: 0,
      workers: 0
    }
    await this.#refreshTotals()
    return {}
  }

  async #createSchema (): Promise<void> {
    const { clickhouseCluster: cluster } = this.#options
    const shards = await shardCount(this.#client, cluster)
    this.#clustered = shards > 0
    await run(this.#client, shardStatements(this.#database, this.#clustered))
    await run(this.#client, entryStatements(this.#database, this.#clustered ? cluster : null))
    if (!this.#clustered) {
      this.#log.info(`ClickHouse has no cluster ${cluster}: page views are kept on the one server`)
      return
    }
    const withTable = await shardsWithTable(this.#client, this.#database, cluster)
    if (withTable < shards) {
      throw new Error(`${shards - withTable} of the ${shards} shards of ClickHouse cluster ${cluster} (CLICKHOUSE_CLUSTER) ` +
        `have no table ${this.#database}.page_views_local: create it on each shard with ` +
        `npm run clickhouse:schema -- --database ${this.#database} URL… (every shard's HTTP URL)`)
    }
    this.#visitorSites = `cluster(${cluster}, ${this.#database}, ${VISITOR_SITES})`
    this.#log.info(`page views are kept on the ${shards} shards of ClickHouse cluster ${cluster}`)
  }

  /** The database's rows, sites, visitors and time span, for /health. */
  async #refreshTotals (): Promise<void> {
    const [totals] = await this.#query<{ rows: string, sites: string, visitors: string, first: string, last: string }>(
      `SELECT count() AS rows, uniqExact(site_url) AS sites, uniqExact(visitor_id) AS visitors, min(timestamp) AS first, max(timestamp) AS last
       FROM ${this.#pageViews}`)
    const rows = Number(totals.rows)
    this.#summary = {
      ...this.#summary!,
      rows,
      sites: Number(totals.sites),
      visitors: Number(totals.visitors),
      firstTimestamp: rows === 0 ? null : Number(totals.first),
      lastTimestamp: rows === 0 ? null : Number(totals.last)
    }
  }

  /**
   * Runs a query; ClickHouse out of reach, or a question for one request (`forRequest`) that outlasts
   * CLICKHOUSE_QUERY_TIMEOUT_SECONDS, is a 503 that names it; anything else a fault. Loading and warm-up take
   * as long as they take.
   */
  async #query<Row> (query: string, settings: ClickHouseSettings = {}, forRequest = false): Promise<Row[]> {
    const timeoutSeconds = this.#options.clickhouseQueryTimeoutSeconds
    const deadline = forRequest ? AbortSignal.timeout(timeoutSeconds * 1000) : undefined
    try {
      const result = await this.#client.query({ query, format: 'JSONEachRow', clickhouse_settings: settings, abort_signal: deadline })
      return await result.json<Row>()
    } catch (error) {
      const url = this.#options.clickhouseUrl
      if (deadline?.aborted) throw new BackendUnavailableError(`ClickHouse at ${url} did not answer within ${timeoutSeconds} s`)
      const { code } = error as NodeJS.ErrnoException
      if (UNREACHABLE.has(String(code))) throw new BackendUnavailableError(`ClickHouse at ${url} cannot be reached (${code})`)
      throw error
    }
  }

  summary (): DatasetSummary {
    return this.#summary!
  }

  source (): DataSource {
    return 'database'
  }

  cacheFile (): CacheFileStatus {
    return 'off'
  }

  /** The database answers every site's pages as soon as it holds the rows. */
  pages (): PagesStatus {
    return 'ready'
  }

  warnings (): readonly string[] {
    return this.#warnings
  }

  siteUrls (): Promise<readonly string[]> {
    const now = performance.now()
    if (this.#siteUrls === undefined || now - this.#siteUrls.at > this.ttlMs) {
      const urls = this.#query<{ site_url: string }>(`SELECT site_url FROM ${this.#pageViews} GROUP BY site_url
        ORDER BY count() DESC, site_url`)
        .then(async rows => {
          await this.#refreshTotals()
          return rows.map(row => row.site_url)
        })
      this.#siteUrls = { at: now, urls }
      urls.catch(() => { this.#siteUrls = undefined })
    }
    return this.#siteUrls.urls
  }

  /** Summaries of the sites listed; one site is a question for one request, many are warm-up or a sites table. */
  async #summaries (siteUrls: readonly string[], range: TimeRange): Promise<Map<string, SiteTable>> {
    const tables = new Map<string, SiteTable>()
    for (const list of batches(siteUrls)) {
      const rows = await this.#query<SummaryRow>(siteSummariesQuery(this.#pageViews, list, this.#options.sessionTimeoutSeconds, range),
        SESSION_QUERY_SETTINGS, siteUrls.length === 1)
      for (const row of rows) tables.set(row.site_url, summaryOf(row))
    }
    return tables
  }

  sessionTables (siteUrls: readonly string[]): Promise<Map<string, SiteTable>> {
    return this.#summaries(siteUrls, { from: -Infinity, to: Infinity })
  }

  async summarizeRange (tables: readonly SiteTable[], range: TimeRange): Promise<SessionSummary[]> {
    const summaries = await this.#summaries(tables.map(table => table.siteUrl), range)
    return tables.map(table => summaries.get(table.siteUrl) ?? emptySummary(table.siteUrl))
  }

  async visitedSites (visitorId: string): Promise<number | undefined> {
    const [row] = await this.#query<{ sites: string }>(`SELECT uniqExact(site_url) AS sites FROM ${this.#visitorSites}
      WHERE visitor_id = ${quote(visitorId)}`, {}, true)
    const sites = Number(row.sites)
    return sites === 0 ? undefined : sites
  }

  async siteTimeline (table: SiteTable, range: TimeRange): Promise<SiteTimeline> {
    const days = await this.#query<{ day: string, sessions: string, page_views: string }>(
      siteDaysQuery(this.#pageViews, table.siteUrl, this.#options.sessionTimeoutSeconds, range), SESSION_QUERY_SETTINGS, true)
    return timelineOfDays(table.siteUrl, days.map(day => ({ day: Number(day.day), sessions: Number(day.sessions), pageViews: Number(day.page_views) })))
  }

  async sitePages (table: SiteTable, range: TimeRange, limit: number): Promise<SitePages> {
    const [pages] = await this.#query<{ sessions: string, page_views: string, distinct_pages: string, top_pages: [string, string][], entry_pages: [string, string][] }>(
      sitePagesQuery(this.#pageViews, table.siteUrl, this.#options.sessionTimeoutSeconds, range, limit), SESSION_QUERY_SETTINGS, true)
    return {
      site_url: table.siteUrl,
      num_sessions: Number(pages.sessions),
      page_views: Number(pages.page_views),
      distinct_pages: Number(pages.distinct_pages),
      top_pages: pages.top_pages.map(([url, count]) => ({ page_view_url: url, page_views: Number(count) })),
      entry_pages: pages.entry_pages.map(([url, count]) => ({ page_view_url: url, sessions: Number(count) }))
    }
  }

  async warmed (): Promise<void> {}

  async close (): Promise<void> {
    await this.#client.close()
  }
}
