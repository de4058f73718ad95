// The DuckDB peer for the benchmark: the same answers as Sessionizer, computed with SQL window functions.
import { DuckDBInstance } from '@duckdb/node-api'

export interface SiteAnswer {
  sessions: number
  median: number
}

export interface DatasetAnswers {
  sites: Map<string, SiteAnswer>
  /** Distinct sites per visitor, for the visitors asked about; absent visitors are left out. */
  visitors: Map<string, number>
}

/**
 * Loads every CSV of `dir` and answers sessions and median per site, and distinct sites per visitor.
 * Ties matter: two views of one visitor in the same second make a ROWS-framed running sum depend on row
 * order, so the running sum is framed by RANGE, which gives tied rows the same session number.
 */
export async function duckdbAnswers (dir: string, timeoutSeconds: number, visitorSample: readonly string[], threads: number): Promise<DatasetAnswers> {
  const instance = await DuckDBInstance.create(':memory:', { threads: String(threads) })
  const connection = await instance.connect()
  const glob = `${dir.replaceAll("'", "''")}/*.csv`
  await connection.run(`CREATE TABLE views AS SELECT * FROM read_csv('${glob}', header = false, auto_detect = false,
    delim = ',', quote = '"', columns = {'visitor_id': 'VARCHAR', 'site_url': 'VARCHAR', 'page_view_url': 'VARCHAR', 'ts': 'BIGINT'})`)
  const siteRows = await (await connection.runAndReadAll(`
    WITH flagged AS (
      SELECT site_url, visitor_id, ts,
        CASE WHEN ts - lag(ts) OVER (PARTITION BY site_url, visitor_id ORDER BY ts) <= ${timeoutSeconds} THEN 0 ELSE 1 END AS starts_session
      FROM views),
    numbered AS (
      SELECT site_url, visitor_id, ts,
        sum(starts_session) OVER (PARTITION BY site_url, visitor_id ORDER BY ts
          RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session
      FROM flagged),
    sessions AS (SELECT site_url, max(ts) - min(ts) AS length FROM numbered GROUP BY site_url, visitor_id, session)
    SELECT site_url, count(*)::DOUBLE AS sessions, median(length)::DOUBLE AS median FROM sessions GROUP BY site_url`)).getRowObjectsJS()
  const visitorRows = await (await connection.runAndReadAll(
    'SELECT visitor_id, count(DISTINCT site_url)::DOUBLE AS sites FROM views GROUP BY visitor_id')).getRowObjectsJS()
  connection.closeSync()
  instance.closeSync()
  const wanted = new Set(visitorSample)
  return {
    sites: new Map(siteRows.map(row => [String(row.site_url), { sessions: Number(row.sessions), median: Number(row.median) }])),
    visitors: new Map(visitorRows.filter(row => wanted.has(String(row.visitor_id)))
      .map(row => [String(row.visitor_id), Number(row.sites)]))
  }
}

/** Every disagreement between two sets of answers, as readable lines; empty when they agree. */
export function compareAnswers (ours: DatasetAnswers, theirs: DatasetAnswers, visitorSample: readonly string[]): string[] {
  const problems: string[] = []
  const sites = new Set([...ours.sites.keys(), ...theirs.sites.keys()])
  for (const site of sites) {
    const a = ours.sites.get(site)
    const b = theirs.sites.get(site)
    if (!a || !b) problems.push(`site ${site}: only ${a ? 'Sessionizer' : 'DuckDB'} has it`)
    else if (a.sessions !== b.sessions || a.median !== b.median) {
      problems.push(`site ${site}: Sessionizer ${a.sessions} sessions, median ${a.median}; DuckDB ${b.sessions}, ${b.median}`)
    }
  }
  for (const visitor of visitorSample) {
    if (ours.visitors.get(visitor) !== theirs.visitors.get(visitor)) {
      problems.push(`visitor ${visitor}: Sessionizer ${ours.visitors.get(visitor)}, DuckDB ${theirs.visitors.get(visitor)}`)
    }
  }
  return problems
}
