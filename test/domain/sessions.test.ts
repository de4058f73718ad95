import t from 'tap'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'
import { buildPageViewStore, type PageViewStore } from '../../src/domain/page-view-store.js'
import { sitePages, siteTimeline } from '../../src/domain/queries.js'
import { WHOLE_DATA } from '../../src/domain/time-range.js'
import {
  PackedTableIndex, SLICE, TablePacker, finishNow, finishYielding, medianOfSorted, ownedUnlessAllFit, packTables, percentileOfSorted, sessionizeSite, sortLengths, summarizeRange,
  type SessionTable
} from '../../src/domain/sessions.js'

type View = [visitor: string, site: string, timestamp: number]

/** A store from batches of views, one batch per simulated file, finished as a parse on threads finishes them. */
function storeOf (...files: View[][]): PageViewStore {
  const [first, ...others] = files.map(views => {
    const builder = new PageViewBatchBuilder()
    for (const [visitor, site, timestamp] of views) builder.add(visitor, site, `${site}/page`, timestamp)
    return builder
  })
  const otherBatches = others.map(builder => builder.finish(false))
  return buildPageViewStore([first.finish(true, otherBatches.map((batch, source) => ({ source, keys: batch.visitors }))), ...otherBatches])
}

async function sessions (store: PageViewStore, site: string, timeout = 1800): Promise<number[]> {
  return [...(await sessionizeSite(store, store.siteIdByUrl.get(site)!, timeout)).sessionLengths]
}

t.test('a gap of exactly the timeout stays in the session; one second more splits it', async t => {
  const store = storeOf([['v', 's', 0], ['v', 's', 1800], ['v', 's', 3601], ['v', 's', 3700]])
  t.same(await sessions(store, 's'), [99, 1800])
})

t.test('a custom timeout moves the boundary', async t => {
  const store = storeOf([['v', 's', 0], ['v', 's', 60], ['v', 's', 121]])
  t.same(await sessions(store, 's', 60), [0, 60])
  t.same(await sessions(store, 's', 61), [121])
  t.same(await sessions(store, 's', 0), [0, 0, 0])
})

t.test('views of one visitor split across files that overlap in time join into one session', async t => {
  const store = storeOf(
    [['v', 's', 100], ['w', 's', 150], ['v', 's', 2000]],
    [['v', 's', 50], ['v', 's', 1000]]
  )
  t.same(await sessions(store, 's'), [0, 1950])
})

t.test('unsorted input within a file is sorted before sessionizing', async t => {
  const store = storeOf([['v', 's', 5000], ['v', 's', 10], ['v', 's', 1000], ['v', 's', 4000]])
  t.same(await sessions(store, 's'), [990, 1000])
})

t.test('a visitor with many views takes the large-group sort and stays correct', async t => {
  const times = Array.from({ length: 500 }, (_, i) => i * 100).reverse()
  const store = storeOf(times.map(time => ['v', 's', time]))
  t.same(await sessions(store, 's'), [49_900])
})

t.test('duplicate rows neither split nor lengthen a session', async t => {
  const store = storeOf([['v', 's', 10], ['v', 's', 10], ['v', 's', 20]], [['v', 's', 20]])
  const table = await sessionizeSite(store, 0, 1800)
  t.same([...table.sessionLengths], [10])
  t.equal(table.pageViews, 4)
  t.equal(table.singleViewSessions, 0)
})

t.test('one-view sessions have length 0 and count as bounces', async t => {
  const store = storeOf([['a', 's', 100], ['b', 's', 100], ['a', 's', 5000], ['a', 's', 5010]])
  const table = await sessionizeSite(store, 0, 1800)
  t.same([...table.sessionLengths], [0, 0, 10])
  t.equal(table.singleViewSessions, 2)
  t.equal(table.visitors, 2)
  t.equal(table.totalSessionLength, 10)
  t.ok(table.byteSize >= 3 * 8, 'the byte size counts the lengths')
})

