import t from 'tap'
import { PageViewBatchBuilder } from '../../src/domain/page-view-batch.js'
import { buildPageViewStore, siteRowCount, type PageViewStore } from '../../src/domain/page-view-store.js'

t.test('the builder grows past its first capacity and trims to the rows added', async t => {
  const builder = new PageViewBatchBuilder()
  for (let i = 0; i < 5000; i++) builder.add(`v${i % 7}`, `s${i % 3}`, i)
  t.equal(builder.length, 5000)
  const batch = builder.finish()
  t.equal(batch.timestampColumn.length, 5000)
  t.same([0, 1, 2].map(id => builder.sites.keyOf(id)), ['s0', 's1', 's2'])
  t.equal(batch.visitors.ends.length, 7)
  t.equal(batch.timestampColumn[4999], 4999)
})

/** Each site's rows as [visitor, time], in store order. */
function rowsBySite (store: PageViewStore): Record<string, [string, number][]> {
  return Object.fromEntries(store.siteUrls.map((site, id) => {
    const rows: [string, number][] = []
    for (let row = store.siteRowStart[id]; row < store.siteRowStart[id + 1]; row++) {
      rows.push([store.visitors.keyOf(store.visitorColumn[row]), store.timestampColumn[row]])
    }
    return [site, rows]
  }))
}

t.test('batches merge into one dictionary; each site groups its visitors, each in time order', async t => {
  const first = new PageViewBatchBuilder()
  first.add('v1', 'b', 30)
  first.add('v2', 'a', 10)
  first.add('v1', 'a', 20)
  first.add('v2', 'a', 3)
  const second = new PageViewBatchBuilder()
  second.add('v1', 'a', 5)
  second.add('v3', 'b', 1)
  second.add('v2', 'a', 7)
  const store = buildPageViewStore([first.finish(), second.finish()])
  t.same(store.siteUrls, ['b', 'a'])
  t.same(store.siteIdByUrl.get('a'), 1)
  t.equal(store.visitors.size, 3)
  t.equal(siteRowCount(store, 0), 2)
  t.equal(siteRowCount(store, 1), 5)
  t.same(rowsBySite(store), {
    b: [['v1', 30], ['v3', 1]],
    a: [['v2', 3], ['v2', 7], ['v2', 10], ['v1', 5], ['v1', 20]]
  })
  t.same(['v1', 'v2', 'v3'].map(name => store.visitorSiteCount[store.visitors.find(name)]), [2, 1, 1])
  t.equal(store.visitors.find('nobody'), -1)
  t.equal(store.firstTimestamp, 1)
  t.equal(store.lastTimestamp, 30)
})

t.test('a visitor with many views on one site is sorted natively', async t => {
  const builder = new PageViewBatchBuilder()
  for (let i = 0; i < 100; i++) builder.add('bot', 's', (i * 37) % 100)
  builder.add('human', 's', 5)
  const rows = rowsBySite(buildPageViewStore([builder.finish()])).s
  t.same(rows.filter(([visitor]) => visitor === 'bot').map(([, time]) => time), Array.from({ length: 100 }, (_, i) => i))
  t.equal(rows.length, 101)
})

t.test('an empty dataset has no time range', async t => {
  const store = buildPageViewStore([new PageViewBatchBuilder().finish()])
  t.equal(store.siteUrls.length, 0)
  t.equal(store.firstTimestamp, null)
  t.equal(store.lastTimestamp, null)
})
