// The sessions plugin: starts the backend's load, and keeps above it what both backends share: the LRU of
// per-site session tables, warm-up, the sites table, and a 503 while loading.
import { sep } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import { LRUCache } from 'lru-cache'
import { listCsvFiles, type CsvFile } from '../ingest/data-folder.js'
import type { LoadProgress } from '../ingest/dataset.js'
import type { BadRow } from '../ingest/csv-range.js'
import { cacheRoom, fitsRoom, tableByteSize, type SessionSummary } from '../domain/sessions.js'
import { siteRow, type SitePages, type SiteTimeline } from '../domain/queries.js'
import { SiteDirectory } from '../domain/site-directory.js'
import { isWholeData, rangeKey, type TimeRange } from '../domain/time-range.js'
import type { BackendName, CacheFileStatus, DataSource, PagesStatus, SavedTables, SessionBackend, SiteTable } from '../backends/backend.js'
import { MemoryBackend, type MemoryBackendOptions } from '../backends/memory.js'
import type { ClickHouseOptions } from '../backends/clickhouse/backend.js'
import { BackendUnavailableError, LoadFailedError, NotReadyError, UnknownSiteError, UnknownVisitorError } from '../errors.js'

/** What the plugin needs besides each backend's own settings (the memory backend's, less what it is given here). */
export interface SessionsOptions extends ClickHouseOptions, MemoryBackendOptions {
  backend: BackendName
  cacheMaxBytes: number
  cacheMaxSites: number
  /** Compute every site's session table (as many as the cache holds, busiest first) before answering. */
  warmCache: boolean
}

export interface CacheStats {
  sites_cached: number
  bytes: number
  max_bytes: number
  max_sites: number
  hits: number
  misses: number
  shared_in_flight: number
  computations: number
}

export type Health =
  | { status: 'loading', backend: BackendName, files_total: number, bytes_total: number, bytes_done: number }
  | { status: 'failed', backend: BackendName, message: string }
  | {
    status: 'ready'
    backend: BackendName
    files: { file: string, rows: number, skipped_rows: number }[]
    files_total: number
    rows: number
    skipped_rows: number
    skipped_row_examples: BadRow[]
    sites: number
    visitors: number
    first_timestamp: number | null
    last_timestamp: number | null
    load_ms: number
    parse_ms: number
    build_ms: number
    warm_ms: number
    started_at: string
    ready_at: string
    load_workers: number
    source: DataSource
    cache_file: CacheFileStatus
    pages: PagesStatus
    warnings: readonly string[]
    session_timeout_seconds: number
    cache: CacheStats
  }

type State =
  | { status: 'loading', progress: LoadProgress }
  | { status: 'failed', error: Error }
  | { status: 'ready', warmMs: number, readyAt: number }

/** /health lists this many files at most (and counts them all), so that it stays small whatever the folder holds. */
const MAX_FILES_IN_HEALTH = 100
/**
 * How many sites one request to the backend covers, when warming or building the sites table: one query each
 * for ClickHouse; for the memory backend, a few milliseconds' work before it lets a request through.
 */
const SITES_PER_BATCH = 2000
/**
 * Summaries of a site in a time range are kept for this many (site, range) pairs, within a quarter of the
 * cache's bytes: a dashboard asks for a site's figures, histogram and more in one range at once.
 */
const RANGE_SUMMARIES = 256
/** Sites tables of this many time ranges are kept: each is one pass over every site's sessions. */
const RANGE_DIRECTORIES = 4

const ttlOption = (ttlMs: number) => ttlMs === Infinity ? {} : { ttl: ttlMs }

/** The backend-neutral face the routes use: sites, session tables, visitor answers and the dataset's health. */
export class SessionService {
  readonly #options: SessionsOptions
  readonly #backend: SessionBackend
  readonly #log: FastifyBaseLogger
  #state: State
  /** Empty until the data is loaded, and made for it then. */
  #cache: LRUCache<string, SiteTable>
  /** Saved tables that go in the cache as their sites are first asked for (#keepSaved), and how many are left. */
  #saved: { tables: SavedTables, sites: number, bytes: number } | undefined
  readonly #counts = { hits: 0, misses: 0, sharedInFlight: 0, computations: 0 }
  /** Aborted on close: a load still running stops and lets go of its files, pipes, workers and connections. */
  readonly #closing = new AbortController()
  /** The sites table of the whole data, and those of the last few time ranges asked for. */
  readonly #siteDirectory: LRUCache<string, SiteDirectory, TimeRange>
  readonly #rangeDirectories: LRUCache<string, SiteDirectory, TimeRange>
  readonly #rangeSummaries: LRUCache<string, SessionSummary, { table: SiteTable, range: TimeRange }>
  /** Settles when loading ends, or with the reason it failed. */
  readonly loaded: Promise<void>
  /** Settles when what loading produced is saved for the next start (or that is given up). */
  saved: Promise<void> = Promise.resolve()

