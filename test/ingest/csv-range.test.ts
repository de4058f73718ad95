import t, { type Test } from 'tap'
import { join } from 'node:path'
import { CsvFormatError, RangeParser, rowProblem, type CsvRange, type RangeParseOptions } from '../../src/ingest/csv-range.js'
import { PageViewBatchBuilder } from '../../src/ingest/page-view-batch.js'
import { seededRandom } from '../../scripts/lib/page-view-generator.js'

const lenient: RangeParseOptions = { strict: false, maxBadRowExamples: 10, fastPath: true, chunkBytes: 1 << 16, maxRecordBytes: 1 << 20 }

/** Parses a range into rows as [visitor, site, timestamp] in the order they were added, and their pages. */
async function parseRange (range: CsvRange, options: RangeParseOptions) {
  const builder = new PageViewBatchBuilder()
  const parser = new RangeParser(range, builder, options)
  while (await parser.step());
  const batch = builder.finish()
  const rows = Array.from(batch.timestampColumn, (time, i) =>
    [builder.visitors.keyOf(batch.visitorColumn[i]), builder.sites.keyOf(batch.siteColumn[i]), time])
  const pages = Array.from(batch.pageColumn, page => builder.pages.keyOf(page))
  // Keys are bytes: two that decode to the same string would be two ids, which the strings above would not show.
  const keys = [batch.visitors, batch.sites, batch.pages].map(({ ends }) => ends.length)
  return { rows, pages, keys, result: parser.result() }
}

/**
 * Parses `content` as a whole file with the fast path and with papaparse alone, in big and in tiny chunks,
 * checks that all four agree on every row (as a multiset) and every bad row, and returns one of them.
 */
async function parse (t: Test, content: string | Buffer, options: Partial<RangeParseOptions> = {}) {
  const dir = t.testdir({ 'views.csv': content })
  const file = join(dir, 'views.csv')
  const range = { file, start: 0, end: Buffer.byteLength(content) }
  const runs = []
  for (const fastPath of [true, false]) {
    for (const chunkBytes of [1 << 16, 7]) runs.push(await parseRange(range, { ...lenient, ...options, fastPath, chunkBytes }))
  }
  const sorted = (rows: unknown[][]) => rows.map(row => JSON.stringify(row)).sort()
  for (const run of runs.slice(1)) {
    const withPages = ({ rows, pages }: typeof run) => rows.map((row, i) => [...row, pages[i]])
    t.same(sorted(withPages(run)), sorted(withPages(runs[0])), 'every path reads the same rows, pages too')
    t.same(run.keys, runs[0].keys, 'and the same distinct visitors, sites and pages')
    // A strict parse stops where it fails, so how many lines it saw depends on the chunk size.
    const comparable = ({ lines, ...rest }: typeof run.result) => rest.strictFailure ? rest : { lines, ...rest }
    t.same(comparable(run.result), comparable(runs[0].result), 'every path reports the same')
  }
  return { file, ...runs[0] }
}

t.test('page URLs are kept as written: quoted, with commas, quotes, non-ASCII, CRLF, or empty', async t => {
  const { pages } = await parse(t, 'v1,s1,/a?x=1,1\r\nv2,s1,"/b,c ""d""",2\r\nv3,s1,/é,3\nv4,s1,,4\nv5,s1,"",5\n')
  t.same([...pages].sort(), ['/a?x=1', '/b,c "d"', '/é', '', ''].sort(), 'quoted lines are read in runs of their own, so in another order')
})

