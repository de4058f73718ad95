import t from 'tap'
import { hashBytes } from '../../src/domain/byte-interner.js'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'

/** Adds a row whose visitor is `visitor` within `bytes`, waiting for its id, as the CSV fast path does. */
function addPending (builder: PageViewBatchBuilder, bytes: Buffer, visitor: string, timestamp: number): void {
  const start = bytes.indexOf(visitor)
  const end = start + Buffer.byteLength(visitor)
  builder.addPendingVisitor(bytes, start, end, hashBytes(bytes, start, end, builder.visitors.seed),
    builder.sites.internString('s.com'), builder.pages.internString('s.com/a'), timestamp)
}

t.test('rows whose visitors wait for their ids get the ids that rows added at once get, in any mix', async t => {
  const builder = new PageViewBatchBuilder()
  const first = Buffer.from('alice,bob,carol')
  addPending(builder, first, 'bob', 1)
  builder.add('alice', 's.com', 's.com/a', 2)
  addPending(builder, first, 'alice', 3)
  // Other bytes: the rows waiting on the first ones are resolved before it is taken.
  const second = Buffer.from('carol,dave')
  addPending(builder, second, 'carol', 4)
  // More rows than wait at once, so that some are resolved while rows are still added.
  for (let i = 0; i < 200; i++) addPending(builder, second, i % 2 === 0 ? 'dave' : 'carol', 10 + i)
  builder.resolvePendingVisitors()
  second.fill(0)
  addPending(builder, first, 'carol', 300)
  const batch = builder.finish()
  const visitorOf = (row: number): string => builder.visitors.keyOf(batch.visitorColumn[row])
  t.same([0, 1, 2, 3, 4, 5, 203].map(visitorOf), ['bob', 'alice', 'alice', 'carol', 'dave', 'carol', 'carol'])
  t.same([...batch.timestampColumn.subarray(0, 4)], [1, 2, 3, 4], 'each row keeps its place')
  t.equal(batch.visitors.ends.length, 4)
})
