// Data nobody has seen: generated logs, roughed up, checked against a deliberately naive implementation.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS } from '../scripts/lib/page-view-generator.js'
import { naiveAnswers, type NaiveAnswers, type NaiveSession } from './naive-sessionizer.js'
import { allSites, buildLoaded, get } from './helper.js'
import type { FastifyInstance } from 'fastify'

async function compare (t: Test, server: FastifyInstance, dataDir: string, timeout: number) {
  const naive = naiveAnswers(dataDir, timeout)
  const sites = await allSites(server)
  t.same(sites.map(site => site.site_url).sort(), [...naive.sessionsBySite.keys()].sort(), 'the same sites')
  t.same(sites.filter(site => site.num_sessions !== naive.sessionsBySite.get(site.site_url) ||
    site.median_session_length !== naive.medianBySite.get(site.site_url)), [], 'the sites table\'s figures')
  for (const { site_url: site } of sites) {
    // The histogram, counted naively: each bucket's lengths filtered out of all of them.
    const lengths = naive.lengthsBySite.get(site)!
    const bounds = [[0, 0], [0, 10], [10, 30], [30, 60], [60, 180], [180, 600], [600, 1800], [1800, 3600], [3600, Infinity]]
    const expected = bounds.map(([from, to]) => lengths.filter(length => to === 0 ? length === 0 : length > from && length <= to).length)
    const histogram = (await get(server, '/site_histogram', { site_url: site }, true)).json()
    t.same(histogram.buckets.map((bucket: { sessions: number }) => bucket.sessions), expected, `histogram of ${site}`)
    const sessions = (await get(server, '/num_sessions', { site_url: site }, true)).json()
    const median = (await get(server, '/median_session_length', { site_url: site }, true)).json()
    t.equal(sessions.num_sessions, naive.sessionsBySite.get(site), `sessions of ${site}`)
    t.equal(median.median_session_length, naive.medianBySite.get(site), `median of ${site}`)
  }
  let visitorsChecked = 0
  for (const [visitor, count] of naive.sitesByVisitor) {
    if (visitorsChecked++ % 7 !== 0) continue
    const answer = (await get(server, '/num_unique_visited_sites', { visitor_id: visitor }, true)).json()
    if (answer.num_unique_visited_sites !== count) t.fail(`distinct sites of ${visitor}`)
  }
  t.pass(`checked ${Math.ceil(visitorsChecked / 7)} visitors`)
  await compareRanges(t, server, naive)
}