t.test('fields quoted as CSV writers quote a comma read the same on every path, and so does every other use of quotes', async t => {
  const lines = [
    '"v,1",s1,"s1/p?a=1,2",10', // quoted as a writer quotes a comma
    'v2,"s,2",s2/b,20\r', // a quoted site, and CRLF
    'v3,s1,"",30', // an empty quoted page
    '"é",s1,"/ü",40', // text beyond ASCII inside quotes
    '"v""5",s1,u,50', // a quote inside quotes: papaparse's
    '"v6" ,s1,u,60', // a space after the closing quote: papaparse's, which drops it
    ' "v7",s1,u,70', // a space before the opening quote: a plain character
    'v"8,s1,u,80', // a quote inside a field
    '"v9"x,s1,u,90', // text after the closing quote: bad
    'v10,s1,u,"100"', // a quoted timestamp
    '"",s1,u,110', // an empty quoted visitor: bad
    'v12,"",u,120', // an empty quoted site: bad
    '"v13",s1,u', // three fields
    '"v14"' // one
  ]
  const { rows, pages, result } = await parse(t, lines.join('\n') + '\n')
  const read = rows.map((row, i) => [...row, pages[i]]).sort((a, b) => Number(a[2]) - Number(b[2]))
  t.same(read, [
    ['v,1', 's1', 10, 's1/p?a=1,2'], ['v2', 's,2', 20, 's2/b'], ['v3', 's1', 30, ''], ['é', 's1', 40, '/ü'], ['v"5', 's1', 50, 'u'],
    ['v6', 's1', 60, 'u'], [' "v7"', 's1', 70, 'u'], ['v"8', 's1', 80, 'u'], ['v10', 's1', 100, 'u']
  ])
  t.same(result.badRows.map(bad => bad.line), [9, 11, 12, 13, 14])
})

t.test('plain rows, no header, no final newline', async t => {
  const { rows, pages, result } = await parse(t, 'v1,s1,s1/a,10\nv2,s2,s2/b,20')
  t.same(rows, [['v1', 's1', 10], ['v2', 's2', 20]])
  t.same(pages, ['s1/a', 's2/b'])
  t.match(result, { rows: 2, lines: 2, endsInsideQuotes: false, badRowCount: 0 })
})

t.test('a first line equal to the header is skipped; the same line later is a bad row', async t => {
  const { rows, result } = await parse(t,
    'visitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\nvisitor_id,site_url,page_view_url,timestamp\n')
  t.same(rows, [['v1', 's1', 10]])
  t.equal(result.badRowCount, 1)
  t.match(result.badRows[0], { line: 3, reason: /timestamp "timestamp"/ })
})

t.test('a byte-order mark before the first line is ignored', async t => {
  t.same((await parse(t, '\ufeffvisitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\n')).rows, [['v1', 's1', 10]])
  t.same((await parse(t, '\ufeffv0,s1,u,5\n')).rows, [['v0', 's1', 5]])
})

t.test('CRLF line ends, blank lines and trailing blank lines', async t => {
  const { rows, result } = await parse(t, 'v1,s1,u,10\r\n\r\nv2,s1,u,20\r\n\r\n')
  t.same(rows, [['v1', 's1', 10], ['v2', 's1', 20]])
  t.equal(result.badRowCount, 0)
  t.equal(result.lines, 4)
  const lastBlank = await parse(t, 'v1,s1,u,10\r\n\r')
  t.same(lastBlank.rows, [['v1', 's1', 10]], 'a last line of a lone \\r, with no line break after it, is blank too')
  t.equal(lastBlank.result.badRowCount, 0)
})

t.test('a file mixing \\n and \\r\\n line ends, quoted last fields included', async t => {
  const { rows, result } = await parse(t,
    'visitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\r\nv2,s1,u,"20"\r\n\r\nv3,s1,u,30\n')
  t.same(rows.sort(), [['v1', 's1', 10], ['v2', 's1', 20], ['v3', 's1', 30]])
  t.equal(result.badRowCount, 0)
})

t.test('quoted fields may hold commas, quotes and line breaks; line numbers stay right', async t => {
  const { rows, result, file } = await parse(t, [
    '"v,1","s1","s1/?a=1,2",10',
    'v2,s1,"multi',
    'line ""url""",20',
    'v3,s1,u,bad',
    '"v 4",s1,u,"30"',
    'v5,s1,u,40'
  ].join('\n'))
  t.same(rows.sort(), [['v 4', 's1', 30], ['v,1', 's1', 10], ['v2', 's1', 20], ['v5', 's1', 40]])
  t.same(result.badRows, [{ file, line: 4, reason: 'timestamp "bad" is not a non-negative integer' }])
  t.equal(result.endsInsideQuotes, false)
})

t.test('ids are UTF-8, whatever path they take', async t => {
  const { rows } = await parse(t, 'vïsitör,www.é.com,u,1\n"vïsitör","www.é.com",u,2\n')
  t.same(rows.sort(), [['vïsitör', 'www.é.com', 1], ['vïsitör', 'www.é.com', 2]])
})

