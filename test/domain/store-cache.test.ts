import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { listCsvFiles } from '../../src/ingest/data-folder.js'
import { loadDataset } from '../../src/ingest/dataset.js'
import { sessionizeSite, type SessionTable } from '../../src/domain/sessions.js'
import { cacheFilePaths, CacheMismatch, NO_CACHE_YET, programFingerprint, StoreCache, type StoreCacheOptions } from '../../src/domain/store-cache.js'
import { CacheReadAhead } from '../../src/domain/cache-read-ahead.js'
import { csv } from '../helper.js'
import { contents, onThisThread } from '../ingest/load-options.js'

const rows = csv([
  ['alice', 'a.com', 0], ['alice', 'a.com', 1800], ['alice', 'a.com', 3601], ['bob', 'a.com', 10],
  ['bob', 'b.org', 2 ** 40], ['carol', 'b.org', 5], ['ünï "q"', 'b.org', 7]
])

async function setUp (t: Test, overrides: Partial<StoreCacheOptions> = {}) {
  const root = t.testdir({ data: { '1.csv': rows, '2.csv': 'x,a.com,/,90\nbad line\n' }, cache: {} })
  const dataDir = join(root, 'data')
  const options: StoreCacheOptions = {
    cacheDir: join(root, 'cache'), dataDir, strictCsv: false, sessionTimeoutSeconds: 1800, program: 'p1', signal: new AbortController().signal, readBlockBytes: 64, ...overrides
  }
  const files = await listCsvFiles(dataDir)
  const { complete, summary } = await loadDataset(files, onThisThread)
  return { root, dataDir, options, files, store: await complete, summary, cache: new StoreCache(options, files) }
}

const neverAborted = new AbortController().signal

t.test('a saved store reads back with the same contents, summary and lookups', async t => {
  const { store, summary, cache, options, files } = await setUp(t)
  const storeId = await cache.saveStore(store, summary, neverAborted)
  const readCache = new StoreCache(options, files)
  const read = await readCache.readStore()
  t.equal(read.storeId, storeId)
  t.same(read.summary, summary)
  t.notOk('pages' in read.store || 'pageColumn' in read.store, 'the store comes without its pages')
  const whole = await readCache.readPages(read.store, read.storeId)
  t.same(contents(t, whole), contents(t, store))
  t.same(read.store.siteUrls, store.siteUrls)
  t.same([...read.store.siteIdByUrl], [...store.siteIdByUrl])
  t.same(Buffer.from(read.store.visitorSiteCount.buffer, read.store.visitorSiteCount.byteOffset, read.store.visitorSiteCount.byteLength),
    Buffer.from(store.visitorSiteCount.buffer, store.visitorSiteCount.byteOffset, store.visitorSiteCount.byteLength))
  t.equal(read.store.visitors.find('ünï "q"'), store.visitors.find('ünï "q"'), 'the visitor dictionary answers from its saved table')
  t.equal(read.store.visitors.find('nobody'), -1)
  t.same(Array.from({ length: whole.pages.size }, (_, id) => whole.pages.keyOf(id)),
    Array.from({ length: store.pages.size }, (_, id) => store.pages.keyOf(id)), 'the pages, by id')
  t.same([read.store.firstTimestamp, read.store.lastTimestamp], [0, 2 ** 40])
  t.equal(read.store.timestampColumn.byteOffset % 8, 0, 'columns are aligned views')
})

t.test('saved session tables read back equal, in the order they were saved', async t => {
  const { store, summary, cache } = await setUp(t)
  const storeId = await cache.saveStore(store, summary, neverAborted)
  const tables = await Promise.all([1, 0].map(async siteId => ({ siteId, table: await sessionizeSite(store, siteId, 1800) })))
  await cache.saveSessionTables(storeId, tables, neverAborted)
  const buffers = (read: { table: SessionTable }[]) => new Set(read.flatMap(({ table }) => [table.sessionLengths.buffer, table.sessionRows.buffer]))

  const saved = await cache.readSessionTables(store, storeId)
  t.same(saved.tables(), tables)
  t.equal(buffers(saved.tables()).size, 1, 'the tables are views of one buffer, the file\'s')
  t.same(saved.table(store.siteUrls[0]), tables[1].table, 'and each can be made by its site')
})

