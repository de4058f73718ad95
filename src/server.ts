// Starts the process: config → Fastify → app → listen; exits non-zero when the data cannot be loaded.
import Fastify, { LogController } from 'fastify'
import app, { serverOptions } from './app.js'
import { loadConfig, type Config } from './config.js'

function readConfig (): Config {
  try {
    return loadConfig()
  } catch (error) {
    console.error(`sessionizer: ${(error as Error).message}`)
    process.exit(1)
  }
}

const config = readConfig()
// Requests are logged only with ACCESS_LOG (and a level of info or below): it halves a cached query's
// throughput. Without it every request shares the root logger instead of making a child logger each, which
// alone costs a fifth. Silent means no logger at all, which is the fastest, as a bare Fastify.
const logsRequests = config.accessLog && ['info', 'debug', 'trace'].includes(config.logLevel)
const server = Fastify({
  ...serverOptions,
  logger: config.logLevel === 'silent' ? false : { level: config.logLevel },
  // On close, connections are ended rather than awaited: a client stuck in a request must not hold the exit.
  forceCloseConnections: true,
  ...(!logsRequests && { childLoggerFactory: logger => logger, logController: new LogController({ disableRequestLogging: true }) })
})

/** A close that has not finished by then (a hung file system, say) no longer holds the process. */
const CLOSE_DEADLINE_MS = 3000
let stopping = false

async function stop (exitCode: number): Promise<void> {
  // A second signal while closing (the test sends one, but whether it lands before the exit is a race).
  /* c8 ignore next */
  if (stopping) return
  stopping = true
  setTimeout(() => process.exit(exitCode), CLOSE_DEADLINE_MS).unref()
  await server.close()
  process.exit(exitCode)
}

function fail (message: string): void {
  // Once stopping, an aborted load or start is the stop itself, not a failure.
  if (stopping) return
  server.log.fatal(message)
  void stop(1)
}

// Before anything slow: a signal during start-up or loading stops the process as promptly as one later.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.log.info(`${signal}: closing`)
    void stop(0)
  })
}

try {
  await server.register(app, config)
  await server.listen({ port: config.port, host: config.host })
  server.sessions.loaded.catch((error: Error) => fail(`cannot load data: ${error.message}`))
} catch (error) {
  fail(`cannot start: ${(error as Error).message}`)
}