t.test('every kind of bad row is skipped, counted and reported with its line', async t => {
  const { rows, result, file } = await parse(t, [
    'v1,s1,u,10', // 1 good
    'v1,s1,u', // 2 too few fields
    'v1,s1,u,10,extra', // 3 too many fields
    ',s1,u,10', // 4 empty visitor
    'v1,,u,10', // 5 empty site
    'v1,s1,u,-5', // 6 negative
    'v1,s1,u,1.5', // 7 fraction
    'v1,s1,u,', // 8 empty timestamp
    'v1,s1,u,99999999999999999999', // 9 beyond 2^53
    'v1,s1,u,1e9', // 10 exponent
    '   ', // 11 whitespace only
    'v2,s1,u,4294967296', // 12 good, past 2^32
    'v3,s1,u,9007199254740991', // 13 good, 2^53 - 1, 16 digits
    'v1', // 14 one field
    'v1,s1', // 15 two fields
    'v1,s1,u,10 ' // 16 trailing space
  ].join('\n'), { maxBadRowExamples: 20 })
  t.same(rows, [['v1', 's1', 10], ['v2', 's1', 4294967296], ['v3', 's1', 9007199254740991]])
  t.equal(result.badRowCount, 13)
  t.same(result.badRows.map(bad => [bad.line, bad.reason]), [
    [2, 'expected 4 fields, found 3'],
    [3, 'expected 4 fields, found 5'],
    [4, 'empty visitor_id'],
    [5, 'empty site_url'],
    [6, 'timestamp "-5" is not a non-negative integer'],
    [7, 'timestamp "1.5" is not a non-negative integer'],
    [8, 'timestamp "" is not a non-negative integer'],
    [9, 'timestamp "99999999999999999999" is not a non-negative integer'],
    [10, 'timestamp "1e9" is not a non-negative integer'],
    [11, 'expected 4 fields, found 1'],
    [14, 'expected 4 fields, found 1'],
    [15, 'expected 4 fields, found 2'],
    [16, 'timestamp "10 " is not a non-negative integer']
  ])
  t.ok(result.badRows.every(bad => bad.file === file))
})

t.test('an unterminated quote spoils only its own line', async t => {
  const { rows, result } = await parse(t, 'v1,s1,u,10\nv2,"s1,u,20\nv3,s1,u,30\n')
  t.same(rows.sort(), [['v1', 's1', 10], ['v3', 's1', 30]])
  t.equal(result.badRowCount, 1)
  t.match(result.badRows[0], { line: 2, reason: 'a quoted field is not closed' })
  t.equal(result.endsInsideQuotes, true)
})

t.test('a record spanning lines that is not a valid row spoils only its first line, however the file is chunked', async t => {
  const { rows, result } = await parse(t, [
    'v1,s1,u,1',
    '"v2","s1,u,2', // opens a quoted field that line 6 closes, with a malformed quote on the way
    'v3,s1,u,3',
    'v4,s1"x,u,4', // a quote inside an unquoted field is a plain character
    'v5,s1,u,5',
    '"v6",s1,u,6'
  ].join('\n'))
  t.same(rows.sort(), [['v1', 's1', 1], ['v3', 's1', 3], ['v4', 's1"x', 4], ['v5', 's1', 5], ['v6', 's1', 6]])
  t.equal(result.badRowCount, 1)
  t.match(result.badRows[0], { line: 2 })
})

t.test('a malformed quote within one line makes that line bad, not its neighbours', async t => {
  const { rows, result } = await parse(t, 'v1,"s1",u,1\nv2,"s1"xxxxxxxxxxxxxxxx",u,2\n"v3",s1,u,3\n')
  t.same(rows.sort(), [['v1', 's1', 1], ['v3', 's1', 3]])
  t.same(result.badRows.map(bad => [bad.line, bad.reason]), [[2, 'Trailing quote on quoted field is malformed']])
})

t.test('quoted last fields at the end of a file: closed by the last byte, or not closed when spaces follow', async t => {
  t.same((await parse(t, 'v1,s1,u,1\n"v2",s1,u,"2"')).rows.sort(), [['v1', 's1', 1], ['v2', 's1', 2]])
  const { rows, result } = await parse(t, 'v1,s1,u,1\n"v2",s1,u,"2"  ')
  t.same(rows, [['v1', 's1', 1]])
  t.same(result.badRows.map(bad => bad.line), [2])
})