t.test('a store is not used for other data, settings or program, and says why', async t => {
  const { store, summary, cache, options, files, dataDir } = await setUp(t)
  await cache.saveStore(store, summary, neverAborted)
  const reason = async (cacheOptions: StoreCacheOptions, cacheFiles = files) => {
    const error = await new StoreCache(cacheOptions, cacheFiles).readStore().catch((error: Error) => error)
    t.type(error, CacheMismatch)
    return (error as Error).message
  }
  t.equal(await reason({ ...options, program: 'p2' }), 'another version of Sessionizer wrote it')
  t.equal(await reason({ ...options, strictCsv: true }), 'STRICT_CSV was false when it was written')
  t.match(await reason({ ...options, cacheDir: join(options.cacheDir, 'elsewhere') }), 'there is none yet')

  const touched = join(dataDir, '2.csv')
  utimesSync(touched, new Date(), new Date(Date.now() + 5000))
  t.equal(await reason(options, await listCsvFiles(dataDir)), 'the data files changed (2.csv changed)')
  writeFileSync(join(dataDir, '0.csv'), rows)
  writeFileSync(join(dataDir, '1.csv'), rows + rows)
  t.equal(await reason(options, (await listCsvFiles(dataDir)).filter(file => !file.path.endsWith('2.csv'))),
    'the data files changed (0.csv is new, 1.csv changed, 2.csv is gone)')
  for (const extra of ['3', '4', '5']) writeFileSync(join(dataDir, `${extra}.csv`), rows)
  t.match(await reason(options, await listCsvFiles(dataDir)), /, and 3 more\)$/)
})

t.test('session tables are not used for another store or another timeout', async t => {
  const { store, summary, cache, options, files } = await setUp(t)
  const storeId = await cache.saveStore(store, summary, neverAborted)
  await cache.saveSessionTables(storeId, [{ siteId: 0, table: await sessionizeSite(store, 0, 1800) }], neverAborted)
  await t.rejects(cache.readSessionTables(store, 'another'), new CacheMismatch('it belongs to another store'))
  await t.rejects(new StoreCache({ ...options, sessionTimeoutSeconds: 60 }, files).readSessionTables(store, storeId),
    new CacheMismatch('SESSION_TIMEOUT_SECONDS was 1800 when it was written'))
})

