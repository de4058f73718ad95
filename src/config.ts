// Environment variables → a typed, validated Config; a bad value stops the start with a message naming it.
import { availableParallelism } from 'node:os'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import { PROJECT_ROOT } from './project-root.js'
import { BACKENDS } from './backends/backend.js'
import { IDENTIFIER } from './backends/clickhouse/schema.js'
import type { SessionsOptions } from './plugins/sessions.js'

/** What the app needs (the sessions plugin's options, with each backend's), and the server's own settings. */
export interface Config extends SessionsOptions {
  port: number
  host: string
  logLevel: LogLevel
  /** Log every request (two lines each, at info): off by default, it halves a cached query's throughput. */
  accessLog: boolean
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Env = Record<string, string | undefined>

function integer (env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return value
}

function oneOf<T extends string> (env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`)
  }
  return raw as T
}

function flag (env: Env, name: string, fallback: boolean): boolean {
  return ['1', 'true'].includes(oneOf(env, name, fallback ? '1' : '0', ['0', '1', 'false', 'true']))
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i

function host (env: Env, name: string, fallback: string): string {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (isIP(raw) === 0 && !HOST_NAME.test(raw)) {
    throw new ConfigError(`${name} must be an IP address or a host name, got ${JSON.stringify(raw)}`)
  }
  return raw
}

function httpUrl (env: Env, name: string, fallback: string): string {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!URL.canParse(raw) || !['http:', 'https:'].includes(new URL(raw).protocol)) {
    throw new ConfigError(`${name} must be an http:// or https:// URL, got ${JSON.stringify(raw)}`)
  }
  return raw
}

function identifier (env: Env, name: string, fallback: string): string {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!IDENTIFIER.test(raw)) {
    throw new ConfigError(`${name} must be letters, digits and underscores, not starting with a digit, got ${JSON.stringify(raw)}`)
  }
  return raw
}

function cacheDir (env: Env): string | null {
  const raw = env.CACHE_DIR
  if (raw === undefined) return join(PROJECT_ROOT, '.cache')
  return raw === '' || raw === '0' ? null : resolve(raw)
}

export function loadConfig (env: Env = process.env): Config {
  return {
    backend: oneOf(env, 'BACKEND', 'memory', BACKENDS),
    clickhouseUrl: httpUrl(env, 'CLICKHOUSE_URL', 'http://127.0.0.1:8123'),
    clickhouseDatabase: identifier(env, 'CLICKHOUSE_DATABASE', 'sessionizer'),
    clickhouseUser: env.CLICKHOUSE_USER ?? '',
    clickhousePassword: env.CLICKHOUSE_PASSWORD ?? '',
    clickhouseCluster: identifier(env, 'CLICKHOUSE_CLUSTER', 'sessionizer'),
    cacheTtlSeconds: integer(env, 'CACHE_TTL_SECONDS', 60, 1, 365 * 86_400),
    clickhouseQueryTimeoutSeconds: integer(env, 'CLICKHOUSE_QUERY_TIMEOUT_SECONDS', 30, 1, 86_400),
    port: integer(env, 'PORT', 5000, 0, 65535),
    host: host(env, 'HOST', '127.0.0.1'),
    dataDir: resolve(env.DATA_DIR || 'data'),
    sessionTimeoutSeconds: integer(env, 'SESSION_TIMEOUT_SECONDS', 1800, 0),
    cacheMaxBytes: integer(env, 'CACHE_MAX_BYTES', 256 * 1024 * 1024, 1),
    cacheMaxSites: integer(env, 'CACHE_MAX_SITES', 100_000, 1),
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', LOG_LEVELS),
    strictCsv: flag(env, 'STRICT_CSV', false),
    csvFastPath: flag(env, 'CSV_FAST_PATH', true),
    loadWorkers: integer(env, 'LOAD_WORKERS', availableParallelism(), 0, 256),
    warmCache: flag(env, 'WARM_CACHE', true),
    accessLog: flag(env, 'ACCESS_LOG', false),
    cacheDir: cacheDir(env)
  }
}
