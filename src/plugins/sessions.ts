// The sessions plugin: loads the data folder, owns the store and the LRU of per-site session tables.
import { sep } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import { LRUCache } from 'lru-cache'
import { listCsvFiles, loadDataset, type CsvFile, type DatasetSummary, type LoadProgress } from '../ingest/dataset.js'
import { siteRowCount, type PageViewStore } from '../domain/page-view-store.js'
import type { BadRow } from '../ingest/csv-range.js'
import { sessionizeSite, summarizeRange, tableByteSize, type SessionSummary, type SessionTable } from '../domain/sessions.js'
import { NO_CACHE_YET, programFingerprint, StoreCache } from '../domain/store-cache.js'
import { numUniqueVisitedSites, siteRow, sitePages, siteTimeline, type SitePages, type SiteTimeline } from '../domain/queries.js'
import { SiteDirectory } from '../domain/site-directory.js'
import { isWholeData, rangeKey, WHOLE_DATA, type TimeRange } from '../domain/time-range.js'
import { LoadFailedError, NotReadyError, UnknownSiteError, UnknownVisitorError } from '../errors.js'

export interface SessionsOptions {
  dataDir: string
  sessionTimeoutSeconds: number
  cacheMaxBytes: number
  cacheMaxSites: number
  strictCsv: boolean
  /** Take the byte-level path for plain CSV lines (papaparse still parses every quoted line). */
  csvFastPath: boolean
  /** Worker threads to parse on; 0 parses on the main thread. */
  loadWorkers: number
  /** Compute every site's session table (as many as the cache holds, busiest first) before answering. */
  warmCache: boolean
  /** Where the loaded store and warm session tables are saved for the next start; null saves nothing. */
  cacheDir: string | null
}

/** Where this start's data came from, and what became of saving it for the next start. */
export type DataSource = 'csv' | 'cache'
export type CacheFileStatus = 'off' | 'read' | 'saving' | 'saved' | 'failed'

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
  | { status: 'loading', files_total: number, bytes_total: number, bytes_done: number }
  | { status: 'failed', message: string }
  | {
    status: 'ready'
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
    load_workers: number
    source: DataSource
    cache_file: CacheFileStatus
    session_timeout_seconds: number
    cache: CacheStats
  }

type State =
  | { status: 'loading', progress: LoadProgress }
  | { status: 'failed', error: Error }
  | { status: 'ready', store: PageViewStore, summary: DatasetSummary, warmMs: number, source: DataSource }

/** A store read back from the cache folder, with the id its session tables are saved under. */
interface CachedStore { store: PageViewStore, summary: DatasetSummary, storeId: string }
type SiteTables = { siteId: number, table: SessionTable }[]

const MAX_BAD_ROW_EXAMPLES = 10
/** /health lists this many files at most (and counts them all), so that it stays small whatever the folder holds. */
const MAX_FILES_IN_HEALTH = 100
/** How many sites the site directory reads (a few milliseconds' work when cached) before it lets a request through. */
const SITES_PER_SLICE = 2000
/** How many page views warming sessionizes (a few milliseconds' work) before it lets a request through. */
const WARM_ROWS_PER_SLICE = 250_000
/**
 * Summaries of a site in a time range are kept for this many (site, range) pairs, within a quarter of the
 * cache's bytes: a dashboard asks for a site's figures, histogram and more in one range at once.
 */
const RANGE_SUMMARIES = 256
/** Sites tables of this many time ranges are kept: each is one pass over every site's sessions. */
const RANGE_DIRECTORIES = 4

/** The backend-neutral face the routes use: sites, session tables, visitor answers and the dataset's health. */
export class SessionService {
  readonly #options: SessionsOptions
  readonly #log: FastifyBaseLogger
  #state: State
  readonly #cache: LRUCache<number, SessionTable, PageViewStore>
  readonly #counts = { hits: 0, misses: 0, sharedInFlight: 0, computations: 0 }
  /** Aborted on close: a load still running stops and lets go of its files, pipes and workers. */
  readonly #closing = new AbortController()
  /** Built on the first request once ready: the data never changes after that. */
  #siteDirectory: Promise<SiteDirectory> | undefined
  readonly #rangeDirectories = new LRUCache<string, Promise<SiteDirectory>>({ max: RANGE_DIRECTORIES })
  readonly #rangeSummaries: LRUCache<string, SessionSummary, { table: SessionTable, range: TimeRange }>
  #cacheFile: CacheFileStatus = 'off'
  /** Settles when loading ends: the summary, or the reason it failed. */
  readonly loaded: Promise<DatasetSummary>
  /** Settles when what loading produced is saved for the next start (or that is given up). */
  saved: Promise<void> = Promise.resolve()

