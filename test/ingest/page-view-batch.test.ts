import t from 'tap'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'

const MAX_LINE = 1 << 20

t.test('the fast path reads plain lines and lines quoted as CSV writers quote a comma, with the ids add() gives', async t => {
  const builder = new PageViewBatchBuilder()
  builder.add('v2', 's.com', '/b,c', 0)
  const text = Buffer.from('v1,s.com,/a,1\n"v2","s.com","/b,c",2\nv1,"t.com",,3\r\nv3,s.com,"",4\n"ü,1",t.com,"/a",5')
  builder.setPlainLines(text)
  t.same(builder.addPlainLines(0, text.length, MAX_LINE, true), { end: text.length, lines: 5, rows: 5 }, 'every line, the last without a line break')
  const batch = builder.finish()
  const keys = (keyOf: (id: number) => string, column: Uint32Array) => Array.from(column, keyOf)
  t.same(keys(id => builder.visitors.keyOf(id), batch.visitorColumn), ['v2', 'v1', 'v2', 'v1', 'v3', 'ü,1'])
  t.same(keys(id => builder.sites.keyOf(id), batch.siteColumn), ['s.com', 's.com', 's.com', 't.com', 's.com', 't.com'])
  t.same(keys(id => builder.pages.keyOf(id), batch.pageColumn), ['/b,c', '/a', '/b,c', '', '', '/a'], 'the text inside the quotes')
  t.same([...batch.timestampColumn], [0, 1, 2, 3, 4, 5])
  t.equal(batch.visitorColumn[2], batch.visitorColumn[0], 'the same id as add() gave the same key')
})

t.test('the fast path stops at any other quoting, and every other line papaparse must read', async t => {
  const notPlain = [
    '"v""1",s,/a,1', // a quote inside quotes
    '"v1" ,s,/a,1', // anything between the closing quote and the comma
    'v1,s,"/a"/b,1',
    'v1,s,"/a\n/b",1', // a line break inside quotes: a record over two lines
    'v1,s,"/a', // never closed
    'v"1,s,/a,1', // a quote inside an unquoted field
    '"",s,/a,1', // an empty visitor, quoted
    'v1,"",/a,1',
    'v1,s,/a,"1"', // a quoted timestamp
    'v1,s,"/a",1x'
  ]
  for (const line of [...notPlain.map(line => Buffer.from(line)), Buffer.from([0x22, 0xff, 0x22, 0x2c, 0x73, 0x2c, 0x2c, 0x31])]) {
    const builder = new PageViewBatchBuilder()
    const text = Buffer.concat([Buffer.from('v0,s,/z,0\n'), line, Buffer.from('\nv9,s,/y,9\n')])
    builder.setPlainLines(text)
    t.same(builder.addPlainLines(0, text.length, MAX_LINE, false), { end: 10, lines: 1, rows: 1 }, `stops at ${JSON.stringify(line.toString())}`)
  }
})

t.test("rows are counted by site and the time range kept as they come, by either path; a drain starts both afresh", async t => {
  const builder = new PageViewBatchBuilder()
  // Past the counts' first capacity (64 sites) through each path.
  for (let site = 0; site < 100; site++) builder.add('v', `s${site}`, '/', 1000 + site)
  const text = Buffer.from(Array.from({ length: 200 }, (_, i) => `v,s${i % 150},/,${500 + i}\n`).join(''))
  builder.setPlainLines(text)
  t.same(builder.addPlainLines(0, text.length, MAX_LINE, false).rows, 200)
  const batch = builder.drain()
  const expected = Array.from({ length: 150 }, (_, site) => (site < 100 ? 1 : 0) + (site < 50 ? 2 : 1))
  t.same([...batch.siteRowCounts], expected, 'each site interned, counted')
  t.same([batch.firstTimestamp, batch.lastTimestamp], [500, 1099])
  builder.add('w', 'late', '/', 7)
  const next = builder.drain()
  t.same([...next.siteRowCounts], [1], 'the next batch counts its own rows only')
  t.same([next.firstTimestamp, next.lastTimestamp], [7, 7])
})

