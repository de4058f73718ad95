import t from 'tap'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'
import { buildPageViewStore } from '../../src/domain/page-view-store.js'
import { SLICE, sessionizeSite } from '../../src/domain/sessions.js'
import { dateOfDay, MAX_TIMELINE_BUCKETS, siteHistogram, medianSessionLength, numSessions, numUniqueVisitedSites, sitePages, siteStats, siteTimeline } from '../../src/domain/queries.js'
import { WHOLE_DATA } from '../../src/domain/time-range.js'

const builder = new PageViewBatchBuilder()
for (const [visitor, site, time] of [
  ['a', 'www.s_10.com', 0], ['a', 'www.s_10.com', 100], ['a', 'www.s_10.com', 5000],
  ['b', 'www.s_10.com', 0], ['b', 'www.s_10.com', 30], ['b', 'www.s_10.com', 60],
  ['a', 'www.s_2.com', 7], ['c', 'www.s_2.com', 9]
] as const) builder.add(visitor, site, `${site}/`, time)
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
  const table = { siteUrl: 's', pageViews: 20, visitors: 3, sessionLengths, totalSessionLength: 0, singleViewSessions: 2 }
  const histogram = siteHistogram(table)
  t.equal(histogram.num_sessions, 11)
  t.same(histogram.buckets, [
    { from: 0, to: 0, sessions: 2 }, { from: 0, to: 10, sessions: 2 }, { from: 10, to: 30, sessions: 2 },
    { from: 30, to: 60, sessions: 1 }, { from: 60, to: 180, sessions: 1 }, { from: 180, to: 600, sessions: 0 },
    { from: 600, to: 1800, sessions: 0 }, { from: 1800, to: 3600, sessions: 1 }, { from: 3600, to: null, sessions: 2 }
  ])
})

t.test('a range without sessions: counts of 0, no median, no rates', async t => {
  const none = { siteUrl: 's', pageViews: 0, visitors: 0, sessionLengths: new Float64Array(0), totalSessionLength: 0, singleViewSessions: 0 }
  t.equal(numSessions(none), 0)
  t.equal(medianSessionLength(none), null)
  t.same(siteStats(none), {
    site_url: 's',
    page_views: 0,
    visitors: 0,
    num_sessions: 0,
    median_session_length: null,
    views_per_session: null,
    bounce_rate: null,
    mean_session_length: null,
    p90_session_length: null,
    max_session_length: null
  })
  t.same(siteHistogram(none).buckets.map(bucket => bucket.sessions), [0, 0, 0, 0, 0, 0, 0, 0, 0])
})

t.test('the date of a day, by arithmetic, agrees with Date wherever Date reaches, and goes beyond it', async t => {
  let seed = 11
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  const days = [0, -1, 1, 59, 60, -719_468, 11_016, 15_600, 2_932_896, 100_000_000]
  for (let i = 0; i < 2000; i++) days.push(Math.floor(random() * 100_000_000))
  const pad = (value: number) => String(value).padStart(2, '0')
  for (const day of days) {
    const date = new Date(day * 86_400_000)
    const expected = `${String(date.getUTCFullYear()).padStart(4, '0')}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}`
    if (dateOfDay(day) !== expected) t.fail(`day ${day}: ${dateOfDay(day)}, not ${expected}`)
  }
  t.pass(`${days.length} days`)
  t.equal(dateOfDay(15_600), '2012-09-17')
  t.equal(dateOfDay(-1), '1969-12-31')
  t.equal(dateOfDay(Math.floor((2 ** 53 - 1) / 86_400)), '285428751-11-12', 'the day of 2^53 - 1 seconds, where Date gives up')
})

