// A local ClickHouse cluster for a test file, started with the project's own script and stopped by its pids.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { createClient, ClickHouseLogLevel } from '@clickhouse/client'
import t, { type Test } from 'tap'
import { CLICKHOUSE_INSTALLED, clickhouseScriptOrThrow } from '../scripts/lib/local-cluster.js'
import { run as runStatements, shardStatements } from '../src/backends/clickhouse/schema.js'

export { CLICKHOUSE_INSTALLED }

/**
 * Whether a test file's requirement is met. When it is not, the file says why and runs nothing: a failure under
 * CI, which must not skip it silently, a skip elsewhere.
 */
export function requires (met: boolean, test: string, why: string): boolean {
  if (met) return true
  if (process.env.CI) t.fail(`${test}: ${why}; CI must not skip it`)
  else t.plan(0, `${test}: ${why}`)
  return false
}

export const NEEDS_CLICKHOUSE = 'needs clickhouse-server (npm test installs it as root: scripts/clickhouse.sh install)'

export interface Cluster {
  url: string
  /** Each shard's HTTP URL. */
  shardUrls: string[]
  /** Starts the cluster (again). */
  up: () => void
  down: () => void
  /** Sends a signal to every shard's server, by its recorded pid. */
  signal: (signal: NodeJS.Signals) => void
  /**
   * A database of its own for a test; clustered, with each shard's tables created as `npm run clickhouse:up`
   * creates them (a server used alone gets its tables from the service).
   */
  database: (clustered: boolean) => Promise<string>
}

/** Starts a cluster of `shards` on ports of its own (`offset` keeps test files apart), stopped when `t` ends. */
export function startCluster (t: Test, shards: number, offset: number): Cluster {
  // Not a tap fixture: those are removed before teardowns run, pid files with them, and `down` needs those.
  const home = mkdtempSync(join(tmpdir(), 'sessionizer-clickhouse-'))
  // Shard i listens on base + i, + 100 + i and + 200 + i: clusters whose offsets differ by 10 or more share no
  // port. Below the script test's ports, and below Linux's ephemeral ports, which connections may hold.
  const base = 10_000 + (process.pid % 45) * 300 + offset
  const script = (...args: string[]): void => clickhouseScriptOrThrow(home, ...args)
  const shardUrls = Array.from({ length: shards }, (_, i) => `http://127.0.0.1:${base + i}`)
  const cluster: Cluster = {
    url: shardUrls[0],
    shardUrls,
    up: () => script('up', '--shards', String(shards), '--http-port', String(base)),
    down: () => script('down'),
    signal: signal => {
      for (let shard = 0; shard < shards; shard++) process.kill(Number(readFileSync(join(home, `shard-${shard}`, 'pid'), 'utf8')), signal)
    },
    database: async clustered => {
      const name = `test_${randomUUID().replaceAll('-', '').slice(0, 12)}`
      for (const url of clustered ? shardUrls : []) {
        const client = createClient({ url, log: { level: ClickHouseLogLevel.OFF } })
        await runStatements(client, shardStatements(name, true))
        await client.close()
      }
      return name
    }
  }
  cluster.up()
  t.teardown(() => {
    cluster.down()
    rmSync(home, { recursive: true, force: true })
  })
  return cluster
}
