import t from 'tap'
import type { SiteRow } from '../../src/domain/queries.js'
import { compareNatural, SITE_SORT_KEYS, SiteDirectory, type SitePageQuery } from '../../src/domain/site-directory.js'

const row = (site_url: string, figure: number): SiteRow => ({
  site_url, page_views: figure, visitors: figure % 3, num_sessions: 10 - figure, median_session_length: figure / 2, views_per_session: 1, bounce_rate: figure / 10
})
const rows = [row('www.s_10.com', 1), row('www.s_2.com', 4), row('B.org', 4), row('a.org', 2), row('www.s_1.com', 3)]
const directory = new SiteDirectory(rows)
const everything: SitePageQuery = { offset: 0, limit: 100, sort: 'site_url', order: 'asc', q: '' }
const urls = (query: Partial<SitePageQuery>) => directory.page({ ...everything, ...query }).sites.map(site => site.site_url)

t.test('natural order by default: digit runs as numbers', async t => {
  t.same(urls({}), ['a.org', 'B.org', 'www.s_1.com', 'www.s_2.com', 'www.s_10.com'])
  t.same(urls({ order: 'desc' }), ['www.s_10.com', 'www.s_2.com', 'www.s_1.com', 'B.org', 'a.org'])
})

t.test('natural comparison: digit runs by value, leading zeros aside; other characters by code', async t => {
  const sorted = ['s_10', 's_9', 's_010', 's_2x', 's_2', 's_12', 's_13', 's', 's_', 'r_99', 's_2a'].sort(compareNatural)
  t.same(sorted, ['r_99', 's', 's_', 's_2', 's_2a', 's_2x', 's_9', 's_10', 's_010', 's_12', 's_13'])
  t.equal(compareNatural('s_007', 's_7'), 2, 'equal numbers: the shorter string first')
  t.equal(compareNatural('a1b', 'a1b'), 0)
  t.same(new SiteDirectory([row('b.org', 1), row('B.org', 1), row('a.org', 1)]).page(everything).sites.map(site => site.site_url),
    ['a.org', 'B.org', 'b.org'], 'case aside first, then by code')
})

t.test('every figure sorts both ways, ties in natural order', async t => {
  t.same(urls({ sort: 'page_views', order: 'desc' }), ['B.org', 'www.s_2.com', 'www.s_1.com', 'a.org', 'www.s_10.com'])
  t.same(urls({ sort: 'page_views' }), ['www.s_10.com', 'a.org', 'www.s_1.com', 'B.org', 'www.s_2.com'])
  for (const sort of SITE_SORT_KEYS.filter(key => key !== 'site_url')) {
    for (const order of ['asc', 'desc'] as const) {
      const figures = directory.page({ ...everything, sort, order }).sites.map(site => site[sort])
      const sorted = [...figures].sort((a, b) => order === 'asc' ? a - b : b - a)
      t.same(figures, sorted, `${sort} ${order}`)
    }
  }
})

t.test('a page is a slice of the filtered order, with the filtered total', async t => {
  t.same(directory.page({ ...everything, offset: 1, limit: 2 }), { total: 5, sites: [rows[2], rows[4]] })
  t.same(directory.page({ ...everything, q: 'S_', sort: 'page_views', order: 'desc', limit: 1 }), { total: 3, sites: [rows[1]] })
  t.same(directory.page({ ...everything, q: 's_', offset: 3 }), { total: 3, sites: [] })
  t.equal(directory.size, 5)
})

t.test('an order is worked out once', async t => {
  const first = directory.page({ ...everything, sort: 'visitors' }).sites
  t.same(directory.page({ ...everything, sort: 'visitors' }).sites, first)
})