t.test('each session\'s rows in the store, and the summary of the sessions that began in a range', async t => {
  const store = storeOf([['a', 's', 100], ['b', 's', 100], ['a', 's', 5000], ['a', 's', 5010], ['b', 's', 6000], ['b', 's', 6010], ['b', 's', 6020]])
  const table = await sessionizeSite(store, 0, 1800)
  const sessions = Array.from({ length: table.sessionRows.length - 1 }, (_, i) => {
    const rows = Array.from({ length: table.sessionRows[i + 1] - table.sessionRows[i] }, (_, r) => table.sessionRows[i] + r)
    return rows.map(row => [store.visitors.keyOf(store.visitorColumn[row]), store.timestampColumn[row]])
  })
  t.same(sessions.sort(), [[['a', 100]], [['a', 5000], ['a', 5010]], [['b', 100]], [['b', 6000], ['b', 6010], ['b', 6020]]].sort(),
    'every session, its rows contiguous')
  t.equal(table.sessionRows.at(-1), store.siteRowStart[1])

  const range = await summarizeRange(table, store, { from: 100, to: 6000 })
  t.same({ ...range, sessionLengths: [...range.sessionLengths] },
    { siteUrl: 's', pageViews: 4, visitors: 2, sessionLengths: [0, 0, 10], totalSessionLength: 10, singleViewSessions: 2 },
    'from is in, to is out')
  const later = await summarizeRange(table, store, { from: 101, to: Infinity })
  t.same([later.pageViews, later.visitors, [...later.sessionLengths]], [5, 2, [10, 20]])
  const none = await summarizeRange(table, store, { from: 7000, to: 8000 })
  t.same([none.pageViews, none.visitors, none.sessionLengths.length, none.singleViewSessions], [0, 0, 0, 0])
})

t.test('sites are sessionized separately: the same visitor on two sites', async t => {
  const store = storeOf([['v', 'a', 0], ['v', 'b', 10], ['v', 'a', 20], ['v', 'b', 4000]])
  t.same(await sessions(store, 'a'), [20])
  t.same(await sessions(store, 'b'), [0, 0])
})

t.test('timestamps past 2^31 and near 2^53 keep their precision', async t => {
  const base = 2 ** 31 + 5
  const huge = Number.MAX_SAFE_INTEGER - 10
  const store = storeOf([['v', 's', base], ['v', 's', base + 1800], ['w', 's', huge - 1800], ['w', 's', huge]])
  t.same(await sessions(store, 's'), [1800, 1800])
  t.equal(store.lastTimestamp, huge)
})

t.test('median of odd and even counts; percentiles interpolate', async t => {
  t.equal(medianOfSorted(Float64Array.of(1, 5, 9)), 5)
  t.equal(medianOfSorted(Float64Array.of(1, 2, 4, 9)), 3)
  t.equal(medianOfSorted(Float64Array.of(1340, 1343)), 1341.5)
  t.equal(medianOfSorted(Float64Array.of(7)), 7)
  t.equal(percentileOfSorted(Float64Array.of(0, 10, 20, 30, 40), 90), 36)
  t.equal(percentileOfSorted(Float64Array.of(0, 10), 100), 10)
  t.equal(percentileOfSorted(Float64Array.of(3), 90), 3)
})

/** Whether two arrays hold the same numbers in the same order: a byte comparison, where t.same would take minutes. */
function sameValues (actual: Float64Array, expected: Float64Array): boolean {
  return Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength)
    .equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))
}

