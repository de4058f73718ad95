import t from 'tap'
import { PageViewBatchBuilder } from '../../src/domain/page-view-batch.js'
import { buildPageViewStore, siteRowCount } from '../../src/domain/page-view-store.js'

t.test('the builder grows past its first capacity and trims to the rows added', async t => {
  const builder = new PageViewBatchBuilder()
  for (let i = 0; i < 5000; i++) builder.add(`v${i % 7}`, `s${i % 3}`, i)
  t.equal(builder.length, 5000)
  const batch = builder.finish()
  t.equal(batch.timestampColumn.length, 5000)
  t.same(batch.siteUrls, ['s0', 's1', 's2'])
  t.equal(batch.visitorIds.length, 7)
  t.equal(batch.timestampColumn[4999], 4999)
})

t.test('batches merge into one dictionary, clustered by site, visitor and time', async t => {
  const first = new PageViewBatchBuilder()
  first.add('v1', 'b', 30)
  first.add('v2', 'a', 10)
  first.add('v1', 'a', 20)
  const second = new PageViewBatchBuilder()
  second.add('v1', 'a', 5)
  second.add('v3', 'b', 1)
  const store = buildPageViewStore([first.finish(), second.finish()])
  t.same(store.siteUrls, ['b', 'a'])
  t.same(store.visitorIds, ['v1', 'v2', 'v3'])
  t.equal(siteRowCount(store, 0), 2)
  t.equal(siteRowCount(store, 1), 3)
  const rows = Array.from(store.timestampColumn, (time, row) => [store.visitorIds[store.visitorColumn[row]], time])
  t.same(rows, [['v1', 30], ['v3', 1], ['v1', 5], ['v1', 20], ['v2', 10]])
  t.same([...store.visitorSiteCount], [2, 1, 1])
  t.equal(store.firstTimestamp, 1)
  t.equal(store.lastTimestamp, 30)
})

t.test('an empty dataset has no time range', async t => {
  const store = buildPageViewStore([new PageViewBatchBuilder().finish()])
  t.equal(store.siteUrls.length, 0)
  t.equal(store.firstTimestamp, null)
  t.equal(store.lastTimestamp, null)
})
