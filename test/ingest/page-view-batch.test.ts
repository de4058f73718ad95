import t from 'tap'
import { hashBytes } from '../../src/domain/byte-interner.js'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'

/** Adds a row whose visitor, site and page are within `bytes`, waiting for their ids, as the CSV fast path does. */
function addPending (builder: PageViewBatchBuilder, bytes: Buffer, visitor: string, page: string, timestamp: number, site = 's.com'): void {
  const [start, siteStart, pageStart] = [visitor, site, page].map(key => bytes.indexOf(key))
  const [end, siteEnd, pageEnd] = [[start, visitor], [siteStart, site], [pageStart, page]].map(([at, key]) => (at as number) + Buffer.byteLength(key as string))
  builder.addPendingRow(bytes, start, end, hashBytes(bytes, start, end, builder.visitors.seed),
    siteStart, siteEnd, hashBytes(bytes, siteStart, siteEnd, builder.sites.seed),
    pageStart, pageEnd, hashBytes(bytes, pageStart, pageEnd, builder.pages.seed), timestamp)
}

t.test('rows whose sites, visitors and pages wait for their ids get the ids that rows added at once get, in any mix', async t => {
  const builder = new PageViewBatchBuilder()
  const first = Buffer.from('alice,bob,carol,s.com,t.com,/a,/b')
  addPending(builder, first, 'bob', '/a', 1)
  builder.add('alice', 's.com', '/b', 2)
  addPending(builder, first, 'alice', '/b', 3)
  // Other bytes: the rows waiting on the first ones are resolved before it is taken.
  const second = Buffer.from('carol,dave,t.com,s.com,/c,/a')
  addPending(builder, second, 'carol', '/c', 4)
  // More rows than wait at once, so that some are resolved while rows are still added.
  for (let i = 0; i < 200; i++) addPending(builder, second, i % 2 === 0 ? 'dave' : 'carol', i % 3 === 0 ? '/a' : '/c', 10 + i)
  builder.resolvePendingRows()
  second.fill(0)
  addPending(builder, first, 'carol', '/b', 300, 't.com')
  const batch = builder.finish()
  const rows = [0, 1, 2, 3, 4, 5, 6, 203, 204]
  t.same(rows.map(row => builder.visitors.keyOf(batch.visitorColumn[row])), ['bob', 'alice', 'alice', 'carol', 'dave', 'carol', 'dave', 'carol', 'carol'])
  t.same(rows.map(row => builder.pages.keyOf(batch.pageColumn[row])), ['/a', '/b', '/b', '/c', '/a', '/c', '/c', '/c', '/b'])
  t.same(rows.map(row => builder.sites.keyOf(batch.siteColumn[row])), ['s.com', 's.com', 's.com', 's.com', 's.com', 's.com', 's.com', 's.com', 't.com'])
  t.same([...batch.timestampColumn.subarray(0, 4)], [1, 2, 3, 4], 'each row keeps its place')
  t.equal(batch.visitors.ends.length, 4)
  t.equal(batch.pages.ends.length, 3)
})