t.test('sorting lengths gives the order a single sort gives, for every shape of input', async t => {
  let seed = 7
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  // The counts, shared by every sort as a build worker shares them: each sort must leave them zero.
  const counts = new Uint32Array(1 << 16)
  // Lengths whose largest is counted (up to 65,535), or takes the radix sort with one, three, four, five and seven
  // bytes (every number of radix passes there is, and the first values that take one more).
  for (const largest of [0, 200, 256, 5000, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 36, 2 ** 53]) {
    for (const count of [0, 1, 1024, 1025, SLICE, SLICE + 1, 3 * SLICE + 17]) {
      // Two draws to a value, so that its low bits vary too when it is large.
      const values = Float64Array.from({ length: count }, () => Math.min(largest, Math.floor((random() + random() / 2 ** 31) * (largest + 1))))
      if (count > 0) values[count >> 1] = largest
      const expected = values.slice().sort()
      const yielding = values.slice()
      await finishYielding(sortLengths(yielding))
      t.ok(sameValues(yielding, expected), `${count} values up to ${largest}, yielding`)
      finishNow(sortLengths(values, counts))
      t.ok(sameValues(values, expected), `${count} values up to ${largest}, at once`)
    }
  }
  t.ok(counts.every(count => count === 0), 'the counts are left zero')
})

t.test('a site of millions of views is sessionized in slices: the event loop runs between them', async t => {
  const rows = 1_000_010
  const builder = new PageViewBatchBuilder()
  const visitorIds = Array.from({ length: 1000 }, (_, visitor) => builder.visitors.internString(`v${visitor}`))
  const siteId = builder.sites.internString('big')
  const pageId = builder.pages.internString('big/')
  // 1,000 visitors, each with a view every 1,000 s and a gap of 2,000 s after every tenth view.
  for (let row = 0; row < rows; row++) {
    const view = Math.floor(row / 1000)
    builder.addIds(visitorIds[row % 1000], siteId, pageId, view * 1000 + Math.floor(view / 10) * 2000)
  }
  const store = buildPageViewStore([builder.finish()])
  let turns = 0
  let computing = true
  const turn = (): void => { turns++; if (computing) setImmediate(turn) }
  setImmediate(turn)
  const table = await sessionizeSite(store, 0, 1800)
  computing = false
  t.ok(turns >= rows / SLICE, `the event loop ran ${turns} times during the computation, at least once a slice`)
  const viewsPerVisitor = Math.ceil(rows / 1000)
  const expected: number[] = []
  for (let visitor = 0; visitor < 1000; visitor++) {
    const views = visitor < rows % 1000 ? viewsPerVisitor : viewsPerVisitor - 1
    for (let first = 0; first < views; first += 10) expected.push((Math.min(first + 10, views) - 1 - first) * 1000)
  }
  t.ok(sameValues(table.sessionLengths, Float64Array.from(expected).sort()), `${expected.length} session lengths`)
  t.equal(table.pageViews, rows)

  turns = 0
  computing = true
  setImmediate(turn)
  const summary = await summarizeRange(table, store, { from: -Infinity, to: Infinity })
  computing = false
  t.ok(turns >= expected.length / SLICE, `the event loop ran ${turns} times while summarizing a range, at least once a slice`)
  t.ok(sameValues(summary.sessionLengths, table.sessionLengths), 'a range of everything summarizes every session')
  t.same([summary.pageViews, summary.visitors, summary.totalSessionLength], [table.pageViews, table.visitors, table.totalSessionLength])

  turns = 0
  computing = true
  setImmediate(turn)
  const timeline = await siteTimeline(table, store, WHOLE_DATA)
  computing = false
  t.ok(turns >= 2 * expected.length / SLICE, `the event loop ran ${turns} times while counting sessions per day, at least once a slice of each pass`)
  t.equal(timeline.buckets.reduce((sum, bucket) => sum + bucket.sessions, 0), expected.length)
  t.equal(timeline.buckets.reduce((sum, bucket) => sum + bucket.page_views, 0), rows)

  turns = 0
  computing = true
  setImmediate(turn)
  const pages = await sitePages(table, store, WHOLE_DATA, 10)
  computing = false
  t.ok(turns >= expected.length / SLICE, `the event loop ran ${turns} times while counting pages, at least once a slice`)
  t.same([pages.num_sessions, pages.page_views, pages.top_pages, pages.entry_pages],
    [expected.length, rows, [{ page_view_url: 'big/', page_views: rows }], [{ page_view_url: 'big/', sessions: expected.length }]])
})

