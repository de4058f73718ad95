import t from 'tap'
import { PageViewBatchBuilder } from '../../src/domain/page-view-batch.js'
import { buildPageViewStore } from '../../src/domain/page-view-store.js'
import { sessionizeSite } from '../../src/domain/sessions.js'
import { medianSessionLength, numSessions, numUniqueVisitedSites, siteStats } from '../../src/domain/queries.js'

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