t.test('sessions per day: every day from the first session to the last, wider buckets past a year', async t => {
  const day = 86_400
  const base = 15_600 * day
  const views: [string, number][] = [['a', base + 10], ['a', base + 20], ['b', base + day - 1], ['a', base + 3 * day + 5], ['c', base + 3 * day + 6]]
  const builder = new PageViewBatchBuilder()
  for (const [visitor, time] of views) builder.add(visitor, 's', 's/', time)
  const store = buildPageViewStore([builder.finish()])
  const table = await sessionizeSite(store, 0, 1800)
  const timeline = await siteTimeline(table, store, WHOLE_DATA)
  t.same(timeline, {
    site_url: 's',
    bucket_days: 1,
    buckets: [
      { start: base, date: '2012-09-17', sessions: 2, page_views: 3 },
      { start: base + day, date: '2012-09-18', sessions: 0, page_views: 0 },
      { start: base + 2 * day, date: '2012-09-19', sessions: 0, page_views: 0 },
      { start: base + 3 * day, date: '2012-09-20', sessions: 2, page_views: 2 }
    ]
  })
  const ranged = await siteTimeline(table, store, { from: base + 15, to: base + 3 * day + 6 })
  t.same(ranged.buckets.map(bucket => [bucket.date, bucket.sessions]), [['2012-09-17', 1], ['2012-09-18', 0], ['2012-09-19', 0], ['2012-09-20', 1]])
  t.same((await siteTimeline(table, store, { from: 0, to: 1 })).buckets, [])

  const spread = (spanDays: number) => {
    const spreadBuilder = new PageViewBatchBuilder()
    spreadBuilder.add('a', 's', 's/', base)
    spreadBuilder.add('a', 's', 's/', base + (spanDays - 1) * day)
    return buildPageViewStore([spreadBuilder.finish()])
  }
  for (const [spanDays, bucketDays] of [[MAX_TIMELINE_BUCKETS, 1], [MAX_TIMELINE_BUCKETS + 1, 7], [7 * MAX_TIMELINE_BUCKETS, 7], [7 * MAX_TIMELINE_BUCKETS + 1, 8]]) {
    const spreadStore = spread(spanDays)
    const spreadTimeline = await siteTimeline(await sessionizeSite(spreadStore, 0, 1800), spreadStore, WHOLE_DATA)
    t.equal(spreadTimeline.bucket_days, bucketDays, `${spanDays} days in buckets of ${bucketDays}`)
    t.ok(spreadTimeline.buckets.length <= MAX_TIMELINE_BUCKETS)
    t.same(spreadTimeline.buckets.map(bucket => bucket.sessions).filter(sessions => sessions > 0), [1, 1])
  }
})

t.test('top pages: the largest counts, ties by URL, cut anywhere in a tie, however many pages there are', async t => {
  // Page p{n} is viewed n times for n = 1..5, and pages t0..t9 once each (single-view sessions of one visitor each).
  const builder = new PageViewBatchBuilder()
  let time = 0
  for (let n = 1; n <= 5; n++) for (let i = 0; i < n; i++) builder.add(`v${n}-${i}`, 's', `p${n}`, time++)
  for (let i = 9; i >= 0; i--) builder.add(`w${i}`, 's', `t${i}`, time++)
  const store = buildPageViewStore([builder.finish()])
  const table = await sessionizeSite(store, 0, 1800)
  const top = async (limit: number) => (await sitePages(table, store, WHOLE_DATA, limit)).top_pages.map(page => `${page.page_view_url}:${page.page_views}`)
  t.same(await top(1), ['p5:5'])
  t.same(await top(4), ['p5:5', 'p4:4', 'p3:3', 'p2:2'])
  t.same(await top(6), ['p5:5', 'p4:4', 'p3:3', 'p2:2', 'p1:1', 't0:1'], 'a tie of eleven pages cut after its first')
  t.same(await top(9), ['p5:5', 'p4:4', 'p3:3', 'p2:2', 'p1:1', 't0:1', 't1:1', 't2:1', 't3:1'])
  t.same((await top(100)).length, 15, 'fewer pages than the limit: all of them, the whole tie')
  t.same((await top(15)).slice(-2), ['t8:1', 't9:1'])
  t.same((await sitePages(table, store, { from: 1e9, to: Infinity }, 10)).top_pages, [], 'no sessions, no pages')
})

t.test('a page per view (URLs with query strings): the ties are decoded a slice at a time, the event loop running between', async t => {
  const builder = new PageViewBatchBuilder()
  const views = 3 * SLICE
  for (let i = 0; i < views; i++) builder.add(`v${i % 100}`, 's', `/p?id=${views - i}`, i * 2000)
  const store = buildPageViewStore([builder.finish()])
  const table = await sessionizeSite(store, 0, 1800)
  let turns = 0
  let computing = true
  const turn = (): void => { turns++; if (computing) setImmediate(turn) }
  setImmediate(turn)
  const pages = await sitePages(table, store, WHOLE_DATA, 3)
  computing = false
  t.ok(turns >= 2, `the event loop ran ${turns} times`)
  t.same(pages.top_pages, [{ page_view_url: '/p?id=1', page_views: 1 }, { page_view_url: '/p?id=10', page_views: 1 }, { page_view_url: '/p?id=100', page_views: 1 }])
  t.equal(pages.distinct_pages, views)
})
