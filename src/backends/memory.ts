// The memory backend: the data folder's CSV files parsed into one columnar store in this process, saved to
// the cache folder for the next start, and every answer computed from the store.
import type { CsvFile } from '../ingest/data-folder.js'
import type { DatasetSummary, LoadedDataset, LoadOptions, LoadProgress } from '../ingest/dataset.js'
import type { LoadAhead } from '../ingest/load-ahead.js'
import { siteRowCount, type PageViewStore, type SessionStore } from '../domain/page-view-store.js'
import { cacheRoom, ownedUnlessAllFit, sessionizeSite, summarizeRange, type SessionSummary, type SessionTable } from '../domain/sessions.js'
import { NO_CACHE_YET, programFingerprint, StoreCache } from '../domain/store-cache.js'
import { numUniqueVisitedSites, sitePages, siteTimeline, type SitePages, type SiteTimeline } from '../domain/queries.js'
import type { TimeRange } from '../domain/time-range.js'
import { closingReadAhead, type CacheReadAhead } from '../domain/cache-read-ahead.js'
import { PagesUnavailableError } from '../errors.js'
import { MAX_BAD_ROW_EXAMPLES, type BackendLog, type CacheFileStatus, type DataSource, type LoadedData, type PagesStatus, type SavedTables, type SessionBackend } from './backend.js'

export interface MemoryBackendOptions {
  dataDir: string
  sessionTimeoutSeconds: number
  strictCsv: boolean
  /** Take the byte-level path for plain CSV lines (papaparse still parses every quoted line). */
  csvFastPath: boolean
  /** Worker threads to parse on; 0 parses on the main thread. */
  loadWorkers: number
  /** Read back the session tables saved with the store (when warm-up would compute them). */
  warmCache: boolean
  /** What the service's cache takes, which the saved tables are read back for. */
  cacheMaxSites: number
  cacheMaxBytes: number
  /** Where the loaded store and warm session tables are saved for the next start; null saves nothing. */
  cacheDir: string | null
  /** The cache files, already being read since the process started (server.ts); read here otherwise. */
  readAhead?: CacheReadAhead
  /** The CSV files, already being loaded since the process started (server.ts), when there was no saved store. */
  loadAhead?: LoadAhead
}

/** The load of the CSV files that these settings ask for: the backend's own, or the one begun ahead of it. */
export function csvLoadOptions (
  options: Pick<MemoryBackendOptions, 'strictCsv' | 'csvFastPath' | 'loadWorkers' | 'warmCache' | 'sessionTimeoutSeconds'>
): Omit<LoadOptions, 'onProgress' | 'signal'> {
  return {
    strict: options.strictCsv,
    maxBadRowExamples: MAX_BAD_ROW_EXAMPLES,
    fastPath: options.csvFastPath,
    workers: options.loadWorkers,
    ...(options.warmCache && { sessionTimeoutSeconds: options.sessionTimeoutSeconds })
  }
}

interface Loaded {
  store: SessionStore
  /**
   * The same store with its pages: a load from CSV merges them after the rest (BuiltStore), and what needs
   * them (a site's pages, saving the store) waits for it.
   */
  complete: Promise<PageViewStore>
  summary: DatasetSummary
  source: DataSource
}

export class MemoryBackend implements SessionBackend<SessionTable> {
  readonly name = 'memory'
  readonly ttlMs = Infinity
  readonly #options: MemoryBackendOptions
  readonly #files: readonly CsvFile[]
  readonly #log: BackendLog
  #loaded: Loaded | undefined
  #storeCache: StoreCache | undefined
  /** Session tables the load's workers computed as they built the store, until warm-up has taken them. */
  #builtTables = new Map<string, SessionTable>()
  /** The id of the store read back from the cache folder: its session tables are saved under it. */
  #cachedStoreId: string | undefined
  #cacheFile: CacheFileStatus = 'off'
  #pages: PagesStatus = 'ready'
  /** Why the pages could not be merged or read back, for /health's warnings. */
  #pagesFailure: string | undefined
  #signal: AbortSignal | undefined

  constructor (options: MemoryBackendOptions, files: readonly CsvFile[], log: BackendLog) {
    this.#options = options
    this.#files = files
    this.#log = log
  }

