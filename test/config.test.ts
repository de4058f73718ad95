import t from 'tap'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { ConfigError, loadConfig } from '../src/config.js'
import { PROJECT_ROOT } from '../src/project-root.js'

t.test('defaults', async t => {
  t.same(loadConfig({}), {
    backend: 'memory',
    clickhouseUrl: 'http://127.0.0.1:8123',
    clickhouseDatabase: 'sessionizer',
    clickhouseUser: '',
    clickhousePassword: '',
    clickhouseCluster: 'sessionizer',
    cacheTtlSeconds: 60,
    clickhouseQueryTimeoutSeconds: 30,
    port: 5000,
    host: '127.0.0.1',
    dataDir: resolve('data'),
    sessionTimeoutSeconds: 1800,
    cacheMaxBytes: 256 * 1024 * 1024,
    cacheMaxSites: 100_000,
    logLevel: 'info',
    strictCsv: false,
    csvFastPath: true,
    loadWorkers: availableParallelism(),
    warmCache: true,
    accessLog: false,
    cacheDir: join(PROJECT_ROOT, '.cache')
  })
})

t.test('every variable is read', async t => {
  t.same(loadConfig({
    BACKEND: 'clickhouse',
    CLICKHOUSE_URL: 'https://ch.example.org:8443',
    CLICKHOUSE_DATABASE: 'analytics_2',
    CLICKHOUSE_USER: 'reader',
    CLICKHOUSE_PASSWORD: 'p@ss word',
    CLICKHOUSE_CLUSTER: 'main',
    CACHE_TTL_SECONDS: '5',
    CLICKHOUSE_QUERY_TIMEOUT_SECONDS: '7',
    PORT: '8080',
    HOST: '0.0.0.0',
    DATA_DIR: '/srv/logs',
    SESSION_TIMEOUT_SECONDS: '600',
    CACHE_MAX_BYTES: '1024',
    CACHE_MAX_SITES: '5',
    LOG_LEVEL: 'warn',
    STRICT_CSV: '1',
    CSV_FAST_PATH: 'false',
    LOAD_WORKERS: '0',
    WARM_CACHE: '0',
    ACCESS_LOG: '1',
    CACHE_DIR: '/var/cache/sessionizer'
  }), {
    backend: 'clickhouse',
    clickhouseUrl: 'https://ch.example.org:8443',
    clickhouseDatabase: 'analytics_2',
    clickhouseUser: 'reader',
    clickhousePassword: 'p@ss word',
    clickhouseCluster: 'main',
    cacheTtlSeconds: 5,
    clickhouseQueryTimeoutSeconds: 7,
    port: 8080,
    host: '0.0.0.0',
    dataDir: '/srv/logs',
    sessionTimeoutSeconds: 600,
    cacheMaxBytes: 1024,
    cacheMaxSites: 5,
    logLevel: 'warn',
    strictCsv: true,
    csvFastPath: false,
    loadWorkers: 0,
    warmCache: false,
    accessLog: true,
    cacheDir: '/var/cache/sessionizer'
  })
  t.equal(loadConfig({ CACHE_DIR: 'rel' }).cacheDir, resolve('rel'))
  t.equal(loadConfig({ CACHE_DIR: '' }).cacheDir, null, 'empty: no cache')
  t.equal(loadConfig({ CACHE_DIR: '0' }).cacheDir, null, '0: no cache')
  t.equal(loadConfig({ STRICT_CSV: 'true' }).strictCsv, true)
  t.equal(loadConfig({ STRICT_CSV: 'false' }).strictCsv, false)
})

t.test('a bad value names its variable', async t => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: 'http' }, /^PORT must be an integer from 0 to 65535, got "http"$/],
    [{ PORT: '70000' }, /^PORT/],
    [{ SESSION_TIMEOUT_SECONDS: '-1' }, /^SESSION_TIMEOUT_SECONDS/],
    [{ SESSION_TIMEOUT_SECONDS: '1.5' }, /^SESSION_TIMEOUT_SECONDS/],
    [{ CACHE_MAX_BYTES: '0' }, /^CACHE_MAX_BYTES must be an integer from 1/],
    [{ CACHE_MAX_SITES: 'lots' }, /^CACHE_MAX_SITES/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"$/],
    [{ STRICT_CSV: 'yes' }, /^STRICT_CSV must be one of 0, 1, false, true/],
    [{ CSV_FAST_PATH: 'off' }, /^CSV_FAST_PATH must be one of 0, 1, false, true/],
    [{ LOAD_WORKERS: '-2' }, /^LOAD_WORKERS must be an integer from 0 to 256/],
    [{ HOST: 'not a host' }, /^HOST must be an IP address or a host name, got "not a host"$/],
    [{ HOST: 'http://localhost' }, /^HOST/],
    [{ BACKEND: 'duckdb' }, /^BACKEND must be one of memory, clickhouse, got "duckdb"$/],
    [{ CLICKHOUSE_URL: '127.0.0.1:8123' }, /^CLICKHOUSE_URL must be an http:\/\/ or https:\/\/ URL, got "127.0.0.1:8123"$/],
    [{ CLICKHOUSE_URL: 'ftp://host' }, /^CLICKHOUSE_URL/],
    [{ CLICKHOUSE_DATABASE: 'a;DROP TABLE x' }, /^CLICKHOUSE_DATABASE must be letters, digits and underscores/],
    [{ CLICKHOUSE_CLUSTER: '1st' }, /^CLICKHOUSE_CLUSTER must be letters/],
    [{ CACHE_TTL_SECONDS: '0' }, /^CACHE_TTL_SECONDS must be an integer from 1/],
    [{ CLICKHOUSE_QUERY_TIMEOUT_SECONDS: 'never' }, /^CLICKHOUSE_QUERY_TIMEOUT_SECONDS must be an integer from 1 to 86400/]
  ]
  for (const [env, message] of cases) t.throws(() => loadConfig(env), { name: 'ConfigError', message })
  for (const host of ['localhost', '::1', '10.0.0.1', 'db-1.example.org']) t.equal(loadConfig({ HOST: host }).host, host)
  t.type(new ConfigError('x'), Error)
})
