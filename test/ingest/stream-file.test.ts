import t from 'tap'
import { join } from 'node:path'
import { listCsvFiles } from '../../src/ingest/data-folder.js'
import { streamFile, type StreamOptions } from '../../src/ingest/stream-file.js'
import { tabSeparated } from '../../src/backends/clickhouse/ingest.js'

const OPTIONS: StreamOptions = { strict: false, fastPath: true, maxBadRowExamples: 5, chunkBytes: 64, maxRecordBytes: 1024, batchRows: 3 }

const lines = Array.from({ length: 10 }, (_, i) => `v${i % 3},s${i % 2}.example,s${i % 2}.example/p${i},${1000 + i}`)

t.test('hands the rows on in batches as it reads, each row once, in order, and reports bad rows by file name', async t => {
  const dataDir = t.testdir({ 'a.csv': `visitor_id,site_url,page_view_url,timestamp\n${lines.slice(0, 5).join('\n')}\nnot,a,row\n${lines.slice(5).join('\n')}\n` })
  const [file] = await listCsvFiles(dataDir)
  const batches: string[] = []
  let bytes = 0
  const result = await streamFile(file, OPTIONS, async batch => { batches.push(tabSeparated(batch)) }, read => { bytes += read })
  t.ok(batches.length >= 3, `${batches.length} batches`)
  t.same(batches.join('').trimEnd().split('\n').map(line => line.split('\t').join(',')), lines)
  t.equal(bytes, file.bytes, 'every byte is reported')
  t.match(result, { file: 'a.csv', rows: 10, badRowCount: 1, badRows: [{ file: 'a.csv', line: 7 }] })
})

t.test('strict: stops at the first bad row, named by file name', async t => {
  const dataDir = t.testdir({ 'b.csv': `${lines[0]}\nv,s,p,soon\n${lines[1]}\n` })
  const [file] = await listCsvFiles(dataDir)
  const result = await streamFile(file, { ...OPTIONS, strict: true }, async () => {}, () => {})
  t.match(result.strictFailure, { file: 'b.csv', line: 2, reason: /timestamp "soon"/ })
})

t.test('an abort stops the reading with its reason', async t => {
  const dataDir = t.testdir({ 'c.csv': lines.join('\n').repeat(20) })
  const [file] = await listCsvFiles(dataDir)
  const stop = new AbortController()
  await t.rejects(streamFile(file, OPTIONS, async () => { stop.abort(new Error('stopped')) }, () => {}, stop.signal), { message: 'stopped' })
  const stopped = new AbortController()
  stopped.abort(new Error('before'))
  await t.rejects(streamFile(file, OPTIONS, async () => {}, () => {}, stopped.signal), { message: 'before' })
  t.equal(join(dataDir, 'c.csv'), file.path)
})

t.test('TabSeparated escapes what would end a field or a row', async t => {
  const dataDir = t.testdir({ 'd.csv': '"a\tb","back\\\\slash","new\nline",5\n' })
  const [file] = await listCsvFiles(dataDir)
  let text = ''
  await streamFile(file, OPTIONS, async batch => { text += tabSeparated(batch) }, () => {})
  t.equal(text, 'a\\tb\tback\\\\\\\\slash\tnew\\nline\t5\n')
})