  async load (onProgress: (progress: LoadProgress) => void, signal: AbortSignal): Promise<LoadedData> {
    this.#signal = signal
    const { cacheDir } = this.#options
    // A pipe's contents cannot be told apart from one start to the next.
    this.#storeCache = cacheDir === null || this.#files.some(file => file.pipe)
      ? undefined
      : new StoreCache({ ...this.#options, cacheDir, program: programFingerprint(), signal }, this.#files)
    const started = performance.now()
    const cached = await this.#readCache(signal)
    if (cached) {
      // A store saved since the process started (by another one, on the same folder): the CSV files are not needed.
      this.#options.loadAhead?.stop()
      // What was read back, the store and the saved tables, is this start's load; its pages come after.
      const complete = this.#storeCache!.readPages(cached.store, this.#cachedStoreId!)
      this.#loaded = {
        store: cached.store,
        complete,
        summary: { ...cached.summary, loadMs: Math.round(performance.now() - started) },
        source: 'cache'
      }
      this.#followPages(complete, 'reading', signal)
      return { savedTables: cached.savedTables }
    }
    const { store, complete, summary, sessionTables } = await (this.#options.loadAhead?.take(onProgress, signal) ?? this.#loadCsv(onProgress, signal))
    this.#loaded = { store, complete, summary, source: 'csv' }
    this.#followPages(complete, 'merging', signal)
    // Views of the workers' packed tables: each its own copy unless the cache takes them all, as saved ones.
    const built = ownedUnlessAllFit(sessionTables.map(table => ({ table })), cacheRoom(this.#options))
    this.#builtTables = new Map(built.map(({ table }) => [table.siteUrl, table]))
    return {}
  }

  async #loadCsv (onProgress: (progress: LoadProgress) => void, signal: AbortSignal): Promise<LoadedDataset> {
    // Imported only now: a start that reads its data from the cache never parses, and the parse's modules
    // (papaparse, the WebAssembly module) took some 30 ms of every restart.
    const { loadDataset } = await import('../ingest/dataset.js')
    return await loadDataset(this.#files, { ...csvLoadOptions(this.#options), onProgress, signal })
  }

  /**
   * Follows the pages that `complete` brings (merged after a load from CSV, or read from the cache folder), for
   * /health: pending until they come, then ready, or failed with a warning. Saved pages that cannot be read take
   * the store file with them, so that the next start parses the CSV files and saves them all anew.
   */
  #followPages (complete: Promise<PageViewStore>, pending: 'merging' | 'reading', signal: AbortSignal): void {
    this.#pages = pending
    complete.then(() => { this.#pages = 'ready' }, (error: Error) => {
      // A stop ends the merge or the read: that is no failure to report.
      if (signal.aborted) return
      this.#pages = 'failed'
      this.#pagesFailure = pending === 'merging'
        ? `the pages could not be merged (${error.message}): /site_pages cannot answer until a restart`
        : `the saved pages could not be read (${error.message}): /site_pages cannot answer until a restart, which parses the CSV files again`
      this.#log.warn(this.#pagesFailure)
      if (pending === 'reading') void this.#storeCache!.discardStore()
    })
  }

  /** The store and the session tables saved by an earlier start, when they hold this data folder as it is now. */
  async #readCache (signal: AbortSignal): Promise<({ store: SessionStore, summary: DatasetSummary } & LoadedData) | undefined> {
    // What the read-ahead holds that nobody took (the tables of a store that did not match) goes before any parse.
    return await closingReadAhead(this.#options.readAhead, signal, async () => {
      const storeCache = this.#storeCache
      const cached = storeCache && await this.#readStore(storeCache, signal)
      if (!cached) return undefined
      const savedTables = this.#options.warmCache ? await this.#readSessionTables(storeCache, cached.store, signal) : undefined
      return { ...cached, savedTables }
    })
  }

  /** The store saved by an earlier start, when it holds this data folder as it is now. */
  async #readStore (storeCache: StoreCache, signal: AbortSignal): Promise<{ store: SessionStore, summary: DatasetSummary } | undefined> {
    try {
      const { store, summary, storeId } = await storeCache.readStore()
      this.#cacheFile = 'read'
      this.#cachedStoreId = storeId
      return { store, summary: { ...summary, parseMs: 0, buildMs: 0, workers: 0 } }
    } catch (error) {
      // A stop while reading is a stop, not a fault of the cache; whatever is wrong with the cache costs this
      // start its speed, never its data.
      signal.throwIfAborted()
      const { message } = error as Error
      this.#log[message === NO_CACHE_YET ? 'info' : 'warn'](`store cache ${storeCache.storePath} not used: ${message}; reading the CSV files`)
      return undefined
    }
  }

