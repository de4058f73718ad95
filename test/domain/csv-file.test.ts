import t, { type Test } from 'tap'
import { chmodSync } from 'node:fs'
import { join } from 'node:path'
import { CsvFormatError, parsePageViewFile, rowProblem, type FileParseOptions } from '../../src/domain/csv-file.js'

const lenient: FileParseOptions = { strict: false, maxBadRowExamples: 10 }

async function parse (t: Test, content: string, options: FileParseOptions = lenient) {
  const dir = t.testdir({ 'views.csv': content })
  const file = join(dir, 'views.csv')
  const result = await parsePageViewFile(file, options)
  const { batch } = result
  const rows = Array.from(batch.timestampColumn, (time, i) =>
    [batch.visitorIds[batch.visitorColumn[i]], batch.siteUrls[batch.siteColumn[i]], time])
  return { file, rows, result }
}

t.test('plain rows, no header, no final newline', async t => {
  const { rows, result } = await parse(t, 'v1,s1,s1/a,10\nv2,s2,s2/b,20')
  t.same(rows, [['v1', 's1', 10], ['v2', 's2', 20]])
  t.equal(result.badRowCount, 0)
})

t.test('a first line equal to the header is skipped; the same line later is a bad row', async t => {
  const { rows, result } = await parse(t,
    'visitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\nvisitor_id,site_url,page_view_url,timestamp\n')
  t.same(rows, [['v1', 's1', 10]])
  t.equal(result.badRowCount, 1)
  t.match(result.badRowExamples[0], { line: 3, reason: /timestamp "timestamp"/ })
})

t.test('a byte-order mark before the header is ignored', async t => {
  const { rows } = await parse(t, '\ufeffvisitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\n')
  t.same(rows, [['v1', 's1', 10]])
})

t.test('CRLF line ends, blank lines and trailing blank lines', async t => {
  const { rows, result } = await parse(t, 'v1,s1,u,10\r\n\r\nv2,s1,u,20\r\n\r\n')
  t.same(rows, [['v1', 's1', 10], ['v2', 's1', 20]])
  t.equal(result.badRowCount, 0)
})

t.test('a file mixing \\n and \\r\\n line ends, quoted last fields included', async t => {
  const { rows, result } = await parse(t,
    'visitor_id,site_url,page_view_url,timestamp\nv1,s1,u,10\r\nv2,s1,u,"20"\r\n\r\nv3,s1,u,30\n')
  t.same(rows, [['v1', 's1', 10], ['v2', 's1', 20], ['v3', 's1', 30]])
  t.equal(result.badRowCount, 0)
})

t.test('quoted fields may hold commas, quotes and line breaks; line numbers stay right', async t => {
  const { rows, result, file } = await parse(t, [
    '"v,1","s1","s1/?a=1,2",10',
    'v2,s1,"multi',
    'line ""url""",20',
    'v3,s1,u,bad',
    '"v 4",s1,u,"30"'
  ].join('\n'))
  t.same(rows, [['v,1', 's1', 10], ['v2', 's1', 20], ['v 4', 's1', 30]])
  t.same(result.badRowExamples, [{ file, line: 4, reason: 'timestamp "bad" is not a non-negative integer' }])
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
    'v2,s1,u,4294967296' // 12 good, past 2^32
  ].join('\n'))
  t.same(rows, [['v1', 's1', 10], ['v2', 's1', 4294967296]])
  t.equal(result.badRowCount, 10)
  t.same(result.badRowExamples.map(bad => [bad.line, bad.reason]), [
    [2, 'expected 4 fields, found 3'],
    [3, 'expected 4 fields, found 5'],
    [4, 'empty visitor_id'],
    [5, 'empty site_url'],
    [6, 'timestamp "-5" is not a non-negative integer'],
    [7, 'timestamp "1.5" is not a non-negative integer'],
    [8, 'timestamp "" is not a non-negative integer'],
    [9, 'timestamp "99999999999999999999" is not a non-negative integer'],
    [10, 'timestamp "1e9" is not a non-negative integer'],
    [11, 'expected 4 fields, found 1']
  ])
  t.ok(result.badRowExamples.every(bad => bad.file === file))
})

t.test('an unterminated quote is a bad row reported by the parser', async t => {
  const { rows, result } = await parse(t, 'v1,s1,u,10\nv2,"s1,u,20\n')
  t.same(rows, [['v1', 's1', 10]])
  t.equal(result.badRowCount, 1)
  t.match(result.badRowExamples[0], { line: 2, reason: /quote/i })
})

t.test('examples are capped; the count is not', async t => {
  const { result } = await parse(t, 'x\n'.repeat(25), { strict: false, maxBadRowExamples: 3 })
  t.equal(result.badRowCount, 25)
  t.equal(result.badRowExamples.length, 3)
})

t.test('strict mode fails on the first bad row, naming file and line', async t => {
  const dir = t.testdir({ 'views.csv': 'v1,s1,u,10\nv1,s1,u,ten\nv1,s1,u\n' })
  const file = join(dir, 'views.csv')
  await t.rejects(parsePageViewFile(file, { strict: true, maxBadRowExamples: 10 }),
    new CsvFormatError(`${file}:2: timestamp "ten" is not a non-negative integer`))
})

t.test('progress reports bytes read', async t => {
  const dir = t.testdir({ 'views.csv': 'v1,s1,u,10\n'.repeat(10_000) })
  const seen: number[] = []
  await parsePageViewFile(join(dir, 'views.csv'), { ...lenient, onBytesRead: bytes => seen.push(bytes) })
  t.ok(seen.length > 1, 'reported more than once')
  t.equal(seen.at(-1), 110_000)
})

t.test('an unreadable file is a clear error', { skip: process.getuid?.() === 0 && 'root reads every file' }, async t => {
  const dir = t.testdir({ 'views.csv': 'v1,s1,u,10\n' })
  chmodSync(join(dir, 'views.csv'), 0o000)
  await t.rejects(parsePageViewFile(join(dir, 'views.csv'), lenient), CsvFormatError)
})

t.test('a folder in place of a file is a clear error', async t => {
  const dir = t.testdir({ 'views.csv': {} })
  await t.rejects(parsePageViewFile(join(dir, 'views.csv'), lenient), { name: 'CsvFormatError', message: /EISDIR/ })
})

t.test('rowProblem accepts a well-formed row', async t => {
  t.equal(rowProblem(['v', 's', 'u', '0']), undefined)
  t.equal(rowProblem(['v', 's', '', '9007199254740991']), undefined)
  t.equal(rowProblem(['v', 's', '', '9007199254740992']), 'timestamp "9007199254740992" is not a non-negative integer')
})
