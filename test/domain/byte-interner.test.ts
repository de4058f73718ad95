import t from 'tap'
import { ByteInterner, hashBytes, INTERN_BLOCK } from '../../src/domain/byte-interner.js'

/** The id of a string, interned from its UTF-8 bytes as a parse interns a field. */
function internString (interner: ByteInterner, value: string): number {
  const bytes = Buffer.from(value)
  return interner.intern(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length, interner.seed))
}

t.test('the same bytes get the same id, from bytes or from a string', async t => {
  const interner = new ByteInterner()
  const bytes = Buffer.from('xx visitor_1 yy')
  const id = interner.intern(bytes, 3, 12, hashBytes(bytes, 3, 12, interner.seed))
  t.equal(id, 0)
  t.equal(internString(interner, 'visitor_1'), 0)
  t.equal(internString(interner, 'visitor_2'), 1)
  t.equal(interner.find('visitor_2'), 1)
  t.equal(interner.find('visitor_3'), -1)
  t.equal(interner.size, 2)
  t.equal(interner.keyOf(0), 'visitor_1')
  t.equal(interner.keyOf(1), 'visitor_2')
})

t.test('keys that collide on their hash stay apart', async t => {
  const interner = new ByteInterner()
  const a = Buffer.from('ab')
  const b = Buffer.from('ba')
  t.equal(interner.intern(a, 0, 2, 42), 0)
  t.equal(interner.intern(b, 0, 2, 42), 1, 'same hash, same length, other bytes')
  t.equal(interner.intern(Buffer.from('abc'), 0, 3, 42), 2, 'same hash, other length')
  t.equal(interner.intern(a, 0, 2, 42), 0)
})

t.test('grows its table, arena and key list; merges another dictionary; exports its keys', async t => {
  const interner = new ByteInterner()
  const names = Array.from({ length: 5000 }, (_, i) => `visitor-${i}-${'x'.repeat(i % 40)}-é`)
  names.forEach((name, i) => t.equal(internString(interner, name), i))
  names.forEach((name, i) => { if (interner.find(name) !== i) t.fail(name) })
  const keys = interner.keys()
  t.equal(keys.ends.length, 5000)
  t.equal(keys.bytes.length, keys.ends[4999])
  t.equal(interner.keys().bytes.buffer, keys.bytes.buffer, 'views of the dictionary\'s arrays, not copies')

  const other = new ByteInterner(10_000)
  internString(other, 'visitor-4999-' + 'x'.repeat(4999 % 40) + '-é')
  internString(other, 'newcomer')
  const ids = interner.merge(other.keys())
  t.same([...ids], [4999, 5000])
  t.equal(interner.keyOf(5000), 'newcomer')
  const lastBefore = new TextDecoder().decode(keys.bytes.subarray(keys.ends[4998], keys.ends[4999]))
  t.equal(lastBefore, names[4999], 'keys exported before more were added still read the same')
  t.match(new ByteInterner().keys(), { bytes: new Uint8Array(0), ends: new Uint32Array(0) })

  const adopted = ByteInterner.adopt(interner.keys())
  t.equal(adopted.size, 5001)
  t.equal(adopted.find('newcomer'), 5000, 'finds keys through the adopted table')
  t.equal(internString(adopted, 'one more'), 5001, 'and grows past what it adopted')
  t.equal(adopted.keyOf(5001), 'one more')
})

t.test('interning many at once gives the ids one at a time would: new keys, known ones, repeats, collisions, growth', async t => {
  // Keys repeat within a block and across blocks; some share a hash; there are enough to grow the table midway.
  const keys = Array.from({ length: 3000 }, (_, i) => `v${(i * 7919) % 1300}`).concat('ab', 'ba', 'ab', 'é', '')
  const text = Buffer.from(keys.join(','))
  const starts = new Uint32Array(keys.length)
  const ends = new Uint32Array(keys.length)
  keys.reduce((at, key, i) => {
    starts[i] = at
    ends[i] = at + Buffer.byteLength(key)
    return ends[i] + 1
  }, 0)
  const oneByOne = new ByteInterner(0, 777)
  const hashes = Int32Array.from(keys, (key, i) => key === 'ab' || key === 'ba' ? 42 : hashBytes(text, starts[i], ends[i], 777))
  const expected = Array.from(keys, (_, i) => oneByOne.intern(text, starts[i], ends[i], hashes[i]))

  const many = new ByteInterner(0, 777)
  const ids = new Uint32Array(keys.length)
  for (let from = 0; from < keys.length; from += INTERN_BLOCK) many.internMany(text, starts, ends, hashes, from, Math.min(from + INTERN_BLOCK, keys.length), ids)
  t.same([...ids], expected)
  t.equal(many.size, oneByOne.size)
  t.equal(many.keyOf(ids[keys.indexOf('ba')]), 'ba', 'a key that shares its hash keeps its own id')
  t.equal(many.keyOf(ids[keys.length - 1]), '', 'and an empty key has one')

  const none = new Uint32Array(1)
  many.internMany(text, starts, ends, hashes, 5, 5, none)
  t.same([...none], [0], 'an empty stretch writes nothing')
})

