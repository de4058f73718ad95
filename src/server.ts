// Starts the process: Node's tick records kept → config → the cache files' read-ahead, or the CSV files' load → Fastify → app →
// listen; exits non-zero when the data cannot be loaded.
import { existsSync } from 'node:fs'
import { loadConfig, type Config } from './config.js'
import { CacheReadAhead } from './domain/cache-read-ahead.js'
import { cacheFilePaths } from './domain/store-cache.js'
import { listCsvFiles } from './ingest/data-folder.js'
import type { LoadAhead } from './ingest/load-ahead.js'
import type { FastifyInstance } from 'fastify'
import { keepTickRecordShapes } from './tick-records.js'

// First of all, before a load's garbage collections: see tick-records.ts.
keepTickRecordShapes()

function readConfig (): Config {
  try {
    return loadConfig()
  } catch (error) {
    console.error(`sessionizer: ${(error as Error).message}`)
    process.exit(1)
  }
}

/**
 * The memory backend's cache files, read on a worker from now on. The session tables too, even without
 * warm-up, which does not use them: there are none then unless an earlier start saved them.
 */
function readCacheFilesAhead ({ backend, cacheDir, dataDir }: Config): CacheReadAhead | undefined {
  if (backend !== 'memory' || cacheDir === null) return undefined
  const { store, tables } = cacheFilePaths(cacheDir, dataDir)
  return new CacheReadAhead([store, tables])
}

/**
 * The memory backend's load of the CSV files, begun now when there is no saved store to read (no cache folder,
 * or nothing saved in it yet): the parse's workers then run while this thread imports and starts the server.
 * A data folder that cannot be listed is left to the app, which reports it as ever.
 */
async function loadCsvFilesAhead (config: Config): Promise<LoadAhead | undefined> {
  const { backend, cacheDir, dataDir } = config
  if (backend !== 'memory' || (cacheDir !== null && existsSync(cacheFilePaths(cacheDir, dataDir).store))) return undefined
  const files = await listCsvFiles(dataDir).catch(() => undefined)
  if (files === undefined) return undefined
  const [{ LoadAhead }, { csvLoadOptions }] = await Promise.all([import('./ingest/load-ahead.js'), import('./backends/memory.js')])
  return new LoadAhead(files, csvLoadOptions(config))
}

/**
 * Everything after the imports, in a function rather than at the top level: a module that awaits at its top
 * level cannot be bundled as CommonJS, which is what lets npm start keep V8's compiled code (scripts/start.mjs).
 */
async function main (): Promise<void> {
  const config = readConfig()
  // Before anything else: the cache files are read on a worker while this thread imports Fastify and the app
  // (imported statically, they would all be loaded before this line ran).
  const readAhead = readCacheFilesAhead(config)

  /** A close that has not finished by then (a hung file system, say) no longer holds the process. */
  const CLOSE_DEADLINE_MS = 3000
  /** The server, once made: a signal before then has nothing to close. */
  const made: { server?: Pick<FastifyInstance, 'close' | 'log'> } = {}
  let stopping = false

  async function stop (exitCode: number): Promise<void> {
    // A second signal while closing (the test sends one, but whether it lands before the exit is a race).
    /* c8 ignore next */
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(exitCode), CLOSE_DEADLINE_MS).unref()
    await made.server?.close()
    process.exit(exitCode)
  }

  // Before anything slow: a signal during start-up or loading stops the process as promptly as one later.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      made.server?.log.info(`${signal}: closing`)
      void stop(0)
    })
  }

  const loadAhead = await loadCsvFilesAhead(config)
  const { default: Fastify, LogController } = await import('fastify')
  const { default: app, serverOptions } = await import('./app.js')

  // Requests are logged only with ACCESS_LOG (and a level of info or below): it halves a cached query's
  // throughput. Without it every request shares the root logger instead of making a child logger each, which
  // alone costs a fifth. Silent means no logger at all, which is the fastest, as a bare Fastify.
  const logsRequests = config.accessLog && ['info', 'debug', 'trace'].includes(config.logLevel)
  const fastify = Fastify({
    ...serverOptions,
    logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
    // On close, connections are ended rather than awaited: a client stuck in a request must not hold the exit.
    forceCloseConnections: true,
    ...(!logsRequests && { childLoggerFactory: logger => logger, logController: new LogController({ disableRequestLogging: true }) })
  })
  made.server = fastify

  function fail (message: string): void {
    // Once stopping, an aborted load or start is the stop itself, not a failure.
    if (stopping) return
    fastify.log.fatal(message)
    void stop(1)
  }

  try {
    await fastify.register(app, { ...config, readAhead, loadAhead })
    await fastify.listen({ port: config.port, host: config.host })
    fastify.sessions.loaded.catch((error: Error) => fail(`cannot load data: ${error.message}`))
  } catch (error) {
    fail(`cannot start: ${(error as Error).message}`)
  }
}

void main()
