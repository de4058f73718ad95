// npm run clickhouse:schema -- [--database DB] URL…: creates the tables each shard of a cluster holds, on every
// server listed (the service creates the rest), as CLICKHOUSE_USER with CLICKHOUSE_PASSWORD when they are set. For clusters without distributed DDL (no ZooKeeper or Keeper),
// such as the one npm run clickhouse:up starts, which runs this itself.
import { parseArgs } from 'node:util'
import { createClient, ClickHouseLogLevel } from '@clickhouse/client'
import { IDENTIFIER, run, shardStatements } from '../src/backends/clickhouse/schema.js'

const { values, positionals } = parseArgs({ options: { database: { type: 'string', default: 'sessionizer' } }, allowPositionals: true })
try {
  if (!IDENTIFIER.test(values.database)) throw new Error(`--database must be letters, digits and underscores, got ${JSON.stringify(values.database)}`)
  if (positionals.length === 0) throw new Error('usage: clickhouse:schema -- [--database DB] URL…')
  for (const url of positionals) {
    const client = createClient({
      url,
      username: process.env.CLICKHOUSE_USER || 'default',
      password: process.env.CLICKHOUSE_PASSWORD ?? '',
      log: { level: ClickHouseLogLevel.OFF }
    })
    try {
      await run(client, shardStatements(values.database, true))
    } finally {
      await client.close()
    }
  }
  console.log(`${values.database}.page_views_local is on ${positionals.join(', ')}`)
} catch (error) {
  console.error(`clickhouse:schema: ${(error as Error).message}`)
  process.exit(1)
}
