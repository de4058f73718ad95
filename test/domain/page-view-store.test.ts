import t from 'tap'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'
import {
  buildPageViewStore, finishStore, rewritePageIds, planStore, scatterRows, siteChunks, siteGrouper, siteRowCount, withPages, type PageViewStore
} from '../../src/domain/page-view-store.js'
import { KeyList } from '../../src/domain/byte-interner.js'

t.test('the builder grows past its first capacity and trims to the rows added', async t => {
  const builder = new PageViewBatchBuilder()
  for (let i = 0; i < 5000; i++) builder.add(`v${i % 7}`, `s${i % 3}`, `/p${i % 11}`, i)
  t.equal(builder.length, 5000)
  const batch = builder.finish()
  t.equal(batch.timestampColumn.length, 5000)
  t.same([0, 1, 2].map(id => builder.sites.keyOf(id)), ['s0', 's1', 's2'])
  t.equal(batch.visitors.ends.length, 7)
  t.equal(batch.pages.ends.length, 11)
  t.equal(builder.pages.keyOf(batch.pageColumn[4999]), '/p5')
  t.equal(batch.timestampColumn[4999], 4999)
})

/** Each site's rows as [visitor, time, page], in store order. */
function rowsBySite (store: PageViewStore): Record<string, [string, number, string][]> {
  return Object.fromEntries(store.siteUrls.map((site, id) => {
    const rows: [string, number, string][] = []
    for (let row = store.siteRowStart[id]; row < store.siteRowStart[id + 1]; row++) {
      rows.push([store.visitors.keyOf(store.visitorColumn[row]), store.timestampColumn[row], store.pages.keyOf(store.pageColumn[row])])
    }
    return [site, rows]
  }))
}

t.test('batches merge into one dictionary; each site groups its visitors, each in time order, pages along', async t => {
  const first = new PageViewBatchBuilder()
  first.add('v1', 'b', 'b/x', 30)
  first.add('v2', 'a', 'a/3', 10)
  first.add('v1', 'a', 'a/2', 20)
  first.add('v2', 'a', 'a/1', 3)
  const second = new PageViewBatchBuilder()
  second.add('v1', 'a', 'a/1', 5)
  second.add('v3', 'b', 'b/y', 1)
  // Its visitors handed over as a parse hands them over, range after range: v1 and v3, then none, then v2.
  first.mergeVisitors({ source: 7, keys: second.newVisitorKeys() })
  first.mergeVisitors({ source: 7, keys: second.newVisitorKeys() })
  second.add('v2', 'a', 'a/2', 7)
  // The second batch's dictionaries as keys only, as a parse hands over all but the first; its visitors, the last one.
  const keysOnly = second.finish(false)
  t.same([keysOnly.sites.slots.length, keysOnly.visitors.slots.length, keysOnly.pages.slots.length, keysOnly.pages.room], [0, 0, 0, 0], 'no tables, no room')
  t.same(new KeyList(keysOnly.visitors).keyOf(0), 'v2', 'the visitors not handed over yet')
  const merged = first.finish(true, [{ source: 7, keys: keysOnly.visitors }])
  t.same(merged.mergedVisitorIds, [Uint32Array.of(0, 2, 1)], "the second batch's visitors v1, v3, v2 merged into the first's v1, v2")
  const store = buildPageViewStore([merged, keysOnly])
  t.same(store.siteUrls, ['b', 'a'])
  t.same(store.siteIdByUrl.get('a'), 1)
  t.equal(store.visitors.size, 3)
  t.equal(siteRowCount(store, 0), 2)
  t.equal(siteRowCount(store, 1), 5)
  t.same(rowsBySite(store), {
    b: [['v1', 30, 'b/x'], ['v3', 1, 'b/y']],
    a: [['v2', 3, 'a/1'], ['v2', 7, 'a/2'], ['v2', 10, 'a/3'], ['v1', 5, 'a/1'], ['v1', 20, 'a/2']]
  })
  t.same(['v1', 'v2', 'v3'].map(name => store.visitorSiteCount[store.visitors.find(name)]), [2, 1, 1])
  t.equal(store.visitors.find('nobody'), -1)
  t.equal(store.pages.size, 5, 'one dictionary of pages')
  t.notOk('find' in store.pages, 'kept without its table: no page is looked up by URL')
  t.equal(store.firstTimestamp, 1)
  t.equal(store.lastTimestamp, 30)
})

