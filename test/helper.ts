// Builds the app for a test over a data folder, and closes it when the test ends.
import { join } from 'node:path'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import app, { serverOptions, type AppOptions } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { PROJECT_ROOT } from '../src/project-root.js'
import type { SiteRow } from '../src/domain/queries.js'

export const DEFAULT_TEST_OPTIONS: Omit<AppOptions, 'dataDir'> = {
  // The backend's settings as a start without variables has them: memory, and ClickHouse's defaults.
  ...loadConfig({}),
  sessionTimeoutSeconds: 1800,
  cacheMaxBytes: 64 * 1024 * 1024,
  cacheMaxSites: 1000,
  strictCsv: false,
  csvFastPath: true,
  loadWorkers: 0,
  warmCache: false,
  cacheDir: null
}

export async function build (t: Test, options: Partial<AppOptions> & { dataDir: string }): Promise<FastifyInstance> {
  const server = Fastify({ ...serverOptions, logger: false })
  await server.register(app, { ...DEFAULT_TEST_OPTIONS, ...options })
  await server.ready()
  t.teardown(() => server.close())
  return server
}

/** Builds the app and waits until its data is loaded. */
export async function buildLoaded (t: Test, options: Partial<AppOptions> & { dataDir: string }): Promise<FastifyInstance> {
  const server = await build(t, options)
  await server.sessions.loaded
  return server
}

/** GET with a query string built from `query`, as text or JSON. */
export function get (server: FastifyInstance, url: string, query: Record<string, string> = {}, json = false):
Promise<LightMyRequestResponse> {
  return server.inject({
    method: 'GET',
    url,
    query,
    headers: json ? { accept: 'application/json' } : {}
  })
}

/** A CSV line per page view. */
export function csv (rows: [visitor: string, site: string, timestamp: number | string][]): string {
  return rows.map(([visitor, site, timestamp]) => `${visitor},${site},${site}/page,${timestamp}\n`).join('')
}

/**
 * For a process that runs the bundle (npm start): tap counts the coverage of the processes a test starts, and
 * the bundle's is not the sources' (it holds the dependencies too). The compiled server's counts for them.
 */
export const BUNDLE_COVERAGE_OFF = { _TAPJS_PROCESSINFO_COVERAGE_: '0' }

/**
 * The compiled form of a source file (`src/server.ts` → `dist/src/server.js`), which `npm test` builds first:
 * a child process starts from it in a fraction of a second, under the TypeScript loader in seconds.
 */
export function compiled (sourcePath: string): string {
  return join(PROJECT_ROOT, 'dist', sourcePath.replace(/\.ts$/, '.js'))
}

/** Every site's line in /sites, a page of a thousand at a time, in natural order. */
export async function allSites (server: FastifyInstance): Promise<SiteRow[]> {
  const sites: SiteRow[] = []
  for (;;) {
    const page = (await get(server, '/sites', { offset: String(sites.length), limit: '1000' })).json() as { total: number, sites: SiteRow[] }
    sites.push(...page.sites)
    if (sites.length >= page.total) return sites
  }
}