t.test('a parse may leave the pages for later, and a later one read the pages alone: the same rows, by either path', async t => {
  // Plain lines, quoted ones, a line papaparse reads (a quote inside quotes), and rows added by add().
  const text = Buffer.from('v1,s.com,/a,1\n"v2","t.com","/b,c",2\n"v""3",s.com,/a,4294967299\nv1,s.com,,3\n')
  const parse = (interned?: 'all' | 'allButPages' | 'pagesOnly') => {
    const builder = new PageViewBatchBuilder({}, interned)
    builder.add('v0', 's.com', '/z', 0)
    builder.setPlainLines(text)
    const first = builder.addPlainLines(0, text.length, MAX_LINE, false)
    builder.add('v"3', 's.com', '/a', 4294967299)
    builder.setPlainLines(text)
    builder.addPlainLines(first.end + text.subarray(first.end).indexOf(10) + 1, text.length, MAX_LINE, false)
    return { builder, batch: builder.finish() }
  }
  const all = parse('all')
  const allButPages = parse('allButPages')
  const pagesOnly = parse('pagesOnly')
  const pages = ({ builder, batch }: ReturnType<typeof parse>) => Array.from(batch.pageColumn, id => builder.pages.keyOf(id))
  t.same(pages(all), ['/z', '/a', '/b,c', '/a', ''])
  t.same(pages(pagesOnly), pages(all), 'the pages alone, as a whole parse reads them')
  t.same(pagesOnly.batch.pages.ends, all.batch.pages.ends, 'in the same dictionary')
  t.same([...allButPages.batch.pageColumn], [0, 1, 2, 3, 4], 'left for later: each row\'s number in its place')
  t.equal(allButPages.batch.pages.ends.length, 0, 'and no page interned')
  t.ok(allButPages.batch.pagesDeferred && !all.batch.pagesDeferred && !pagesOnly.batch.pagesDeferred)
  for (const column of ['siteColumn', 'visitorColumn', 'timestampColumn', 'siteRowCounts'] as const) {
    t.same(allButPages.batch[column], all.batch[column], `the same ${column} without the pages`)
  }
  t.same(pagesOnly.batch.sites.ends.length + pagesOnly.batch.visitors.ends.length, 0, 'the pages alone: no site or visitor interned')
  t.equal(allButPages.batch.checksum, all.batch.checksum, 'the same rows, the same checksum')
  t.equal(pagesOnly.batch.checksum, all.batch.checksum)

  const checksum = (timestamps: number[]) => {
    const builder = new PageViewBatchBuilder()
    for (const timestamp of timestamps) builder.add('v', 's', '/', timestamp)
    return builder.finish().checksum
  }
  t.not(checksum([1, 4294967298]), checksum([1, 4294967299]), 'another timestamp, past 2^32: another checksum')
  t.not(checksum([1, 2]), checksum([2, 1]), 'the same timestamps in another order: another checksum')
})

t.test('a parse of several batches\' ranges in turn takes each batch\'s checksum as it goes', async t => {
  const batch = (timestamps: number[]) => {
    const builder = new PageViewBatchBuilder()
    for (const timestamp of timestamps) builder.add('v', 's', '/', timestamp)
    return builder.finish().checksum
  }
  const inTurn = new PageViewBatchBuilder({}, 'pagesOnly')
  for (const timestamp of [5, 9, 7]) inTurn.add('v', 's', '/', timestamp)
  t.equal(inTurn.takeChecksum(), batch([5, 9, 7]))
  for (const timestamp of [2, 3]) inTurn.add('v', 's', '/', timestamp)
  t.equal(inTurn.takeChecksum(), batch([2, 3]), 'from the last take on')
  // Past the column's first capacity (1,024 rows).
  for (let row = 0; row < 1100; row++) inTurn.add('v', 's', `/${row % 3}`, row)
  const { pageColumn } = inTurn.finish(false)
  t.same([...pageColumn.subarray(0, 9)], [0, 0, 0, 0, 0, 1, 2, 3, 1], 'every row\'s page')
  t.equal(pageColumn.length, 1105)
})