t.test('pages left for later: the page column carries each row\'s number through the build, then the pages read after are put in its place', async t => {
  const rows: [string, string, string, number][][] = [
    [['v1', 'b', 'b/x', 30], ['v2', 'a', 'a/3', 10], ['v1', 'a', 'a/2', 20], ['v2', 'a', 'a/1', 3]],
    [['v1', 'a', 'a/1', 5], ['v3', 'b', 'b/y', 1], ['v2', 'a', 'a/2', 7], ['v3', 'c', 'a/3', 2]]
  ]
  const batches = (interned: 'all' | 'allButPages') => rows.map(batchRows => {
    const builder = new PageViewBatchBuilder({}, interned)
    for (const row of batchRows) builder.add(...row)
    return builder
  })
  const whole = batches('all')
  whole[0].mergeVisitors({ source: 1, keys: whole[1].newVisitorKeys() })
  const expected = buildPageViewStore([whole[0].finish(true, [{ source: 1, keys: whole[1].finish(false).visitors }]), whole[1].finish(false)])

  const deferred = batches('allButPages')
  deferred[0].mergeVisitors({ source: 1, keys: deferred[1].newVisitorKeys() })
  const parsed = [deferred[0].finish(true, [{ source: 1, keys: deferred[1].finish(false).visitors }]), deferred[1].finish(false)]
  const plan = planStore(parsed)
  t.same(plan.pageIdOffsets, [0, 4], 'offset by rows, not pages')
  const columns = { visitorColumn: new Uint32Array(8), pageColumn: new Uint32Array(8), timestampColumn: new Float64Array(8) }
  parsed.forEach((batch, b) => scatterRows(batch, plan.visitorIdMaps[b], plan.pageIdOffsets[b], plan.batchSiteCursors[b], columns))
  const visitorSiteCount = new Uint32Array(plan.visitors.size)
  const group = siteGrouper(plan.siteRowStart, columns, visitorSiteCount)
  for (let site = 0; site < plan.siteUrls.length; site++) group(site)
  // Read after, every batch's rows in turn, for the pages alone.
  const pagesRead = new PageViewBatchBuilder({}, 'pagesOnly')
  for (const row of rows.flat()) pagesRead.add(...row)
  const { pageColumn: pageIds, pages } = pagesRead.finish(false)
  rewritePageIds(columns.pageColumn, pageIds)
  const store = withPages(finishStore(plan, columns, visitorSiteCount), columns.pageColumn, pages)
  t.same(rowsBySite(store), rowsBySite(expected), 'the same rows, pages and all, as a store whose parse read its pages')
  t.equal(store.pages.size, 5, 'a/1, a/2, a/3, b/x and b/y, each once')
})

t.test('a store of several batches takes its visitors from the first, which must have merged the others\'', async t => {
  const first = new PageViewBatchBuilder()
  first.add('v1', 'a', 'a/1', 1)
  const second = new PageViewBatchBuilder()
  second.add('v2', 'a', 'a/1', 2)
  t.throws(() => buildPageViewStore([first.finish(), second.finish(false)]), { message: 'the first of 2 batches merged the visitors of 0 others' })
})

t.test('a visitor with many views on one site is sorted by merging runs, pages along, ties in their order', async t => {
  const builder = new PageViewBatchBuilder()
  for (let i = 0; i < 100; i++) builder.add('bot', 's', `/p${(i * 37) % 100}`, (i * 37) % 100)
  builder.add('bot', 's', '/again', 50)
  builder.add('human', 's', '/h', 5)
  for (const [page, time] of [['/c', 9], ['/a', 3], ['/b', 3]] as const) builder.add('few', 's', page, time)
  const rows = rowsBySite(buildPageViewStore([builder.finish()])).s
  const bot = rows.filter(([visitor]) => visitor === 'bot')
  t.same(bot.map(([, time]) => time), [...Array.from({ length: 51 }, (_, i) => i), 50, ...Array.from({ length: 49 }, (_, i) => i + 51)])
  t.ok(bot.every(([, time, page]) => page === `/p${time}` || (page === '/again' && time === 50)), 'each view keeps its page')
  t.same(bot.slice(50, 52).map(([, , page]) => page), ['/p50', '/again'], 'a tie keeps the order of the rows')
  t.same(rows.filter(([visitor]) => visitor === 'few').map(([, , page]) => page), ['/a', '/b', '/c'], 'by insertion, ties in order too')
  t.equal(rows.length, 105)
})

