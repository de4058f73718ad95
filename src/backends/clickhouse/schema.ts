// The tables the ClickHouse backend reads and writes, created when missing. On one server, `page_views` is a
// MergeTree; on a cluster, each shard holds its share in `page_views_local`, and `page_views` is a Distributed
// table over them, sharded by a hash of visitor_id, so that no visitor's views span two shards.
import type { ClickHouseClient } from '@clickhouse/client'
import { quote } from './sql.js'

export const PAGE_VIEWS = 'page_views'
export const PAGE_VIEWS_LOCAL = 'page_views_local'
/** Each visitor's sites, ordered by visitor: a visitor's question reads its own rows, not the whole table. */
export const VISITOR_SITES = 'visitor_sites'
export const INGESTED_FILES = 'ingested_files'

const COLUMNS = '(visitor_id String, site_url String, page_view_url String, timestamp UInt64)'

/** A database or table name: plain identifiers only, so that names need no quoting rules of their own. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/

/**
 * What every server that holds page views needs: the table of its views, ordered by site so that one site's
 * question reads its own granules, and the visitors' sites, kept by a materialized view as rows arrive.
 */
export function shardStatements (database: string, clustered: boolean): string[] {
  const views = `${database}.${clustered ? PAGE_VIEWS_LOCAL : PAGE_VIEWS}`
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}`,
    `CREATE TABLE IF NOT EXISTS ${views} ${COLUMNS} ENGINE = MergeTree ORDER BY (site_url, visitor_id, timestamp)`,
    // POPULATE: a table that other producers filled before the service first came holds visitors too.
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.${VISITOR_SITES}
      ENGINE = ReplacingMergeTree ORDER BY (visitor_id, site_url) POPULATE
      AS SELECT visitor_id, site_url FROM ${views}`
  ]
}

/** What the server the service talks to needs besides: the Distributed table of a cluster, and the files loaded. */
export function entryStatements (database: string, cluster: string | null): string[] {
  return [
    ...cluster === null
      ? []
      : [`CREATE TABLE IF NOT EXISTS ${database}.${PAGE_VIEWS} ${COLUMNS}
          ENGINE = Distributed(${cluster}, ${database}, ${PAGE_VIEWS_LOCAL}, sipHash64(visitor_id))`],
    `CREATE TABLE IF NOT EXISTS ${database}.${INGESTED_FILES}
      (file String, bytes UInt64, mtime_ms UInt64, state String, rows UInt64, skipped_rows UInt64, recorded_ms UInt64)
      ENGINE = MergeTree ORDER BY file`
  ]
}

export async function run (client: ClickHouseClient, statements: readonly string[]): Promise<void> {
  for (const query of statements) await client.command({ query })
}

/** How many shards a cluster has: 0 when the server has no cluster of that name. */
export async function shardCount (client: ClickHouseClient, cluster: string): Promise<number> {
  return Number(await single(client, `SELECT uniqExact(shard_num) AS value FROM system.clusters WHERE cluster = ${quote(cluster)}`))
}

/** How many of a cluster's shards hold the page-view table. */
export async function shardsWithTable (client: ClickHouseClient, database: string, cluster: string): Promise<number> {
  return Number(await single(client, `SELECT count() AS value FROM cluster(${cluster}, system, tables)
    WHERE database = ${quote(database)} AND name = ${quote(PAGE_VIEWS_LOCAL)}`))
}

async function single (client: ClickHouseClient, query: string): Promise<string> {
  const rows = await (await client.query({ query, format: 'JSONEachRow' })).json<{ value: string }>()
  return rows[0].value
}