  constructor (options: SessionsOptions, backend: SessionBackend, log: FastifyBaseLogger, filesTotal: number) {
    this.#options = options
    this.#backend = backend
    this.#log = log
    this.#state = { status: 'loading', progress: { filesTotal, bytesTotal: 0, bytesDone: 0 } }
    const ttl = ttlOption(backend.ttlMs)
    this.#cache = this.#tableCache(1)
    const directories = (max: number) => new LRUCache<string, SiteDirectory, TimeRange>({
      max,
      ...ttl,
      // Past its time to live, a sites table is served while the next one is built (a pass over every site, some
      // seconds on ClickHouse), and while the backend is out of reach; concurrent requests share one build.
      allowStale: true,
      noDeleteOnFetchRejection: true,
      // A build evicted while in flight (many ranges asked at once) still answers the requests that wait for it.
      ignoreFetchAbort: true,
      fetchMethod: (_key, _stale, { context: range }) => this.#buildSiteDirectory(backend, range)
    })
    this.#siteDirectory = directories(1)
    this.#rangeDirectories = directories(RANGE_DIRECTORIES)
    this.#rangeSummaries = new LRUCache({
      max: RANGE_SUMMARIES,
      maxSize: Math.max(1, Math.floor(options.cacheMaxBytes / 4)),
      sizeCalculation: summary => tableByteSize(summary.sessionLengths),
      ...ttl,
      ignoreFetchAbort: true,
      fetchMethod: async (_key, _stale, { context: { table, range } }) => (await backend.summarizeRange([table], range))[0]
    })
    this.loaded = this.#load()
    // The outcome is kept in #state; whoever awaits `loaded` sees the failure, and nobody else must crash.
    this.loaded.catch(() => {})
  }

  /** The cache of session tables, with room for as many sites as given (lru-cache makes room for them all at once). */
  #tableCache (maxSites: number): LRUCache<string, SiteTable> {
    const backend = this.#backend
    return new LRUCache<string, SiteTable>({
      max: maxSites,
      maxSize: this.#options.cacheMaxBytes,
      sizeCalculation: table => table.byteSize,
      ...ttlOption(backend.ttlMs),
      // A table past its time to live stays, to answer with while the backend cannot be reached.
      noDeleteOnStaleGet: true,
      // A computation evicted while in flight (a small cache, many sites asked at once) still answers the
      // requests that wait for it; its table is just not kept.
      ignoreFetchAbort: true,
      fetchMethod: async (siteUrl, stale) => {
        try {
          const table = (await backend.sessionTables([siteUrl])).get(siteUrl)
          if (table !== undefined) this.#counts.computations++
          return table
        } catch (error) {
          if (stale !== undefined && error instanceof BackendUnavailableError) return stale
          throw error
        }
      }
    })
  }

  async #load (): Promise<void> {
    try {
      const signal = this.#closing.signal
      const { savedTables } = await this.#backend.load(progress => { this.#state = { status: 'loading', progress: { ...progress } } }, signal)
      const warmStarted = performance.now()
      // Made for the data once it is loaded: data that cannot change has no more sites than now, and room for
      // the default 100,000 sites took lru-cache 20 ms to make, a fiftieth of a restart.
      const sites = this.#backend.ttlMs === Infinity ? this.#backend.summary().sites : Infinity
      this.#cache = this.#tableCache(Math.max(1, Math.min(this.#options.cacheMaxSites, sites)))
      // Tables computed here, not read back, are the ones worth saving.
      let computedTables: SiteTable[] = []
      if (savedTables) this.#keepSaved(savedTables)
      else if (this.#options.warmCache) computedTables = await this.#warm()
      // The sites table is made when first asked for, not here: at 25,000 sites it took 0.2-0.46 s of this
      // thread (most of it collecting the garbage of a restart's read), which, made just after ready, held up the
      // first answers, /health's 200 among them, by as much; made before, it held up ready.
      this.#state = { status: 'ready', warmMs: Math.round(performance.now() - warmStarted), readyAt: Date.now() }
      const summary = this.#backend.summary()
      for (const bad of summary.skippedRowExamples) {
        this.#log.warn(`skipped bad row ${bad.file}:${bad.line}: ${bad.reason}`)
      }
      this.#log.info({ rows: summary.rows, skippedRows: summary.skippedRows, sites: summary.sites, visitors: summary.visitors, loadMs: summary.loadMs, source: this.#backend.source() },
        'data loaded')
      this.saved = this.#backend.warmed(computedTables)
    } catch (error) {
      this.#state = { status: 'failed', error: error as Error }
      throw error
    }
  }

  /**
   * Saved tables that are every site's and all fit the cache go in it as their sites are first asked for: the
   * cache then never has to make room, so never lets one go, and a restart answers without making 25,000 tables
   * and putting them in the cache first (a tenth of a second). Others fill it now, busiest site first, as far as
   * it holds them.
   */
  #keepSaved (saved: SavedTables): void {
    const room = cacheRoom(this.#options)
    if (saved.count === this.#backend.summary().sites && fitsRoom(room, saved.count, saved.byteSize)) {
      this.#saved = { tables: saved, sites: saved.count, bytes: saved.byteSize }
      return
    }
    for (const table of saved.all(room)) {
      if (!this.#fits(table)) break
      this.#cache.set(table.siteUrl, table)
    }
  }

  /**
   * A site's saved table, put in the cache now; undefined for a site without one. Asked only when the cache has
   * not got the site: once a table is in, the cache keeps it (#keepSaved), and it is never made twice.
   */
  #fromSaved (siteUrl: string): SiteTable | undefined {
    const saved = this.#saved
    const table = saved?.tables.table(siteUrl)
    if (saved === undefined || table === undefined) return undefined
    this.#cache.set(siteUrl, table)
    saved.sites--
    saved.bytes -= table.byteSize
    return table
  }

  #fits (table: SiteTable): boolean {
    return fitsRoom(cacheRoom(this.#options), this.#cache.size + 1, this.#cache.calculatedSize + table.byteSize)
  }

  /**
   * Fills the cache with the busiest sites' session tables until it is full, a batch of sites at a time,
   * yielding to the event loop between batches so that /health still answers.
   */
  async #warm (): Promise<SiteTable[]> {
    const busiestFirst = await this.#backend.siteUrls()
    const warmed: SiteTable[] = []
    for (let start = 0; start < busiestFirst.length; start += SITES_PER_BATCH) {
      const room = this.#options.cacheMaxSites - this.#cache.size
      const batch = busiestFirst.slice(start, start + Math.min(SITES_PER_BATCH, room))
      const tables = await this.#backend.sessionTables(batch)
      this.#closing.signal.throwIfAborted()
      for (const siteUrl of batch) {
        const table = tables.get(siteUrl)
        // Listed a moment ago, no rows left (deleted from ClickHouse): nothing to warm.
        if (table === undefined) continue
        if (!this.#fits(table)) return warmed
        this.#cache.set(siteUrl, table)
        warmed.push(table)
        this.#counts.computations++
      }
      if (batch.length < SITES_PER_BATCH) break
      await yieldToEventLoop()
    }
    return warmed
  }

  health (): Health {
    const state = this.#state
    const backend = this.#backend.name
    switch (state.status) {
      case 'loading':
        return {
          status: 'loading',
          backend,
          files_total: state.progress.filesTotal,
          bytes_total: state.progress.bytesTotal,
          bytes_done: state.progress.bytesDone
        }
      case 'failed':
        // Files are named as they stand in the data folder; where that folder is stays private.
        return { status: 'failed', backend, message: state.error.message.replaceAll(this.#options.dataDir + sep, '') }
      case 'ready': {
        const summary = this.#backend.summary()
        return {
          status: 'ready',
          backend,
          files: summary.files.slice(0, MAX_FILES_IN_HEALTH)
            .map(file => ({ file: file.file, rows: file.rows, skipped_rows: file.skippedRows })),
          files_total: summary.files.length,
          rows: summary.rows,
          skipped_rows: summary.skippedRows,
          skipped_row_examples: summary.skippedRowExamples,
          sites: summary.sites,
          visitors: summary.visitors,
          first_timestamp: summary.firstTimestamp,
          last_timestamp: summary.lastTimestamp,
          load_ms: summary.loadMs,
          parse_ms: summary.parseMs,
          build_ms: summary.buildMs,
          warm_ms: state.warmMs,
          started_at: new Date(performance.timeOrigin).toISOString(),
          ready_at: new Date(state.readyAt).toISOString(),
          load_workers: summary.workers,
          source: this.#backend.source(),
          cache_file: this.#backend.cacheFile(),
          pages: this.#backend.pages(),
          warnings: this.#backend.warnings(),
          session_timeout_seconds: this.#options.sessionTimeoutSeconds,
          cache: this.cacheStats()
        }
      }
    }
  }

  cacheStats (): CacheStats {
    return {
      sites_cached: this.#cache.size + (this.#saved?.sites ?? 0),
      bytes: this.#cache.calculatedSize + (this.#saved?.bytes ?? 0),
      max_bytes: this.#options.cacheMaxBytes,
      max_sites: this.#options.cacheMaxSites,
      hits: this.#counts.hits,
      misses: this.#counts.misses,
      shared_in_flight: this.#counts.sharedInFlight,
      computations: this.#counts.computations
    }
  }

  /** The backend once the data is loaded; a 503 while loading, a 500 if loading failed. Routes never see it. */
  #ready (): SessionBackend {
    const state = this.#state
    if (state.status === 'ready') return this.#backend
    if (state.status === 'failed') throw new LoadFailedError(state.error.message)
    const { bytesDone, bytesTotal } = state.progress
    // Named pipes have no size, so what is read may exceed the total.
    const percent = Math.min(100, Math.floor((100 * bytesDone) / Math.max(bytesTotal, 1)))
    throw new NotReadyError(`${percent}% read`)
  }

  /**
   * Every site's line for the sites table, built on the first request from the session tables: cached ones as
   * they are (with warm-up, all of them), others computed and let go, so that the cache keeps what it holds.
   * In a time range, the sites with sessions in it, each summarized from its table.
   */
  siteDirectory (range: TimeRange): Promise<SiteDirectory> {
    this.#ready()
    const directories = isWholeData(range) ? this.#siteDirectory : this.#rangeDirectories
    // fetchMethod always returns a sites table, or rejects, so fetch cannot resolve to undefined.
    return directories.fetch(rangeKey(range), { context: range }) as Promise<SiteDirectory>
  }

  async #buildSiteDirectory (backend: SessionBackend, range: TimeRange): Promise<SiteDirectory> {
    const siteUrls = await backend.siteUrls()
    const rows = []
    for (let start = 0; start < siteUrls.length; start += SITES_PER_BATCH) {
      const batch = siteUrls.slice(start, start + SITES_PER_BATCH)
      // Looked up once: a table may pass its time to live while the others are computed.
      const cached = batch.map(siteUrl => this.#cache.peek(siteUrl) ?? this.#fromSaved(siteUrl))
      const missing = batch.filter((_, i) => cached[i] === undefined)
      const computed = missing.length > 0 ? await backend.sessionTables(missing) : new Map<string, SiteTable>()
      this.#counts.computations += computed.size
      // A site listed a moment ago may have no rows left (deleted from ClickHouse): it has no line.
      const tables = batch.flatMap((siteUrl, i) => cached[i] ?? computed.get(siteUrl) ?? [])
      const summaries = isWholeData(range) ? tables : await backend.summarizeRange(tables, range)
      for (const summary of summaries) if (summary.sessionLengths.length > 0) rows.push(siteRow(summary))
      await yieldToEventLoop()
    }
    return new SiteDirectory(rows)
  }

  /**
   * What a site's statistics are computed from: for the whole data, its session table (at once when cached);
   * for a time range, the summary of the table's sessions that began in it, memoized per site and range.
   */
  sessionSummary (siteUrl: string, range: TimeRange): SessionSummary | Promise<SessionSummary> {
    const table = this.sessionTable(siteUrl)
    if (isWholeData(range)) return table
    return this.#summarize(siteUrl, table, range)
  }

  async #summarize (siteUrl: string, table: SiteTable | Promise<SiteTable>, range: TimeRange): Promise<SessionSummary> {
    const context = { table: await table, range }
    // fetchMethod always returns a summary, and an abort is ignored, so fetch cannot resolve to undefined.
    return await this.#rangeSummaries.fetch(`${rangeKey(range)} ${siteUrl}`, { context }) as SessionSummary
  }

  /**
   * A site's session table, computed once and then served from the cache: a cached table is returned as it
   * is, not in a promise, since answering without one is most of what keeps a cached query fast.
   */
  sessionTable (siteUrl: string): SiteTable | Promise<SiteTable> {
    this.#ready()
    const cached = this.#cache.get(siteUrl) ?? this.#fromSaved(siteUrl)
    if (cached !== undefined) {
      this.#counts.hits++
      return cached
    }
    return this.#computeTable(siteUrl)
  }

  async #computeTable (siteUrl: string): Promise<SiteTable> {
    const status: LRUCache.Status<string, SiteTable> = {}
    const table = await this.#cache.fetch(siteUrl, { status })
    if (table === undefined) throw new UnknownSiteError(siteUrl)
    if (status.fetch === 'inflight') this.#counts.sharedInFlight++
    else this.#counts.misses++
    return table
  }

  /** How many distinct sites a visitor has viewed; a 404 for a visitor with no page view. */
  visitedSites (visitorId: string): number | Promise<number> {
    const count = this.#ready().visitedSites(visitorId)
    return typeof count === 'number' || count === undefined ? known(count, visitorId) : count.then(answer => known(answer, visitorId))
  }

  /** A site's sessions per day, in a time range. */
  async siteTimeline (siteUrl: string, range: TimeRange): Promise<SiteTimeline> {
    return this.#backend.siteTimeline(await this.sessionTable(siteUrl), range)
  }

  /** A site's top pages and entry pages, in a time range. */
  async sitePages (siteUrl: string, range: TimeRange, limit: number): Promise<SitePages> {
    return this.#backend.sitePages(await this.sessionTable(siteUrl), range, limit)
  }

  /** Stops a load still running and empties the cache; `loaded` then rejects with an AbortError. */
  async close (): Promise<void> {
    this.#closing.abort()
    await this.loaded.catch(() => {})
    await this.saved
    await this.#backend.close()
    this.#cache.clear()
    this.#saved = undefined
    this.#rangeSummaries.clear()
    this.#siteDirectory.clear()
    this.#rangeDirectories.clear()
  }
}

