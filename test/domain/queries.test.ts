import t from 'tap'
import { PageViewBatchBuilder } from '../../src/domain/page-view-batch.js'
import { buildPageViewStore } from '../../src/domain/page-view-store.js'
import { sessionizeSite } from '../../src/domain/sessions.js'
import { siteHistogram, medianSessionLength, numSessions, numUniqueVisitedSites, siteStats } from '../../src/domain/queries.js'

const builder = new PageViewBatchBuilder()
for (const [visitor, site, time] of [
  ['a', 'www.s_10.com', 0], ['a', 'www.s_10.com', 100], ['a', 'www.s_10.com', 5000],
  ['b', 'www.s_10.com', 0], ['b', 'www.s_10.com', 30], ['b', 'www.s_10.com', 60],
  ['a', 'www.s_2.com', 7], ['c', 'www.s_2.com', 9]
] as const) builder.add(visitor, site, time)
const store = buildPageViewStore([builder.finish()])

t.test('the three historical answers', async t => {
  const table = await sessionizeSite(store, store.siteIdByUrl.get('www.s_10.com')!, 1800)
  t.equal(numSessions(table), 3)
  t.equal(medianSessionLength(table), 60)
  t.equal(numUniqueVisitedSites(store, store.visitors.find('a')), 2)
  t.equal(numUniqueVisitedSites(store, store.visitors.find('c')), 1)
})

t.test('site statistics', async t => {
  const table = await sessionizeSite(store, store.siteIdByUrl.get('www.s_10.com')!, 1800)
  t.same(siteStats(table), {
    site_url: 'www.s_10.com',
    page_views: 6,
    visitors: 2,
    num_sessions: 3,
    median_session_length: 60,
    mean_session_length: 53.3,
    p90_session_length: 92,
    max_session_length: 100,
    views_per_session: 2,
    bounce_rate: 0.3333
  })
})

t.test('the session-length histogram: zero, then (from, to] buckets, then over an hour', async t => {
  const sessionLengths = Float64Array.from([0, 0, 5, 10, 11, 30, 60, 61, 3600, 3601, 7200])
  const table = { siteUrl: 's', pageViews: 20, visitors: 3, sessionLengths, totalSessionLength: 0, singleViewSessions: 2, byteSize: 0 }
  const histogram = siteHistogram(table)
  t.equal(histogram.num_sessions, 11)
  t.same(histogram.buckets, [
    { from: 0, to: 0, sessions: 2 }, { from: 0, to: 10, sessions: 2 }, { from: 10, to: 30, sessions: 2 },
    { from: 30, to: 60, sessions: 1 }, { from: 60, to: 180, sessions: 1 }, { from: 180, to: 600, sessions: 0 },
    { from: 600, to: 1800, sessions: 0 }, { from: 1800, to: 3600, sessions: 1 }, { from: 3600, to: null, sessions: 2 }
  ])
})