t.test('CRLF after a quoted field spanning lines', async t => {
  const { rows, result } = await parse(t, 'v1,s1,"/a\r\n/b",1\r\nv2,s1,u,2\r\n')
  t.same(rows.sort(), [['v1', 's1', 1], ['v2', 's1', 2]])
  t.equal(result.lines, 3)
})

t.test('a line longer than the limit in the same read as a run of lines for papaparse', async t => {
  const { rows, result } = await parse(t, `v1,s1,u,bad\n"v2",s1,u,2\n${'u'.repeat(200_000)}\nv3,s1,u,3\n`, { maxRecordBytes: 1000 })
  t.same(rows.sort(), [['v2', 's1', 2], ['v3', 's1', 3]])
  t.same(result.badRows.map(bad => [bad.line, bad.reason]), [[1, 'timestamp "bad" is not a non-negative integer'], [3, 'longer than 1000 bytes']])
})

t.test('a stray quote before thousands of good lines loses none of them', async t => {
  const good = Array.from({ length: 10_000 }, (_, i) => `v${i},s1,/p,${i}`)
  const { rows, result, file } = await parse(t, ['v,s1,"/p,100', ...good].join('\n') + '\n')
  t.equal(rows.length, 10_000)
  t.same(result.badRows, [{ file, line: 1, reason: 'a quoted field is not closed' }])
  t.equal(result.badRowCount, 1)
})

t.test('a quote inside an unquoted field is a plain character, whatever follows', async t => {
  for (const next of ['v2,s1,u,2', 'v2,"s1",u,2', 'v2,s1,"u', '"']) {
    const { rows } = await parse(t, `v1,s1,/p"x,1\n${next}\n`)
    t.same(rows.filter(row => row[0] === 'v1'), [['v1', 's1', 1]], `followed by ${next}`)
  }
})

t.test('a quoted record spanning lines that closes into a bad row skips its first line only', async t => {
  const { rows, result } = await parse(t, 'v1,s1,"/a\nv2,s1,/b,2\nv3,s1,/c",x\nv4,s1,/d,4\n')
  t.same(rows.sort(), [['v2', 's1', 2], ['v4', 's1', 4]])
  t.same(result.badRows.map(bad => [bad.line, bad.reason]), [
    [1, 'timestamp "x" is not a non-negative integer'],
    [3, 'timestamp "x" is not a non-negative integer']
  ])
  const malformed = await parse(t, 'v1,s1,"/a\n/b"xxxxxxxxxxxxxxxxxxxxxxxx",1\nv2,s1,u,2\n')
  t.same(malformed.rows, [['v2', 's1', 2]])
  t.same(malformed.result.badRows.map(bad => [bad.line, bad.reason]),
    [[1, 'Trailing quote on quoted field is malformed'], [2, 'expected 4 fields, found 2']])
})

t.test('an unclosed quote on a last line longer than the limit, with no final newline, ends the load', async t => {
  for (const fastPath of [true, false]) {
    const content = 'v1,s1,u,1\nv2,s1,"' + 'x'.repeat(300)
    const { rows, result } = await parse(t, content, { maxRecordBytes: 100, fastPath })
    t.same(rows, [['v1', 's1', 1]])
    t.same(result.badRows.map(bad => bad.line), [2])
  }
})

t.test('a line longer than the limit is one bad row, dropped as it is read', async t => {
  const longLine = `v2,s1,${'u'.repeat(5000)},2`
  const { rows, result, file } = await parse(t, `v1,s1,u,1\n${longLine}\nv3,s1,u,3\n${longLine}`, { maxRecordBytes: 1000 })
  t.same(rows.sort(), [['v1', 's1', 1], ['v3', 's1', 3]])
  t.same(result.badRows, [
    { file, line: 2, reason: 'longer than 1000 bytes' },
    { file, line: 4, reason: 'longer than 1000 bytes' }
  ])
  t.equal(result.lines, 4)
})

t.test('a bad row\'s reason quotes at most a short prefix of the field', async t => {
  const { result } = await parse(t, `v1,s1,u,${'9'.repeat(100_000)}x\n`)
  t.equal(result.badRows[0].reason, `timestamp "${'9'.repeat(40)}"… is not a non-negative integer`)
})