t.test('a damaged, truncated or foreign file is never used', async t => {
  const { store, summary, cache } = await setUp(t)
  await cache.saveStore(store, summary, neverAborted)
  const path = cache.storePath
  const original = readFileSync(path)
  const damaged = async (bytes: Buffer, why: RegExp) => {
    writeFileSync(path, bytes)
    await t.rejects(cache.readStore(), { name: 'CacheMismatch', message: why })
  }
  const flipped = Buffer.from(original)
  flipped[original.length - 20] ^= 1
  await damaged(flipped, /damaged \(checksum mismatch: truncated or altered\)/)
  await damaged(original.subarray(0, original.length - 9), /damaged \(checksum mismatch/)
  await damaged(original.subarray(0, 30), /damaged \(checksum mismatch/)
  await damaged(Buffer.from('visitor,site,url,1\n'), /damaged \(not a Sessionizer cache file/)
  const badHeader = Buffer.from(original)
  badHeader[13] = 0x7b
  await damaged(badHeader, /damaged \(checksum mismatch/)
  truncateSync(path, 0)
  await t.rejects(cache.readStore(), { message: /damaged/ })
  writeFileSync(path, original)
  t.ok(await cache.readStore(), 'and the intact file reads again')
})

t.test('files read ahead on a worker are taken as read here: the same store and tables, the same checks', async t => {
  const { store, summary, cache, options, files } = await setUp(t)
  const storeId = await cache.saveStore(store, summary, neverAborted)
  const tables = [{ siteId: 0, table: await sessionizeSite(store, 0, 1800) }]
  await cache.saveSessionTables(storeId, tables, neverAborted)
  const { store: storePath, tables: tablesPath } = cacheFilePaths(options.cacheDir, options.dataDir)
  t.equal(storePath, cache.storePath)
  const readAhead = new CacheReadAhead([storePath, tablesPath])
  t.teardown(() => readAhead.close())
  const aheadCache = new StoreCache({ ...options, readAhead }, files)
  const read = await aheadCache.readStore()
  t.same(contents(t, await aheadCache.readPages(read.store, read.storeId)), contents(t, store))
  t.same((await aheadCache.readSessionTables(read.store, read.storeId)).tables(), tables)
  t.equal(readAhead.take(storePath), undefined, 'each file was taken from the read-ahead')
  t.ok(await aheadCache.readStore(), 'and a second read reads the file itself')

  const damaged = readFileSync(storePath)
  damaged[damaged.length - 20] ^= 1
  writeFileSync(storePath, damaged)
  const damagedAhead = new CacheReadAhead([storePath])
  t.teardown(() => damagedAhead.close())
  await t.rejects(new StoreCache({ ...options, readAhead: damagedAhead }, files).readStore(), { name: 'CacheMismatch', message: /checksum mismatch/ })
  const noCacheDir = join(options.cacheDir, 'none')
  const noneAhead = new CacheReadAhead([cacheFilePaths(noCacheDir, options.dataDir).store])
  t.teardown(() => noneAhead.close())
  const noStore = new StoreCache({ ...options, cacheDir: noCacheDir, readAhead: noneAhead }, files)
  await t.rejects(noStore.readStore(), { name: 'CacheMismatch', message: NO_CACHE_YET })
  t.equal(noneAhead.take(noStore.storePath), undefined, 'taken from the read-ahead, which found no file')
})

t.test('a stop while a store is read ends the read, as a stop and not as a mismatch', async t => {
  const { store, summary, cache, options, files } = await setUp(t)
  await cache.saveStore(store, summary, neverAborted)
  const stopped = new AbortController()
  stopped.abort(new Error('closing'))
  await t.rejects(new StoreCache({ ...options, signal: stopped.signal }, files).readStore(), { message: 'closing' })
  await t.rejects(new StoreCache({ ...options, cacheDir: join(options.cacheDir, 'none'), signal: stopped.signal }, files).readStore(),
    { message: 'closing' }, 'even when there is no file')
})

t.test('a file that cannot be read is a mismatch, not a failure', async t => {
  const { options, files } = await setUp(t)
  writeFileSync(join(options.cacheDir, 'sub'), '')
  const unreadable = new StoreCache({ ...options, cacheDir: join(options.cacheDir, 'sub') }, files)
  await t.rejects(unreadable.readStore(), { name: 'CacheMismatch', message: /^it cannot be read: ENOTDIR/ })
})

t.test('a named pipe where a cache file belongs is a mismatch at once, read here or ahead: opening it never waits for a writer', async t => {
  const { options, files } = await setUp(t)
  const { store } = cacheFilePaths(options.cacheDir, options.dataDir)
  execFileSync('mkfifo', [store])
  await t.rejects(new StoreCache(options, files).readStore(), { name: 'CacheMismatch', message: 'it cannot be read: not a regular file' })
  const readAhead = new CacheReadAhead([store])
  t.teardown(() => readAhead.close())
  await t.rejects(new StoreCache({ ...options, readAhead }, files).readStore(), { name: 'CacheMismatch', message: 'it cannot be read: not a regular file' })
})

t.test('saved pages are read only for their store, whole and intact, and a store file can be discarded', async t => {
  const { store, summary, cache, options, files } = await setUp(t)
  const firstId = await cache.saveStore(store, summary, neverAborted)
  const first = await cache.readStore()
  const { pages: pagesPath, store: storePath } = cacheFilePaths(options.cacheDir, options.dataDir)
  const firstPages = readFileSync(pagesPath)
  await cache.saveStore(store, summary, neverAborted)
  await t.rejects(cache.readPages(first.store, firstId), { name: 'CacheMismatch', message: 'it belongs to another store' })
  const second = await cache.readStore()
  const damaged = readFileSync(pagesPath)
  damaged[damaged.length >> 1] ^= 1
  writeFileSync(pagesPath, damaged)
  await t.rejects(cache.readPages(second.store, second.storeId), { name: 'CacheMismatch', message: /checksum mismatch/ })
  writeFileSync(pagesPath, firstPages.subarray(0, 100))
  await t.rejects(cache.readPages(first.store, firstId), { name: 'CacheMismatch', message: /damaged/ })
  await cache.discardStore()
  t.notOk(readdirSync(options.cacheDir).includes(storePath.split('/').at(-1)!), 'the store file is gone')
  await t.rejects(new StoreCache(options, files).readStore(), { name: 'CacheMismatch', message: NO_CACHE_YET })
  await cache.discardStore()
  t.pass('discarding what is gone already is no fault')
  const stopped = new AbortController()
  stopped.abort(new Error('closing'))
  await t.rejects(new StoreCache({ ...options, signal: stopped.signal }, files).readPages(second.store, second.storeId), { message: 'closing' })
})

t.test('a write is whole or absent: an aborted one leaves the previous file and no temporary file', async t => {
  const { store, summary, cache, options } = await setUp(t)
  const firstId = await cache.saveStore(store, summary, neverAborted)
  const abort = new AbortController()
  abort.abort(new Error('closing'))
  await t.rejects(cache.saveStore(store, summary, abort.signal), { message: 'closing' })
  const { pages } = cacheFilePaths(options.cacheDir, options.dataDir)
  t.same(readdirSync(options.cacheDir).sort(), [pages, cache.storePath].map(path => path.split('/').at(-1)).sort())
  const read = await cache.readStore()
  t.equal(read.storeId, firstId)
  t.ok(await cache.readPages(read.store, read.storeId), 'with its pages')
})

t.test('a crashed write\'s temporary file is removed by the next write; a live writer\'s is not', async t => {
  const { store, summary, cache, options } = await setUp(t)
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim()
  const name = cache.storePath.split('/').at(-1)!
  const crashed = join(options.cacheDir, `${name}.${dead}-0badc0de.tmp`)
  const live = join(options.cacheDir, `${name}.${process.pid}-0c0ffee0.tmp`)
  const unrelated = join(options.cacheDir, 'notes.tmp')
  for (const path of [crashed, live, unrelated]) writeFileSync(path, 'half')
  await cache.saveStore(store, summary, neverAborted)
  const pages = cacheFilePaths(options.cacheDir, options.dataDir).pages.split('/').at(-1)!
  t.same(readdirSync(options.cacheDir).sort(), [name, pages, `${name}.${process.pid}-0c0ffee0.tmp`, 'notes.tmp'].sort())
  t.ok(statSync(cache.storePath).size > 100)
})

t.test('a write that cannot happen rejects with the reason', async t => {
  const { store, summary, options, files } = await setUp(t)
  writeFileSync(join(options.cacheDir, 'file'), '')
  const blocked = new StoreCache({ ...options, cacheDir: join(options.cacheDir, 'file', 'sub') }, files)
  await t.rejects(blocked.saveStore(store, summary, neverAborted), { code: 'ENOTDIR' })
})

t.test('the program fingerprint is stable and names this code', async t => {
  const fingerprint = programFingerprint()
  t.match(fingerprint, /^[0-9a-f]{32}$/)
  t.equal(programFingerprint(), fingerprint)
})

t.test('bundled, the program fingerprint digests every bundle, not their source maps nor V8\'s code cache', async t => {
  const bundle = join(t.testdir({ bundle: { 'server.cjs': 'a', 'parse-worker.cjs': 'b', 'server.cjs.map': 'm' } }), 'bundle')
  const fingerprint = programFingerprint(bundle)
  t.not(fingerprint, programFingerprint(), 'another program than the compiled one')
  writeFileSync(join(bundle, 'server.cjs.v8-cache'), 'made since')
  writeFileSync(join(bundle, 'server.cjs.map'), 'n')
  t.equal(programFingerprint(bundle), fingerprint, 'the code cache made by a first start changes nothing')
  writeFileSync(join(bundle, 'parse-worker.cjs'), 'c')
  t.not(programFingerprint(bundle), fingerprint, 'a worker bundled anew is another program')
  writeFileSync(join(bundle, 'parse-worker.cjs'), 'b')
  writeFileSync(join(bundle, 'server.cjs'), 'A')
  t.not(programFingerprint(bundle), fingerprint, 'and so is a server bundled anew')
})
