// Starts the process: config → Fastify → app → listen; exits non-zero when the data cannot be loaded.
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'

function readConfig (): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(`sessionizer: ${error.message}`)
    process.exit(1)
  }
}

const config = readConfig()
const server = Fastify({ logger: { level: config.logLevel } })

async function stop (exitCode: number): Promise<void> {
  await server.close()
  process.exit(exitCode)
}

try {
  await server.register(app, config)
  await server.listen({ port: config.port, host: config.host })
} catch (error) {
  server.log.fatal(`cannot start: ${(error as Error).message}`)
  await stop(1)
}

server.sessions.loaded.catch(async (error: Error) => {
  server.log.fatal(`cannot load data: ${error.message}`)
  await stop(1)
})

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.log.info(`${signal}: closing`)
    void stop(0)
  })
}
