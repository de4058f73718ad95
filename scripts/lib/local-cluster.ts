// scripts/clickhouse.sh as the bench and the tests run it: whether ClickHouse is installed, and the script
// itself with a cluster home of the caller's own.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../src/project-root.js'

export const CLICKHOUSE_INSTALLED = spawnSync('bash', ['-c', 'command -v clickhouse-server']).status === 0

/** Runs `scripts/clickhouse.sh` with the cluster's files in `home`. */
export function clickhouseScript (home: string, ...args: string[]): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'clickhouse.sh'), ...args], { env: { ...process.env, CLICKHOUSE_HOME: home }, encoding: 'utf8' })
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr }
}

/** Runs it, and throws with what it said when it fails. */
export function clickhouseScriptOrThrow (home: string, ...args: string[]): void {
  const result = clickhouseScript(home, ...args)
  if (result.status !== 0) throw new Error(`clickhouse.sh ${args.join(' ')}: ${result.stderr}`)
}