t.test('ids that are not valid UTF-8 read the same on every path: each bad byte becomes U+FFFD', async t => {
  const content = Buffer.concat([Buffer.from('v1,s'), Buffer.from([0xff]), Buffer.from(',u,1\n"v1","s'), Buffer.from([0xff]),
    Buffer.from('",u,2\nv'), Buffer.from([0xc3]), Buffer.from(',s1,u,3\n')])
  const { rows } = await parse(t, content)
  t.same(rows.sort(), [['v1', 's\ufffd', 1], ['v1', 's\ufffd', 2], ['v\ufffd', 's1', 3]])
})

t.test('every form of UTF-8, valid or not, reads the same on every path, as Node\'s isUtf8 has it', async t => {
  // The edges of each sequence length (Unicode's table 3-7), overlong forms, surrogates, past U+10FFFF, cut short.
  const forms = [
    [0xc2, 0x80], [0xdf, 0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0xa0, 0x80], [0xe0, 0x9f, 0xbf], [0xed, 0x9f, 0xbf],
    [0xed, 0xa0, 0x80], [0xef, 0xbf, 0xbf], [0xf0, 0x90, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0xf4, 0x8f, 0xbf, 0xbf],
    [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xff], [0x80], [0xbf], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xc3]
  ]
  let state = 11
  const next = (bound: number): number => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % bound }
  const lines: Buffer[] = []
  for (let i = 0; i < 600; i++) {
    const form = i < forms.length * 3 ? forms[i % forms.length] : [next(2) === 0 ? 0xc0 + next(64) : next(256), 0x80 + next(64), next(256)]
    const text = Buffer.from(form.map(byte => byte === 10 || byte === 13 || byte === 34 || byte === 44 ? 0x41 : byte))
    // Each form in the visitor, the site or the page, alone or between ASCII.
    const fields = [Buffer.from(`v${i}`), Buffer.from('s'), Buffer.from('/p')]
    fields[i % 3] = i % 2 === 0 ? text : Buffer.concat([fields[i % 3], text, Buffer.from('x')])
    lines.push(Buffer.concat([fields[0], Buffer.from(','), fields[1], Buffer.from(','), fields[2], Buffer.from(`,${i}\n`)]))
    // The same fields again on a line only papaparse reads: one more id anywhere would mean bytes kept as read.
    lines.push(Buffer.concat([fields[0], Buffer.from(','), fields[1], Buffer.from(',"'), fields[2], Buffer.from(`""",${i}\n`)]))
  }
  const { rows, result } = await parse(t, Buffer.concat(lines))
  t.equal(rows.length + result.badRowCount, 1200)
})

t.test('a file of stray quotes reads in linear time', async t => {
  const dir = t.testdir({ 'views.csv': 'v,s,"u,1\n'.repeat(200_000) })
  const file = join(dir, 'views.csv')
  const { rows, result } = await parseRange({ file, start: 0, end: 2_000_000 }, lenient)
  t.equal(rows.length, 0)
  t.equal(result.badRowCount, 200_000)
})

t.test('lines made at random from the bytes that steer the fast path read the same on every path', async t => {
  // Each piece is something a plain line's reader must stop at, or read past: field and line ends, quotes,
  // \r where it ends a line and where it does not, digits (more than fit a double exactly), non-ASCII text.
  const pieces = ['v', 'site', 'page/1', ',', ',', ',', '\n', '\r', '\r\n', '"', '""', '7', '1347844442', '1234567890123456',
    'é', '\u{1F600}', '\xff', ' ', 'a,b', 'x'.repeat(30)]
  const random = seededRandom(20261130)
  const pick = () => pieces[Math.floor(random() * pieces.length)]
  for (let file = 0; file < 40; file++) {
    const lines = Array.from({ length: 30 }, () => random() < 0.5
      ? `${pick()}${pick()},${pick()},${pick()}${pick()},${random() < 0.8 ? Math.floor(random() * 1e9) : pick()}${random() < 0.3 ? '\r' : ''}`
      : Array.from({ length: 1 + Math.floor(random() * 8) }, pick).join(''))
    await parse(t, lines.join('\n') + (random() < 0.5 ? '\n' : ''), { maxRecordBytes: random() < 0.5 ? 24 : 1 << 20 })
  }
})

