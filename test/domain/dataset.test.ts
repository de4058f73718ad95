import t from 'tap'
import { join } from 'node:path'
import { DataDirError, listCsvFiles, loadDataset, type LoadProgress } from '../../src/domain/dataset.js'

t.test('lists only CSV files, sorted by name, with their sizes', async t => {
  const dir = t.testdir({
    'b.csv': 'v,s,u,1\n',
    'a.CSV': '',
    'notes.txt': 'not data',
    'folder.csv': {}
  })
  t.same(await listCsvFiles(dir), [
    { path: join(dir, 'a.CSV'), bytes: 0 },
    { path: join(dir, 'b.csv'), bytes: 8 }
  ])
})

t.test('a missing folder or one without CSV files is a clear error', async t => {
  await t.rejects(listCsvFiles('/no/such/folder'), new DataDirError('cannot read data folder /no/such/folder: ' +
    "ENOENT: no such file or directory, scandir '/no/such/folder'"))
  const empty = t.testdir({ 'readme.txt': '' })
  await t.rejects(listCsvFiles(empty), new DataDirError(`no .csv file in data folder ${empty}`))
})

t.test('loads every file into one store with a summary and progress', async t => {
  const dir = t.testdir({
    '1.csv': 'v1,s1,u,100\nv2,s2,u,50\nbad\n',
    '2.csv': 'v1,s2,u,300\n,s1,u,1\n'
  })
  const progress: LoadProgress[] = []
  const { store, summary } = await loadDataset(await listCsvFiles(dir), {
    strict: false,
    maxBadRowExamples: 1,
    onProgress: p => progress.push({ ...p })
  })
  t.equal(store.timestampColumn.length, 3)
  t.match(summary, {
    files: [{ file: join(dir, '1.csv'), rows: 2, skippedRows: 1 }, { file: join(dir, '2.csv'), rows: 1, skippedRows: 1 }],
    rows: 3,
    skippedRows: 2,
    skippedRowExamples: [{ file: join(dir, '1.csv'), line: 3, reason: 'expected 4 fields, found 1' }],
    sites: 2,
    visitors: 2,
    firstTimestamp: 50,
    lastTimestamp: 300
  })
  t.type(summary.loadMs, 'number')
  t.same(progress.at(-1), { filesTotal: 2, filesDone: 2, bytesTotal: 47, bytesDone: 47 })
})
