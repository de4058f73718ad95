// The WebAssembly dictionary must build the very table ByteInterner builds (the store adopts a parse's
// tables as they are), for any keys in any order, growing through every size.
import t from 'tap'
import { ByteInterner, hashBytes, INTERN_BLOCK } from '../../src/domain/byte-interner.js'
import { ParseDictionaries } from '../../src/ingest/parse-dictionaries.js'

/** Keys with repeats, collisions of length, multi-byte characters, an empty key, and keys longer than the arena's start. */
function keysToIntern (count: number): string[] {
  let state = 7
  const next = (): number => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state }
  return Array.from({ length: count }, (_, i) => {
    if (i === 10) return ''
    if (i % 997 === 0) return `long-${i}-${'y'.repeat(70_000)}`
    return `visitor_${next() % 4000}${i % 3 === 0 ? '-é' : ''}`
  })
}

t.test('interns as ByteInterner does: the same ids, keys, key ends and hash table', async t => {
  const names = keysToIntern(20_000)
  const text = Buffer.from(names.join(','))
  const starts = new Uint32Array(names.length)
  const ends = new Uint32Array(names.length)
  let at = 0
  names.forEach((name, i) => { starts[i] = at; ends[i] = at + Buffer.byteLength(name); at = ends[i] + 1 })
  // Room for the keys kept ahead: none, some the keys outgrow (their arena moves), all they need.
  // Tables sized for the keys expected, or grown to them; the visitors' and the pages' alike.
  const cases = [[undefined, undefined], [50_000, 100_000], [50_000, 32 << 20]].flatMap(([expectedKeys, expectedKeyBytes]) =>
    (['visitors', 'pages'] as const).map(dictionary => ({ dictionary, expectedKeys, expectedKeyBytes })))
  for (const { dictionary, expectedKeys, expectedKeyBytes } of cases) {
    const reference = new ByteInterner(expectedKeys, 12345)
    const wasm = new ParseDictionaries({ [dictionary]: expectedKeys, keyBytes: expectedKeyBytes }, [12345, 12345, 12345])[dictionary]
    const hashes = Int32Array.from(names, (_, i) => hashBytes(text, starts[i], ends[i], wasm.seed))
    const expected = new Uint32Array(names.length)
    for (let from = 0; from < names.length; from += INTERN_BLOCK) reference.internMany(text, starts, ends, hashes, from, Math.min(from + INTERN_BLOCK, names.length), expected)
    const ids = Uint32Array.from(names, (_, i) => wasm.intern(text, starts[i], ends[i], hashes[i]))
    t.same(ids, expected, `${dictionary}: ids (expecting ${expectedKeys ?? 'the default'} keys, ${expectedKeyBytes ?? 'the default'} bytes)`)
    t.equal(wasm.size, reference.size)
    const [got, want] = [wasm.keys(), reference.keys()]
    t.ok(Buffer.from(got.bytes).equals(Buffer.from(want.bytes)), 'key bytes')
    t.same(got.ends, want.ends, 'key ends')
    t.same(got.slots, want.slots, 'hash table')
    t.equal(got.seed, 12345)
  }
})

t.test('interns strings, gives each id its string back, and its table serves ByteInterner', async t => {
  const wasm = new ParseDictionaries().pages
  t.equal(wasm.internString('visitor_1'), 0)
  t.equal(wasm.internString('ça-é'), 1)
  t.equal(wasm.internString(''), 2)
  t.equal(wasm.internString('visitor_1'), 0)
  t.same([wasm.keyOf(0), wasm.keyOf(1), wasm.keyOf(2)], ['visitor_1', 'ça-é', ''])
  const keys = wasm.keys()
  t.equal(keys.room, 2 * keys.bytes.length, 'room after the keys for twice their bytes again')
  t.equal(keys.bytes.buffer.byteLength, 3 * keys.bytes.length, 'in their own buffer')
  const adopted = ByteInterner.adopt(keys)
  t.same([adopted.find('ça-é'), adopted.find('visitor_1'), adopted.find('nobody')], [1, 0, -1])
})

t.test("merges another dictionary's keys as ByteInterner does: the same ids, keys and hash table", async t => {
  const names = keysToIntern(20_000)
  // Keys of another parse: some known here, some new, in another order, under another seed.
  const other = new ByteInterner(0, 999)
  for (const name of [...keysToIntern(30_000).slice(10_000).reverse(), 'only-there', '', 'é']) {
    const bytes = Buffer.from(name)
    other.intern(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length, other.seed))
  }
  const reference = new ByteInterner(0, 12345)
  const wasm = new ParseDictionaries({}, [12345, 12345, 12345]).visitors
  for (const name of names) {
    const bytes = Buffer.from(name)
    reference.intern(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length, 12345))
    wasm.intern(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length, 12345))
  }
  const otherKeys = other.keys()
  const sizeBefore = wasm.size
  const ids = wasm.merge(otherKeys)
  t.same(ids, reference.merge(otherKeys), 'ids')
  t.ok(wasm.size > sizeBefore && wasm.size < sizeBefore + other.size, 'some keys were new, some known')
  const [got, want] = [wasm.keys(), reference.keys()]
  t.ok(Buffer.from(got.bytes).equals(Buffer.from(want.bytes)), 'key bytes')
  t.same(got.ends, want.ends, 'key ends')
  t.same(got.slots, want.slots, 'hash table')
  const adopted = ByteInterner.adopt(got)
  t.same(['only-there', 'é', names[5]].map(name => adopted.find(name)), [ids[other.find('only-there')], ids[other.find('é')], reference.find(names[5])], 'found by ByteInterner')
  t.same(wasm.merge({ bytes: new Uint8Array(0), ends: new Uint32Array(0) }), new Uint32Array(0), 'nothing to merge')
})