  constructor (options: SessionsOptions, files: readonly CsvFile[], log: FastifyBaseLogger) {
    this.#options = options
    this.#log = log
    const progress: LoadProgress = { filesTotal: files.length, bytesTotal: 0, bytesDone: 0 }
    this.#state = { status: 'loading', progress }
    this.#cache = new LRUCache<number, SessionTable, PageViewStore>({
      max: options.cacheMaxSites,
      maxSize: options.cacheMaxBytes,
      sizeCalculation: table => table.byteSize,
      // A computation evicted while in flight (a small cache, many sites asked at once) still answers the
      // requests that wait for it; its table is just not kept.
      ignoreFetchAbort: true,
      fetchMethod: (siteId, _stale, { context: store }) => {
        this.#counts.computations++
        return sessionizeSite(store, siteId, options.sessionTimeoutSeconds)
      }
    })
    this.#rangeSummaries = new LRUCache({
      max: RANGE_SUMMARIES,
      maxSize: Math.max(1, Math.floor(options.cacheMaxBytes / 4)),
      sizeCalculation: summary => tableByteSize(summary.sessionLengths),
      ignoreFetchAbort: true,
      fetchMethod: (_key, _stale, { context: { table, range } }) => summarizeRange(table, this.#store(), range)
    })
    this.loaded = this.#load(files)
    // The outcome is kept in #state; whoever awaits `loaded` sees the failure, and nobody else must crash.
    this.loaded.catch(() => {})
  }

  async #load (files: readonly CsvFile[]): Promise<DatasetSummary> {
    try {
      const { cacheDir } = this.#options
      // A pipe's contents cannot be told apart from one start to the next.
      const storeCache = cacheDir === null || files.some(file => file.pipe)
        ? undefined
        : new StoreCache({ ...this.#options, cacheDir, program: programFingerprint(), signal: this.#closing.signal }, files)
      const cached = storeCache && await this.#readStore(storeCache)
      const { store, summary } = cached ?? await loadDataset(files, {
        strict: this.#options.strictCsv,
        maxBadRowExamples: MAX_BAD_ROW_EXAMPLES,
        fastPath: this.#options.csvFastPath,
        workers: this.#options.loadWorkers,
        onProgress: progress => { this.#state = { status: 'loading', progress: { ...progress } } },
        signal: this.#closing.signal
      })
      const warmStarted = performance.now()
      const cachedTables = cached && this.#options.warmCache ? await this.#readSessionTables(storeCache!, cached) : undefined
      // Tables computed here, not read back, are the ones worth saving.
      let computedTables: SiteTables = []
      if (cachedTables) this.#fill(cachedTables)
      else if (this.#options.warmCache) computedTables = await this.#warm(store)
      const source = cached ? 'cache' : 'csv'
      this.#state = { status: 'ready', store, summary, warmMs: Math.round(performance.now() - warmStarted), source }
      // With every site's table at hand, the sites table costs no computation: have it ready for the first page.
      if (this.#cache.size === store.siteUrls.length) void this.siteDirectory(WHOLE_DATA)
      for (const bad of summary.skippedRowExamples) {
        this.#log.warn(`skipped bad row ${bad.file}:${bad.line}: ${bad.reason}`)
      }
      this.#log.info({ rows: summary.rows, skippedRows: summary.skippedRows, sites: summary.sites, visitors: summary.visitors, loadMs: summary.loadMs, source },
        'data loaded')
      if (storeCache) this.saved = this.#save(storeCache, store, summary, cached?.storeId, computedTables)
      return summary
    } catch (error) {
      this.#state = { status: 'failed', error: error as Error }
      throw error
    }
  }

  /** The store saved by an earlier start, when it holds this data folder as it is now. */
  async #readStore (storeCache: StoreCache): Promise<CachedStore | undefined> {
    const started = performance.now()
    try {
      const { store, summary, storeId } = await storeCache.readStore()
      this.#cacheFile = 'read'
      const loadMs = Math.round(performance.now() - started)
      return { store, summary: { ...summary, loadMs, parseMs: 0, buildMs: 0, workers: 0 }, storeId }
    } catch (error) {
      // A stop while reading is a stop, not a fault of the cache; whatever is wrong with the cache costs this
      // start its speed, never its data.
      this.#closing.signal.throwIfAborted()
      const { message } = error as Error
      this.#log[message === NO_CACHE_YET ? 'info' : 'warn'](`store cache ${storeCache.storePath} not used: ${message}; reading the CSV files`)
      return undefined
    }
  }

  async #readSessionTables (storeCache: StoreCache, { store, storeId }: CachedStore): Promise<SiteTables | undefined> {
    try {
      return await storeCache.readSessionTables(store, storeId)
    } catch (error) {
      this.#closing.signal.throwIfAborted()
      this.#log.info(`saved session tables not used: ${(error as Error).message}; computing them`)
      return undefined
    }
  }

  /** Saves a store read from CSV, and session tables computed by warm-up, for the next start. */
  async #save (storeCache: StoreCache, store: PageViewStore, summary: DatasetSummary, cachedStoreId: string | undefined,
    tables: SiteTables): Promise<void> {
    if (cachedStoreId !== undefined && tables.length === 0) return
    this.#cacheFile = 'saving'
    try {
      const storeId = cachedStoreId ?? await storeCache.saveStore(store, summary, this.#closing.signal)
      if (tables.length > 0) await storeCache.saveSessionTables(storeId, tables, this.#closing.signal)
      this.#cacheFile = 'saved'
    } catch (error) {
      this.#cacheFile = 'failed'
      if (!this.#closing.signal.aborted) this.#log.warn(`could not save the store cache: ${(error as Error).message}`)
    }
  }

  /** Fills the cache with saved tables, busiest site first, as far as it holds them. */
  #fill (tables: SiteTables): void {
    for (const { siteId, table } of tables) {
      if (!this.#fits(table)) break
      this.#cache.set(siteId, table)
    }
  }

  #fits (table: SessionTable): boolean {
    return this.#cache.size < this.#options.cacheMaxSites && this.#cache.calculatedSize + table.byteSize <= this.#options.cacheMaxBytes
  }

  /**
   * Fills the cache with the busiest sites' session tables until it is full, yielding to the event loop
   * now and then so that /health still answers. Sessionizing every site is one pass over the store.
   */
  async #warm (store: PageViewStore): Promise<SiteTables> {
    const busiestFirst = Array.from(store.siteUrls, (_, siteId) => siteId)
      .sort((a, b) => siteRowCount(store, b) - siteRowCount(store, a))
    const warmed: SiteTables = []
    let rowsInSlice = 0
    for (const siteId of busiestFirst) {
      if (this.#cache.size >= this.#options.cacheMaxSites) break
      const table = await sessionizeSite(store, siteId, this.#options.sessionTimeoutSeconds)
      if (!this.#fits(table)) break
      this.#closing.signal.throwIfAborted()
      this.#cache.set(siteId, table)
      warmed.push({ siteId, table })
      this.#counts.computations++
      rowsInSlice += siteRowCount(store, siteId)
      if (rowsInSlice > WARM_ROWS_PER_SLICE) {
        await yieldToEventLoop()
        rowsInSlice = 0
      }
    }
    return warmed
  }

  health (): Health {
    const state = this.#state
    switch (state.status) {
      case 'loading':
        return {
          status: 'loading',
          files_total: state.progress.filesTotal,
          bytes_total: state.progress.bytesTotal,
          bytes_done: state.progress.bytesDone
        }
      case 'failed':
        // Files are named as they stand in the data folder; where that folder is stays private.
        return { status: 'failed', message: state.error.message.replaceAll(this.#options.dataDir + sep, '') }
      case 'ready': {
        const summary = state.summary
        return {
          status: 'ready',
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
          load_workers: summary.workers,
          source: state.source,
          cache_file: this.#cacheFile,
          session_timeout_seconds: this.#options.sessionTimeoutSeconds,
          cache: this.cacheStats()
        }
      }
    }
  }

  cacheStats (): CacheStats {
    return {
      sites_cached: this.#cache.size,
      bytes: this.#cache.calculatedSize,
      max_bytes: this.#options.cacheMaxBytes,
      max_sites: this.#options.cacheMaxSites,
      hits: this.#counts.hits,
      misses: this.#counts.misses,
      shared_in_flight: this.#counts.sharedInFlight,
      computations: this.#counts.computations
    }
  }

  /** The loaded store; a 503 while loading, a 500 if loading failed. Routes never see it: they ask this service. */
  #store (): PageViewStore {
    const state = this.#state
    if (state.status === 'ready') return state.store
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
    const store = this.#store()
    if (isWholeData(range)) {
      this.#siteDirectory ??= this.#buildSiteDirectory(store, range)
      return this.#siteDirectory
    }
    const key = rangeKey(range)
    let directory = this.#rangeDirectories.get(key)
    if (directory === undefined) {
      directory = this.#buildSiteDirectory(store, range)
      this.#rangeDirectories.set(key, directory)
    }
    return directory
  }

  async #buildSiteDirectory (store: PageViewStore, range: TimeRange): Promise<SiteDirectory> {
    const whole = isWholeData(range)
    const rows = []
    for (let siteId = 0; siteId < store.siteUrls.length; siteId++) {
      const cached = this.#cache.peek(siteId)
      const table = cached ?? await sessionizeSite(store, siteId, this.#options.sessionTimeoutSeconds)
      if (cached === undefined) this.#counts.computations++
      const summary = whole ? table : await summarizeRange(table, store, range)
      if (summary.sessionLengths.length > 0) rows.push(siteRow(summary))
      if (siteId % SITES_PER_SLICE === SITES_PER_SLICE - 1) await yieldToEventLoop()
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

  async #summarize (siteUrl: string, table: SessionTable | Promise<SessionTable>, range: TimeRange): Promise<SessionSummary> {
    const context = { table: await table, range }
    // fetchMethod always returns a summary, and an abort is ignored, so fetch cannot resolve to undefined.
    return await this.#rangeSummaries.fetch(`${rangeKey(range)} ${siteUrl}`, { context }) as SessionSummary
  }

  /**
   * A site's session table, computed once and then served from the cache: a cached table is returned as it
   * is, not in a promise, since answering without one is most of what keeps a cached query fast.
   */
  sessionTable (siteUrl: string): SessionTable | Promise<SessionTable> {
    const store = this.#store()
    const siteId = store.siteIdByUrl.get(siteUrl)
    if (siteId === undefined) throw new UnknownSiteError(siteUrl)
    const cached = this.#cache.get(siteId)
    if (cached !== undefined) {
      this.#counts.hits++
      return cached
    }
    return this.#computeTable(store, siteId)
  }

  async #computeTable (store: PageViewStore, siteId: number): Promise<SessionTable> {
    const status: LRUCache.Status<number, SessionTable, PageViewStore> = {}
    const table = await this.#cache.fetch(siteId, { context: store, status })
    if (status.fetch === 'inflight') this.#counts.sharedInFlight++
    else this.#counts.misses++
    // fetchMethod always returns a table, and an abort is ignored, so fetch cannot resolve to undefined.
    return table as SessionTable
  }

  /** How many distinct sites a visitor has viewed; a 404 for a visitor with no page view. */
  visitedSites (visitorId: string): number {
    const store = this.#store()
    const id = store.visitors.find(visitorId)
    if (id === -1) throw new UnknownVisitorError(visitorId)
    return numUniqueVisitedSites(store, id)
  }

  /** A site's sessions per day, in a time range. */
  async siteTimeline (siteUrl: string, range: TimeRange): Promise<SiteTimeline> {
    return siteTimeline(await this.sessionTable(siteUrl), this.#store(), range)
  }

  /** A site's top pages and entry pages, in a time range. */
  async sitePages (siteUrl: string, range: TimeRange, limit: number): Promise<SitePages> {
    return sitePages(await this.sessionTable(siteUrl), this.#store(), range, limit)
  }

  /** Stops a load still running and empties the cache; `loaded` then rejects with an AbortError. */
  async close (): Promise<void> {
    this.#closing.abort()
    await this.loaded.catch(() => {})
    await this.saved
    this.#cache.clear()
    this.#rangeSummaries.clear()
    this.#rangeDirectories.clear()
  }
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

const sessionsPlugin: FastifyPluginAsync<SessionsOptions> = async (fastify, options) => {
  checkOptions(options)
  const files = await listCsvFiles(options.dataDir)
  const service = new SessionService(options, files, fastify.log)
  fastify.decorate('sessions', service)
  fastify.addHook('onClose', () => service.close())
}

export default fp(sessionsPlugin, { name: 'sessions', fastify: '5.x' })