t.test('room reserved ahead changes no id, and what it adopted it keeps', async t => {
  const first = new ByteInterner(0, 5)
  for (let i = 0; i < 3000; i++) internString(first, `key-${i}`)
  const merged = ByteInterner.adopt(first.keys())
  merged.reserve(0, 0)
  merged.reserve(100_000, 10_000_000)
  const other = new ByteInterner(0, 9)
  for (let i = 2000; i < 7000; i++) internString(other, `key-${i}`)
  const ids = merged.merge(other.keys())
  t.equal(merged.size, 7000)
  t.equal(ids[0], 2000, 'a shared key keeps the id it had')
  t.equal(merged.keyOf(ids[4999]), 'key-6999')
  t.equal(merged.find('key-0'), 0)
})

t.test('keys adopted with room after them take the keys added next there, not in a copy', async t => {
  const first = new ByteInterner(0, 5)
  for (let i = 0; i < 100; i++) internString(first, `key-${i}`)
  const { bytes, ends, slots, seed } = first.keys()
  const buffer = new ArrayBuffer(bytes.length + 1000)
  new Uint8Array(buffer).set(bytes)
  const adopted = ByteInterner.adopt({ bytes: new Uint8Array(buffer, 0, bytes.length), ends: ends.slice(), slots: slots.slice(), seed, room: 1000 })
  adopted.reserve(100, 1000)
  for (let i = 100; i < 200; i++) internString(adopted, `key-${i}`)
  t.equal(adopted.keys().bytes.buffer, buffer, 'the same buffer')
  t.equal(adopted.keyOf(150), 'key-150')
  t.equal(adopted.find('key-42'), 42)
  const withoutRoom = ByteInterner.adopt({ bytes: new Uint8Array(buffer, 0, bytes.length), ends: ends.slice(), slots: slots.slice(), seed })
  withoutRoom.reserve(1, 10)
  t.not(withoutRoom.keys().bytes.buffer, buffer, 'without room, a copy: the bytes after the keys may be another\'s')
})

t.test('hashing is seeded: keys found to share a slot under one seed spread out under another', async t => {
  // Keys that take slot 0 of a new dictionary's 1,024 under seed 12345, found by trying, as an attacker who
  // knew the seed would.
  const keys: string[] = []
  for (let i = 0; keys.length < 40; i++) {
    const probe = new ByteInterner(0, 12345)
    internString(probe, `visitor_${i}`)
    if (firstSlotShare(probe) === 1) keys.push(`visitor_${i}`)
  }
  const sameSeed = new ByteInterner(0, 12345)
  for (const key of keys) internString(sameSeed, key)
  t.equal(firstSlotShare(sameSeed), 40, 'under the seed they were found for, all 40 keys want slot 0')
  const otherSeed = new ByteInterner(0, 67890)
  for (const key of keys) internString(otherSeed, key)
  t.ok(firstSlotShare(otherSeed) < 5, 'under another seed they spread out')
  t.not(new ByteInterner().seed, new ByteInterner().seed, 'each dictionary draws its own seed')
  t.equal(ByteInterner.adopt(sameSeed.keys()).seed, 12345, 'an adopted dictionary keeps the seed its table was built with')
})

/** How many slots from slot 0 on are taken, in a dictionary of 1,024 slots: the keys that piled up there. */
function firstSlotShare (interner: ByteInterner): number {
  const slots = interner.keys().slots
  let run = 0
  while (run * 2 < slots.length && slots[run * 2 + 1] !== 0) run++
  return run
}

t.test('a hash is FNV-1a over little-endian four-byte words, then the last bytes one by one, from the seed', async t => {
  const FNV_PRIME = 0x01000193
  /** The definition, written out plainly: what the WebAssembly parse must compute too. */
  const reference = (bytes: number[], seed: number): number => {
    let hash = seed
    let i = 0
    for (; i + 4 <= bytes.length; i += 4) hash = Math.imul(hash ^ new DataView(Uint8Array.from(bytes.slice(i, i + 4)).buffer).getUint32(0, true), FNV_PRIME)
    for (; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME)
    return hash | 0
  }
  const text = Buffer.from('xx-a-ab-abc-abcd-abcde-www.s_1.com/page_17-visitor_123456-é€𝄞-yy')
  for (let start = 0; start < 12; start++) {
    for (let end = start; end <= text.length; end += 3) {
      t.equal(hashBytes(text, start, end, 0x7f3a), reference([...text.subarray(start, end)], 0x7f3a), `bytes ${start} to ${end}`)
    }
  }
  t.not(hashBytes(Buffer.from('abcd'), 0, 4, 1), hashBytes(Buffer.from('dcba'), 0, 4, 1), 'the order of the bytes in a word counts')
})