  async #readSessionTables (storeCache: StoreCache, store: SessionStore, signal: AbortSignal): Promise<SavedTables<SessionTable> | undefined> {
    try {
      const saved = await storeCache.readSessionTables(store, this.#cachedStoreId!)
      return {
        count: saved.count,
        byteSize: saved.byteSize,
        table: siteUrl => saved.table(siteUrl),
        all: room => ownedUnlessAllFit(saved.tables(), room).map(({ table }) => table)
      }
    } catch (error) {
      signal.throwIfAborted()
      this.#log.info(`saved session tables not used: ${(error as Error).message}; computing them`)
      return undefined
    }
  }

  /** Saves a store read from CSV, and session tables computed by warm-up, for the next start. */
  async warmed (tables: readonly SessionTable[]): Promise<void> {
    // What warm-up did not take (the cache was full) is not kept.
    this.#builtTables.clear()
    const storeCache = this.#storeCache
    if (storeCache === undefined || (this.#cachedStoreId !== undefined && tables.length === 0)) return
    const { store, complete, summary } = this.#loaded!
    const signal = this.#signal!
    this.#cacheFile = 'saving'
    try {
      const storeId = this.#cachedStoreId ?? await storeCache.saveStore(await complete, summary, signal)
      if (tables.length > 0) {
        const siteIds = tables.map(table => store.siteIdByUrl.get(table.siteUrl)!)
        await storeCache.saveSessionTables(storeId, tables.map((table, i) => ({ siteId: siteIds[i], table })), signal)
      }
      this.#cacheFile = 'saved'
    } catch (error) {
      this.#cacheFile = 'failed'
      if (!signal.aborted) this.#log.warn(`could not save the store cache: ${(error as Error).message}`)
    }
  }

  get #store (): SessionStore {
    return this.#loaded!.store
  }

  summary (): DatasetSummary {
    return this.#loaded!.summary
  }

  source (): DataSource {
    return this.#loaded!.source
  }

  cacheFile (): CacheFileStatus {
    return this.#cacheFile
  }

  pages (): PagesStatus {
    return this.#pages
  }

  warnings (): readonly string[] {
    return this.#pagesFailure === undefined ? [] : [this.#pagesFailure]
  }

  async siteUrls (): Promise<readonly string[]> {
    const store = this.#store
    return Array.from(store.siteUrls, (_, siteId) => siteId)
      .sort((a, b) => siteRowCount(store, b) - siteRowCount(store, a))
      .map(siteId => store.siteUrls[siteId])
  }

  async sessionTables (siteUrls: readonly string[]): Promise<Map<string, SessionTable>> {
    const store = this.#store
    const tables = new Map<string, SessionTable>()
    for (const siteUrl of siteUrls) {
      const built = this.#builtTables.get(siteUrl)
      const siteId = store.siteIdByUrl.get(siteUrl)
      // A built table is handed out once: the cache holds it from then on, or has let it go.
      if (built) this.#builtTables.delete(siteUrl)
      if (siteId !== undefined) tables.set(siteUrl, built ?? await sessionizeSite(store, siteId, this.#options.sessionTimeoutSeconds))
    }
    return tables
  }

  async summarizeRange (tables: readonly SessionTable[], range: TimeRange): Promise<SessionSummary[]> {
    const summaries = []
    for (const table of tables) summaries.push(await summarizeRange(table, this.#store, range))
    return summaries
  }

  visitedSites (visitorId: string): number | undefined {
    const store = this.#store
    const id = store.visitors.find(visitorId)
    return id === -1 ? undefined : numUniqueVisitedSites(store, id)
  }

  siteTimeline (table: SessionTable, range: TimeRange): Promise<SiteTimeline> {
    return siteTimeline(table, this.#store, range)
  }

  async sitePages (table: SessionTable, range: TimeRange, limit: number): Promise<SitePages> {
    // Whatever the pages' failure was, it is /health's warning, and only this route's.
    const store = await this.#loaded!.complete.catch(() => { throw new PagesUnavailableError() })
    return sitePages(table, store, range, limit)
  }

  async close (): Promise<void> {}
}