function known (count: number | undefined, visitorId: string): number {
  if (count === undefined) throw new UnknownVisitorError(visitorId)
  return count
}

declare module 'fastify' {
  interface FastifyInstance {
    sessions: SessionService
  }
}

function checkOptions (options: SessionsOptions): void {
  const minimums = { cacheMaxBytes: 1, cacheMaxSites: 1, sessionTimeoutSeconds: 0, loadWorkers: 0 } as const
  for (const [name, minimum] of Object.entries(minimums) as [keyof typeof minimums, number][]) {
    if (!Number.isSafeInteger(options[name]) || options[name] < minimum) {
      throw new Error(`sessions plugin: ${name} must be an integer of at least ${minimum}, got ${options[name]}`)
    }
  }
}

async function createBackend (options: SessionsOptions, log: FastifyBaseLogger): Promise<{ backend: SessionBackend, filesTotal: number }> {
  if (options.backend === 'clickhouse') {
    // A database holds data of its own: a data folder that is empty, or none at all, is no fault.
    const files = await listCsvFiles(options.dataDir).catch((): CsvFile[] => [])
    // Imported only when asked for: its client library is a tenth of a second of every start.
    const { ClickHouseBackend } = await import('../backends/clickhouse/backend.js')
    return { backend: new ClickHouseBackend(options, files, log), filesTotal: files.length }
  }
  // Begun ahead (server.ts), the load is of the files listed then.
  const files = options.loadAhead?.files ?? await listCsvFiles(options.dataDir)
  return { backend: new MemoryBackend(options, files, log), filesTotal: files.length }
}

const sessionsPlugin: FastifyPluginAsync<SessionsOptions> = async (fastify, options) => {
  checkOptions(options)
  const { backend, filesTotal } = await createBackend(options, fastify.log)
  const service = new SessionService(options, backend, fastify.log, filesTotal)
  fastify.decorate('sessions', service)
  fastify.addHook('onClose', () => service.close())
}

export default fp(sessionsPlugin, { name: 'sessions', fastify: '5.x' })
