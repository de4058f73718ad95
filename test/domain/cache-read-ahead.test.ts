import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { CacheReadAhead, readChecksummedFile } from '../../src/domain/cache-read-ahead.js'

/** What the store cache checks a file against: the CRC-32 of all but its last 4 bytes. */
const expectedCrc = (bytes: Buffer) => crc32(bytes.subarray(0, Math.max(bytes.length - 4, 0)))

t.test('a file is read whole, with the CRC of all but its last 4 bytes, in blocks of any size', async t => {
  const root = t.testdir({})
  const path = join(root, 'f')
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) % 251))
  writeFileSync(path, bytes)
  for (const block of [1, 7, 999, 1000, 4096]) {
    const file = readChecksummedFile(path, block)
    t.same(file.bytes, bytes, `block of ${block}`)
    t.equal(file.crc, expectedCrc(bytes), `block of ${block}`)
  }
  writeFileSync(path, 'abc')
  t.equal(readChecksummedFile(path, 2).crc, 0, 'a file shorter than its CRC sums nothing')
  writeFileSync(path, '')
  t.same(readChecksummedFile(path, 2), { bytes: Buffer.alloc(0), crc: 0 })
})

t.test('only a regular file is read: a named pipe or a folder fails at once, without waiting for a writer', async t => {
  const root = t.testdir({ folder: {} })
  execFileSync('mkfifo', [join(root, 'pipe')])
  t.throws(() => readChecksummedFile(join(root, 'pipe'), 4), { message: 'not a regular file' })
  t.throws(() => readChecksummedFile(join(root, 'folder'), 4), { message: 'not a regular file' })
})

t.test('the read-ahead hands over each file once, read on its worker, and reports a missing one with its code', async t => {
  const root = t.testdir({ a: 'first file, long enough to span blocks', b: 'second' })
  const [a, b, missing] = ['a', 'b', 'missing'].map(name => join(root, name))
  const readAhead = new CacheReadAhead([a, missing, b], 5)
  t.teardown(() => readAhead.close())
  const fileA = await readAhead.take(a)!
  t.same(fileA.bytes, readFileSync(a))
  t.ok(Buffer.isBuffer(fileA.bytes), 'a Buffer, over the memory the worker handed over')
  t.equal(fileA.crc, expectedCrc(readFileSync(a)))
  await t.rejects(readAhead.take(missing)!, { code: 'ENOENT' })
  t.same((await readAhead.take(b)!).bytes, readFileSync(b))
  t.equal(readAhead.take(a), undefined, 'a file is taken once')
  t.equal(readAhead.take(join(root, 'never asked')), undefined)
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
  // The worker reads in order: once the second file is here, the first one's failure has come and gone.
  t.same((await readAhead.take(join(root, 'a'))!).bytes, Buffer.from('a'))
})