t.test('a quote that never closes skips its own line once the record outgrows the limit', async t => {
  const lines = ['v1,s1,u,1', 'v2,"s1,u,2', ...Array.from({ length: 20 }, (_, i) => `v${i + 3},s1,u,${i + 3}`)]
  const { rows, result, file } = await parse(t, lines.join('\n'), { maxRecordBytes: 100 })
  t.equal(rows.length, 21)
  t.same(result.badRows, [{ file, line: 2, reason: 'a quoted field is not closed within 100 bytes' }])
  t.equal(result.lines, 22)
})

t.test('examples are capped; the count is not', async t => {
  const { result } = await parse(t, 'x\n'.repeat(25), { maxBadRowExamples: 3 })
  t.equal(result.badRowCount, 25)
  t.equal(result.badRows.length, 3)
})

t.test('strict mode stops at the first bad row', async t => {
  const { result, file } = await parse(t, 'v1,s1,u,10\nv1,s1,u,ten\nv1,s1,u\n', { strict: true })
  t.same(result.strictFailure, { file, line: 2, reason: 'timestamp "ten" is not a non-negative integer' })
  t.equal(result.badRowCount, 0)
})

t.test('a line longer than the buffer grows it', async t => {
  const longUrl = 'u'.repeat(100)
  const { rows } = await parse(t, `v1,s1,${longUrl},10\nv2,s1,"${longUrl}",20\n`)
  t.same(rows.sort(), [['v1', 's1', 10], ['v2', 's1', 20]])
})

t.test('ranges parsed one after another on a thread each read their own bytes, whatever the last one left in the read buffer', async t => {
  // The second range reads through the first one's buffer, which still holds the first one's longer lines.
  const first = Array.from({ length: 300 }, (_, i) => `first-visitor-${i},first.site,first.site/a-long-page-${i},${i}\n`).join('')
  const second = Array.from({ length: 300 }, (_, i) => `v${i},s,p${i},${1000 + i}`).join('\n')
  const dir = t.testdir({ 'first.csv': first, 'second.csv': second })
  const options = { ...lenient, chunkBytes: 100 }
  const firstRead = await parseRange({ file: join(dir, 'first.csv'), start: 0, end: first.length }, options)
  const secondRead = await parseRange({ file: join(dir, 'second.csv'), start: 0, end: second.length }, options)
  t.same(firstRead.rows, Array.from({ length: 300 }, (_, i) => [`first-visitor-${i}`, 'first.site', i]))
  t.same(secondRead.rows, Array.from({ length: 300 }, (_, i) => [`v${i}`, 's', 1000 + i]))
  t.same(secondRead.pages, Array.from({ length: 300 }, (_, i) => `p${i}`))
  t.match(secondRead.result, { rows: 300, lines: 300, badRowCount: 0 })
})

t.test('a range from the middle of a file counts its own lines and takes no header', async t => {
  const content = 'visitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\nvisitor_id,site_url,page_view_url,timestamp\nv2,s1,u,20\n'
  const dir = t.testdir({ 'views.csv': content })
  const file = join(dir, 'views.csv')
  const start = content.indexOf('visitor_id', 1)
  const { rows, result } = await parseRange({ file, start, end: content.length }, lenient)
  t.same(rows, [['v2', 's1', 20]])
  t.same(result.badRows, [{ file, line: 1, reason: 'timestamp "timestamp" is not a non-negative integer' }])
  t.match(result, { start, lines: 2 })
})

t.test('reading a folder as a file is a clear error', async t => {
  const dir = t.testdir({ 'views.csv': {} })
  const parser = new RangeParser({ file: join(dir, 'views.csv'), start: 0, end: 10 }, new PageViewBatchBuilder(), lenient)
  await t.rejects(parser.step(), new CsvFormatError(`${join(dir, 'views.csv')}: EISDIR: illegal operation on a directory, read`))
  t.equal(await parser.step(), false, 'a failed parser is done')
})

t.test('a missing file is a clear error', async t => {
  const parser = new RangeParser({ file: '/no/such.csv', start: 0, end: 10 }, new PageViewBatchBuilder(), lenient)
  await t.rejects(parser.step(), { name: 'CsvFormatError', message: /^\/no\/such\.csv: ENOENT/ })
})

t.test('rowProblem accepts a well-formed row', async t => {
  t.equal(rowProblem(['v', 's', 'u', '0']), undefined)
  t.equal(rowProblem(['v', 's', '', '9007199254740991']), undefined)
  t.equal(rowProblem(['v', 's', '', '9007199254740992']), 'timestamp "9007199254740992" is not a non-negative integer')
})