function median (values: number[]): number | null {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return null
  return n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

/** What a site's figures in a range must be, from its naive sessions filtered by their start. */
function naiveRangeStats (sessions: NaiveSession[], from: number, to: number) {
  const inRange = sessions.filter(session => session.start >= from && session.start < to)
  const views = inRange.reduce((sum, session) => sum + session.views, 0)
  const n = inRange.length
  return {
    page_views: views,
    visitors: new Set(inRange.map(session => session.visitor)).size,
    num_sessions: n,
    median_session_length: median(inRange.map(session => session.length)),
    views_per_session: n === 0 ? null : Math.round(views / n * 100) / 100,
    bounce_rate: n === 0 ? null : Math.round(inRange.filter(session => session.views === 1).length / n * 10_000) / 10_000
  }
}

/**
 * Date ranges: every site's figures in /sites, /site_stats, /num_sessions and /site_timeline, for ranges whose
 * ends fall exactly on a session's start (in at `from`, out at `to`), in ISO form and in epoch seconds.
 */
async function compareRanges (t: Test, server: FastifyInstance, naive: NaiveAnswers) {
  const starts = [...naive.sessionListBySite.values()].flat().map(session => session.start).sort((a, b) => a - b)
  const at = (fraction: number) => starts[Math.floor(fraction * (starts.length - 1))]
  const ranges = [
    { from: at(0.25), to: at(0.6) },
    { from: at(0.9), to: Infinity },
    { from: -Infinity, to: at(0.1) }
  ]
  for (const { from, to } of ranges) {
    const query: Record<string, string> = {}
    if (from !== -Infinity) query.from = String(from)
    if (to !== Infinity) query.to = new Date(to * 1000).toISOString()
    const label = `from ${query.from ?? '-'} to ${query.to ?? '-'}`
    const expected = [...naive.sessionListBySite].map(([site, sessions]) => ({ site_url: site, ...naiveRangeStats(sessions, from, to) }))
      .filter(site => site.num_sessions > 0).sort((a, b) => a.site_url < b.site_url ? -1 : 1)
    const page = (await get(server, '/sites', { ...query, limit: '1000' })).json()
    t.same([...page.sites].sort((a, b) => a.site_url < b.site_url ? -1 : 1), expected, `the sites table ${label}`)
    for (const [site, sessions] of naive.sessionListBySite) {
      const stats = (await get(server, '/site_stats', { ...query, site_url: site })).json()
      t.match(stats, naiveRangeStats(sessions, from, to), `${site} ${label}`)
      const count = (await get(server, '/num_sessions', { ...query, site_url: site })).body
      t.equal(count, `Num sessions for site ${site} = ${stats.num_sessions}`)
      const timeline = (await get(server, '/site_timeline', { ...query, site_url: site })).json()
      const inRange = sessions.filter(session => session.start >= from && session.start < to)
      const firstDay = Math.min(...inRange.map(session => Math.floor(session.start / 86_400)))
      const expectedBuckets = new Map<number, { sessions: number, page_views: number }>()
      for (const session of inRange) {
        const bucketStart = (firstDay + Math.floor((Math.floor(session.start / 86_400) - firstDay) / timeline.bucket_days) * timeline.bucket_days) * 86_400
        const bucket = expectedBuckets.get(bucketStart) ?? { sessions: 0, page_views: 0 }
        bucket.sessions++
        bucket.page_views += session.views
        expectedBuckets.set(bucketStart, bucket)
      }
      const nonEmpty = timeline.buckets.filter((bucket: { sessions: number }) => bucket.sessions > 0)
        .map(({ start, sessions, page_views: views }: { start: number, sessions: number, page_views: number }) => [start, { sessions, page_views: views }])
      t.same(nonEmpty, [...expectedBuckets].sort((a, b) => a[0] - b[0]), `timeline of ${site} ${label}`)
      for (const bucket of timeline.buckets) {
        if (bucket.date !== new Date(bucket.start * 1000).toISOString().slice(0, 10)) t.fail(`the date of ${bucket.start}`)
      }
      const pages = (await get(server, '/site_pages', { ...query, site_url: site, limit: '100' })).json()
      const mostFirst = (keys: string[]) => {
        const counts = new Map<string, number>()
        for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
        return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, 100)
      }
      t.same(pages, {
        site_url: site,
        num_sessions: inRange.length,
        page_views: inRange.reduce((sum, session) => sum + session.views, 0),
        distinct_pages: new Set(inRange.flatMap(session => session.pages)).size,
        top_pages: mostFirst(inRange.flatMap(session => session.pages)).map(([url, views]) => ({ page_view_url: url, page_views: views })),
        entry_pages: mostFirst(inRange.map(session => session.entry)).map(([url, sessions]) => ({ page_view_url: url, sessions }))
      }, `pages of ${site} ${label}`)
    }
  }
}

for (const seed of [7, 2024]) {
  t.test(`generated log, seed ${seed}, matches the naive implementation`, async t => {
    const dataDir = t.testdir({})
    generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 40_000, sites: 25, visitors: 2_000, files: 4, out: dataDir, seed })
    const server = await buildLoaded(t, { dataDir })
    await compare(t, server, dataDir, 1800)
  })
}

t.test('roughed-up files: header, CRLF, quoted fields, bad rows, huge timestamps, custom timeout', async t => {
  const dataDir = t.testdir({})
  const [first, second, third] = generatePageViews({
    ...DEFAULT_GENERATOR_OPTIONS, rows: 20_000, sites: 8, visitors: 900, files: 3, out: dataDir, seed: 99
  })
  const header = 'visitor_id,site_url,page_view_url,timestamp\n'
  writeFileSync(first, header + readFileSync(first, 'utf8').replaceAll('\n', '\r\n') + 'broken line\r\n')
  writeFileSync(second, readFileSync(second, 'utf8').split('\n').map((line, i) => {
    if (line === '' || i % 3 !== 0) return line
    const [visitor, site, url, time] = line.split(',')
    return `"${visitor}","${site}","${url}?a=1,b=""2""",${time}`
  }).join('\n').trimEnd())
  writeFileSync(third, readFileSync(third, 'utf8').split('\n').map((line, i) => {
    if (line === '' || i % 5 !== 0) return line
    const [visitor, site, url, time] = line.split(',')
    return `${visitor},${site},${url},${Number(time) + 3_000_000_000}`
  }).join('\n') + ',,,\n')
  const server = await buildLoaded(t, { dataDir, sessionTimeoutSeconds: 600 })
  const health = (await get(server, '/health')).json()
  t.equal(health.skipped_rows, 2, 'the broken line and the empty row')
  await compare(t, server, dataDir, 600)
})
