// The seam between the service and where page views live: the memory store, or a ClickHouse database. The
// service above it keeps the LRU of session tables, warm-up and the 503 while loading, for both alike.
import type { DatasetSummary, LoadProgress } from '../ingest/dataset.js'
import type { CacheRoom, SessionSummary } from '../domain/sessions.js'
import type { SitePages, SiteTimeline } from '../domain/queries.js'
import type { TimeRange } from '../domain/time-range.js'

import type { FastifyBaseLogger } from 'fastify'

/** What a backend logs through: Fastify's logger when serving, the console when a script runs it. */
export type BackendLog = Pick<FastifyBaseLogger, 'info' | 'warn'>

export const BACKENDS = ['memory', 'clickhouse'] as const
export type BackendName = typeof BACKENDS[number]

/** Where this start's data came from: parsed CSV, the memory backend's saved store, or a database. */
export type DataSource = 'csv' | 'cache' | 'database'
/** What became of saving the loaded data for the next start ('off' for a backend that keeps its own). */
export type CacheFileStatus = 'off' | 'read' | 'saving' | 'saved' | 'failed'
/**
 * Whether a site's pages can be answered: a load from CSV merges the pages after the rest is ready ('merging'),
 * a restart reads them from the cache folder after the rest ('reading'), and /site_pages waits for them; a merge
 * or a read can fail ('failed', and /site_pages answers 503 until a restart).
 */
export type PagesStatus = 'merging' | 'reading' | 'ready' | 'failed'

/** How many bad rows a load reports with their file and line (it counts them all): /health lists them. */
export const MAX_BAD_ROW_EXAMPLES = 10

/** A site's sessions as the cache holds them: what its statistics are computed from, and what it costs. */
export interface SiteTable extends SessionSummary {
  readonly byteSize: number
}

/** Session tables an earlier start saved, to fill the cache with instead of warming it: each made when asked for. */
export interface SavedTables<Table extends SiteTable = SiteTable> {
  readonly count: number
  /** What they all cost in memory, as the cache counts them. */
  readonly byteSize: number
  /** A site's table; undefined for a site without one. */
  table (siteUrl: string): Table | undefined
  /** Every table, busiest site first: each with arrays of its own unless all fit `room`, so that those left out can be freed. */
  all (room: CacheRoom): Table[]
}

export interface LoadedData {
  savedTables?: SavedTables
}

export interface SessionBackend<Table extends SiteTable = SiteTable> {
  readonly name: BackendName
  /** How long an answer may be kept, in milliseconds: Infinity when the data cannot change once loaded. */
  readonly ttlMs: number
  /** Loads (or ingests) the data; an abort stops it and rejects with the signal's reason. */
  load (onProgress: (progress: LoadProgress) => void, signal: AbortSignal): Promise<LoadedData>
  /** The data as it stands: for /health and /metrics, so at hand without waiting. */
  summary (): DatasetSummary
  source (): DataSource
  cacheFile (): CacheFileStatus
  pages (): PagesStatus
  /** What an operator should know about the data that is no fault of a row: files not loaded, and why. */
  warnings (): readonly string[]
  /** Every site's URL, the busiest first. */
  siteUrls (): Promise<readonly string[]>
  /** The session tables of the sites listed; a site without page views has none. */
  sessionTables (siteUrls: readonly string[]): Promise<Map<string, Table>>
  /** For each table, the summary of its sessions that began in the range. */
  summarizeRange (tables: readonly Table[], range: TimeRange): Promise<SessionSummary[]>
  /** How many distinct sites a visitor has viewed; undefined for a visitor with no page view. */
  visitedSites (visitorId: string): number | undefined | Promise<number | undefined>
  siteTimeline (table: Table, range: TimeRange): Promise<SiteTimeline>
  sitePages (table: Table, range: TimeRange, limit: number): Promise<SitePages>
  /** Session tables warm-up computed, which a backend may keep for its next start. */
  warmed (tables: readonly Table[]): Promise<void>
  close (): Promise<void>
}
