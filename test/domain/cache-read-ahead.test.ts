import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { CacheReadAhead, readChecksummedPart, readParts, type FromReadAheadWorker } from '../../src/domain/cache-read-ahead.js'
import { crc32Combine } from '../../src/domain/crc32-combine.js'

/** What the store cache checks a file against: the CRC-32 of all but its last 4 bytes. */
const expectedCrc = (bytes: Buffer) => crc32(bytes.subarray(0, Math.max(bytes.length - 4, 0)))

/** A part of the file at `path`, read as a worker reads it, into a buffer of the file's size. */
const readPart = (path: string, buffer: SharedArrayBuffer, start: number, end: number, block: number) =>
  readChecksummedPart({ path, buffer, start, end }, block)

t.test('a file is read in parts, each with the CRC of its bytes that the file\'s CRC covers (all but the last 4)', async t => {
  const root = t.testdir({})
  const path = join(root, 'f')
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) % 251))
  writeFileSync(path, bytes)
  for (const block of [1, 7, 999, 1000, 4096]) {
    for (const split of [0, 1, 500, 996, 998, 1000]) {
      const buffer = new SharedArrayBuffer(bytes.length)
      const first = readPart(path, buffer, 0, split, block)
      const second = readPart(path, buffer, split, bytes.length, block)
      t.same(Buffer.from(buffer), bytes, `block of ${block}, split at ${split}`)
      t.equal(first.summed + second.summed, 996)
      t.equal(crc32Combine(first.crc, second.crc, second.summed), expectedCrc(bytes), `block of ${block}, split at ${split}`)
    }
  }
  writeFileSync(path, 'abc')
  t.same(readPart(path, new SharedArrayBuffer(3), 0, 3, 2), { crc: 0, summed: 0 }, 'a file shorter than its CRC sums nothing')
  writeFileSync(path, '')
  t.same(readPart(path, new SharedArrayBuffer(0), 0, 0, 2), { crc: 0, summed: 0 })
})

t.test('only a regular file is read, as long as when its buffer was made: a named pipe or a folder fails at once', async t => {
  const root = t.testdir({ folder: {}, file: 'grown since' })
  execFileSync('mkfifo', [join(root, 'pipe')])
  t.throws(() => readPart(join(root, 'pipe'), new SharedArrayBuffer(0), 0, 0, 4), { message: 'not a regular file' })
  t.throws(() => readPart(join(root, 'folder'), new SharedArrayBuffer(0), 0, 0, 4), { message: 'not a regular file' })
  t.throws(() => readPart(join(root, 'file'), new SharedArrayBuffer(5), 0, 5, 4), { message: 'the file changed while it was read' })
})

t.test('the read-ahead hands over each file once, read on its workers, and reports a missing one with its code', async t => {
  // Three readers (each worker costs seconds under test): a file of less than a page, one of three pages, and
  // an empty one, so that some parts are empty.
  const root = t.testdir({ a: 'first file, long enough to span blocks', b: Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 253)), c: '' })
  const [a, b, c, missing] = ['a', 'b', 'c', 'missing'].map(name => join(root, name))
  const readAhead = new CacheReadAhead([a, missing, b, c], 5, 3)
  t.teardown(() => readAhead.close())
  for (const path of [a, b, c]) {
    const file = await readAhead.take(path)!
    t.same(file.bytes, readFileSync(path))
    t.ok(Buffer.isBuffer(file.bytes), 'a Buffer, over the memory the workers read into')
    t.equal(file.crc, expectedCrc(readFileSync(path)))
  }
  await t.rejects(readAhead.take(missing)!, { code: 'ENOENT' })
  t.equal(readAhead.take(a), undefined, 'a file is taken once')
  await t.rejects(new CacheReadAhead([missing]).take(missing)!, { code: 'ENOENT' }, 'nothing to read: no worker')
  t.equal(readAhead.take(join(root, 'never asked')), undefined)
})

t.test('a worker reports each part it read, and why it could not read one', async t => {
  const root = t.testdir({ a: 'abcdefgh' })
  const [a, pipe] = [join(root, 'a'), join(root, 'pipe')]
  execFileSync('mkfifo', [pipe])
  const buffer = new SharedArrayBuffer(8)
  const reports: FromReadAheadWorker[] = []
  readParts({ parts: [{ path: pipe, buffer: new SharedArrayBuffer(0), start: 0, end: 0 }, { path: a, buffer, start: 4, end: 8 }], blockBytes: 3 }, report => reports.push(report))
  t.same(reports, [{ path: pipe, error: { message: 'not a regular file' } }, { path: a, part: { crc: crc32(''), summed: 0 } }])
  t.same(Buffer.from(buffer).subarray(4), Buffer.from('efgh'))
})

t.test('a named pipe is not read: every reader says so, and the first one is heard', async t => {
  const root = t.testdir({ a: 'a file after the pipe' })
  const [a, pipe] = [join(root, 'a'), join(root, 'pipe')]
  execFileSync('mkfifo', [pipe])
  const readAhead = new CacheReadAhead([pipe, a])
  t.teardown(() => readAhead.close())
  await t.rejects(readAhead.take(pipe)!, { message: 'not a regular file' })
  // Each worker reports its parts in order: with the next file read, both have reported the pipe.
  t.same((await readAhead.take(a)!).bytes, readFileSync(a))
})

t.test('closed before it has read, the read-ahead fails what it did not read, and never hangs', async t => {
  const root = t.testdir({ a: 'a' })
  const readAhead = new CacheReadAhead([join(root, 'a')])
  const read = readAhead.take(join(root, 'a'))!
  readAhead.close()
  await t.rejects(read, /reading stopped/)
})

t.test('a failed read nobody takes is let go: no unhandled rejection', async t => {
  const root = t.testdir({ a: 'a' })
  const readAhead = new CacheReadAhead([join(root, 'missing'), join(root, 'a')])
  t.teardown(() => readAhead.close())
  // A missing file fails as the read-ahead is made: once the other file is here, that failure has come and gone.
  t.same((await readAhead.take(join(root, 'a'))!).bytes, Buffer.from('a'))
})
