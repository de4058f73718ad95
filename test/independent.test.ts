// Data nobody has seen: generated logs, roughed up, checked against a deliberately naive implementation.
import t, { type Test } from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS } from '../scripts/lib/page-view-generator.js'
import { naiveAnswers } from './naive-sessionizer.js'
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
