import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { setImmediate } from 'node:timers/promises'
import { listCsvFiles } from '../../src/ingest/data-folder.js'
import { loadDataset, type LoadProgress } from '../../src/ingest/dataset.js'
import { LoadAhead } from '../../src/ingest/load-ahead.js'
import { contents, onThisThread } from './load-options.js'
import { csv } from '../helper.js'

t.test('a load begun ahead is the load, and tells whoever takes it where it stands and each step after', async t => {
  const dir = t.testdir({ 'a.csv': csv([['v', 's1', 0], ['v', 's1', 100], ['w', 's2', 7]]), 'b.csv': csv([['v', 's1', 50]]) })
  const files = await listCsvFiles(dir)
  const ahead = new LoadAhead(files, onThisThread)
  t.equal(ahead.files, files)
  const bytes = files.reduce((sum, file) => sum + file.bytes, 0)
  const heard: LoadProgress[] = []
  const loaded = await ahead.take(progress => heard.push({ ...progress }), new AbortController().signal)
  t.same(heard.at(-1), { filesTotal: 2, bytesTotal: bytes, bytesDone: bytes }, 'each step after it is taken')
  // Taken again once it is done: told at once where it stands.
  const late: LoadProgress[] = []
  t.equal(await ahead.take(progress => late.push({ ...progress }), new AbortController().signal), loaded)
  t.same(late, [{ filesTotal: 2, bytesTotal: bytes, bytesDone: bytes }])
  const direct = await loadDataset(files, onThisThread)
  t.same(contents(t, await loaded.complete), contents(t, await direct.complete))
  t.same(loaded.summary.files, direct.summary.files)
})

t.test('a load begun ahead stops with the signal of whoever takes it, or when told to; its failure waits to be taken', async t => {
  const dir = t.testdir({})
  execFileSync('mkfifo', [join(dir, 'pipe.csv')])
  const files = await listCsvFiles(dir)
  const stopping = new AbortController()
  const never = new LoadAhead(files, onThisThread).take(() => {}, stopping.signal)
  stopping.abort(new Error('closing'))
  await t.rejects(never, { message: 'closing' })

  const stopped = new AbortController()
  stopped.abort(new Error('closed already'))
  await t.rejects(new LoadAhead(files, onThisThread).take(() => {}, stopped.signal), { message: 'closed already' })

  const unwanted = new LoadAhead(files, onThisThread)
  unwanted.stop(new Error('a saved store came'))
  await t.rejects(unwanted.take(() => {}, new AbortController().signal), { message: 'a saved store came' })

  const bad = t.testdir({ 'v.csv': 'a,s1,u,1\na,s1,u,later\n' })
  const strict = new LoadAhead(await listCsvFiles(bad), { ...onThisThread, strict: true })
  // Failed before anyone took it: no unhandled rejection meanwhile.
  await setImmediate()
  await setImmediate()
  await t.rejects(strict.take(() => {}, new AbortController().signal), { name: 'CsvFormatError', message: /v\.csv:2/ })
})