t.test('an empty dataset has no time range', async t => {
  const store = buildPageViewStore([new PageViewBatchBuilder().finish()])
  t.equal(store.siteUrls.length, 0)
  t.equal(store.firstTimestamp, null)
  t.equal(store.lastTimestamp, null)
})

t.test('sites of many visitors and very different sizes group as a plain stable grouping does', async t => {
  let seed = 42
  const random = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n
  const input: [string, string, string, number][] = []
  // A large site first, so that the smaller ones after it reuse scratch space it has filled.
  for (const [site, rows, visitors] of [['big', 20_000, 3_000], ['small', 40, 30], ['one', 1, 1], ['mid', 3_000, 2_500]] as const) {
    for (let i = 0; i < rows; i++) input.push([`v${random(visitors)}`, site, `/p${random(50)}`, random(5_000)])
  }
  // Sites interleaved, as in a log, after a site of one row: the scratch space made for it must grow.
  input.sort(() => random(3) - 1)
  input.unshift(['v1', 'first', '/p1', 7])
  // Then bots with many views each, file after file: runs in time order that overlap, with ties between them.
  for (let file = 0; file < 5; file++) {
    for (let i = 0; i < 600; i++) input.push([`bot${i % 3}`, 'bots', `/f${file}-${i}`, file * 20 + Math.floor(i / 6)])
  }
  const builder = new PageViewBatchBuilder()
  for (const [visitor, site, page, time] of input) builder.add(visitor, site, page, time)
  const expected: Record<string, [string, number, string][]> = {}
  for (const site of ['first', 'big', 'small', 'one', 'mid', 'bots']) {
    const byVisitor = new Map<string, [string, number, string][]>()
    for (const [visitor, rowSite, page, time] of input) {
      if (rowSite === site) byVisitor.set(visitor, [...(byVisitor.get(visitor) ?? []), [visitor, time, page]])
    }
    expected[site] = [...byVisitor.values()].flatMap(views => views.sort((a, b) => a[1] - b[1]))
  }
  const actual = rowsBySite(buildPageViewStore([builder.finish()]))
  for (const site of Object.keys(expected)) {
    t.equal(JSON.stringify(actual[site]), JSON.stringify(expected[site]), `${site}: visitors in order of first view, each in time order, ties in order`)
  }
})

t.test('sites are cut into chunks of neighbouring sites, the chunks of most rows first', async t => {
  const starts = (counts: number[]) => Uint32Array.from(counts.reduce((ends, count) => [...ends, ends.at(-1)! + count], [0]))
  // A site larger than a chunk makes one of its own; a site without rows goes with its neighbours.
  t.same([...siteChunks(starts([5, 1, 1, 30, 2, 2, 2, 0, 4]), 6)], [3, 4, 0, 2, 4, 8, 8, 9, 2, 3])
  t.same([...siteChunks(starts([]), 6)], [], 'no site, no chunk')
  let seed = 7
  const random = (n: number) => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n
  for (let trial = 0; trial < 20; trial++) {
    const counts = Array.from({ length: 1 + random(200) }, () => random(4) === 0 ? random(500) : random(20))
    const siteRowStart = starts(counts)
    const rowsPerChunk = 1 + random(300)
    const chunks = siteChunks(siteRowStart, rowsPerChunk)
    const sites: number[] = []
    let previousRows = Infinity
    for (let at = 0; at < chunks.length; at += 2) {
      const [from, to] = [chunks[at], chunks[at + 1]]
      const rows = siteRowStart[to] - siteRowStart[from]
      if (rows > rowsPerChunk && to - from > 1) t.fail(`chunk [${from}, ${to}) of ${rows} rows holds several sites`)
      if (rows > previousRows) t.fail(`chunk [${from}, ${to}) of ${rows} rows after one of ${previousRows}`)
      previousRows = rows
      for (let site = from; site < to; site++) sites.push(site)
    }
    t.same(sites.sort((a, b) => a - b), counts.map((_, site) => site), `trial ${trial}: every site in one chunk`)
  }
})