t.test('a build worker\'s packer sessionizes sites into its arrays as sessionizeSite does', async t => {
  let seed = 11
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  // A large site (thousands of sessions, some longer than 18 hours: both ways of sorting), small ones, a one-view one.
  const views: View[] = []
  for (let view = 0; view < 20_000; view++) {
    const site = view % 10 === 0 ? `small${view % 30}` : 'large'
    views.push([`v${Math.floor(random() * 3000)}`, site, Math.floor(random() * 2_000_000)])
  }
  for (let view = 0; view < 100; view++) views.push(['bot', 'large', 5_000_000 + view * 1000])
  views.push(['once', 'single', 7])
  const store = storeOf(views.slice(0, 9000), views.slice(9000))
  const siteIds = store.siteUrls.map((_url, siteId) => siteId)
  const packer = new TablePacker(siteIds.length, store.timestampColumn.length)
  for (const siteId of siteIds) packer.sessionize(store, siteId, 1800)
  const expected = await Promise.all(siteIds.map(async siteId => ({ siteId, table: await sessionizeSite(store, siteId, 1800) })))
  t.ok(expected.some(({ table }) => table.sessionLengths.length > 1024 && table.sessionLengths.at(-1)! >= 2 ** 16), 'a site sorted both ways')
  t.same(new PackedTableIndex(packer.packed(), store).tables(), expected)
})

t.test('tables packed, at once or one at a time, unpack equal, as views of the packed arrays, all or by site', async t => {
  const store = storeOf([['v', 's1', 0], ['v', 's1', 100], ['w', 's1', 5000], ['v', 's2', 7], ['x', 's3', 9], ['x', 's3', 4000], ['y', 's4', 1]])
  const tables = await Promise.all([2, 0, 1].map(async siteId => ({ siteId, table: await sessionizeSite(store, siteId, 1800) })))
  const buffers = (unpacked: { table: SessionTable }[]) => new Set(unpacked.flatMap(({ table }) => [table.sessionLengths.buffer, table.sessionRows.buffer]))
  const index = new PackedTableIndex(packTables(tables), store)
  const atOnce = index.tables()
  t.same(atOnce, tables)
  t.equal(buffers(atOnce).size, 2, 'the lengths of all, and the rows of all')
  t.equal(index.count, 3)
  t.equal(index.byteSize, tables.reduce((sum, { table }) => sum + table.byteSize, 0), 'what they cost, as the tables count it')
  for (const { table } of tables) t.same(index.table(table.siteUrl), table, `${table.siteUrl} by its URL`)
  t.equal(buffers([{ table: index.table(store.siteUrls[1])! }, ...atOnce]).size, 2, 'a table made by site is a view too')
  t.equal(index.table(store.siteUrls[3]), undefined, 'a site without a packed table')
  t.equal(index.table('nowhere'), undefined, 'an unknown site')
  // Room for more than is added, as a build worker makes it: what is handed on is what was added.
  const packer = new TablePacker(10, 100)
  for (const { siteId, table } of tables) packer.add(siteId, table)
  t.same(new PackedTableIndex(packer.packed(), store).tables(), tables)
  const none = new PackedTableIndex(packTables([]), store)
  t.same([none.tables(), none.count, none.byteSize, none.table(store.siteUrls[0])], [[], 0, 0, undefined])

  const bytes = tables.reduce((sum, { table }) => sum + table.byteSize, 0)
  t.equal(ownedUnlessAllFit(atOnce, { sites: 3, bytes }), atOnce, 'with room for them all, the views as they are')
  for (const room of [{ sites: 2, bytes }, { sites: 3, bytes: bytes - 1 }]) {
    const owned = ownedUnlessAllFit(atOnce, room)
    t.same(owned, tables)
    t.equal(buffers(owned).size, 6, `without room for them all (${JSON.stringify(room)}), each array a copy of its own`)
  }
})
