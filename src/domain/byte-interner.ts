// Interns ids straight from UTF-8 bytes, so that a row costs no string and no allocation.
import { randomInt } from 'node:crypto'
import { grown } from './typed-arrays.js'

const FNV_PRIME = 0x01000193

/**
 * A dictionary's hash seed, drawn at random: ids come from data anyone can write, and with a known hash a
 * file of ids that all land in one slot would make every lookup walk them all (hash flooding).
 */
export function randomSeed (): number {
  return randomInt(2 ** 32) | 0
}

/** The slots a table starts with for `expectedKeys` keys: a power of two, at least twice as many. */
export function initialSlots (expectedKeys: number): number {
  let slots = 1024
  while (slots < expectedKeys * 2) slots *= 2
  return slots
}

/**
 * FNV-1a over bytes[start, end) four bytes at a time (each four as a little-endian 32-bit word, then the last
 * one to three bytes one by one), started from `seed` instead of FNV's fixed offset, as a signed 32-bit integer
 * (cheaper than unsigned in V8). A multiply a byte, each waiting for the one before, had made hashing the slowest
 * part of reading a plain line. The WebAssembly parse (assembly/interner.ts) hashes the same way; the interner
 * mixes the hash before use.
 */
export function hashBytes (bytes: Uint8Array, start: number, end: number, seed: number): number {
  let hash = seed
  let i = start
  for (; i + 4 <= end; i += 4) hash = Math.imul(hash ^ (bytes[i] | bytes[i + 1] << 8 | bytes[i + 2] << 16 | bytes[i + 3] << 24), FNV_PRIME)
  for (; i < end; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME)
  return hash | 0
}

/**
 * murmur3's finalizer: every bit of the hash moves the low bits that pick a slot. FNV's low bits depend only
 * on the low bits of the bytes and the seed, which makes collisions in them cheap to find.
 */
function mix (hash: number): number {
  let mixed = hash ^ (hash >>> 16)
  mixed = Math.imul(mixed, 0x85ebca6b)
  mixed ^= mixed >>> 13
  mixed = Math.imul(mixed, 0xc2b2ae35)
  return mixed ^ (mixed >>> 16)
}

/**
 * A dictionary as typed arrays, to move between threads: key i is bytes[ends[i - 1] (or 0), ends[i]), and
 * `slots` is the hash table over them, hashed with `seed`, so that the receiver can adopt the dictionary
 * without rehashing; or empty, for keys only to be read or merged into another dictionary (no key can be
 * looked up, nor added, in a dictionary that adopts them).
 */
export interface DictionaryKeys {
  bytes: Uint8Array
  ends: Uint32Array
  slots: Int32Array
  seed: number
  /**
   * Bytes just past `bytes`, in its buffer, that nothing else holds: a dictionary that adopts these keys adds
   * its next ones there, without copying these. A parse leaves room for the keys of the other parses that a
   * merge adds (see WasmInterner.keys); room never written takes no memory.
   */
  room?: number
}

/** The buffers of a dictionary's keys and table, to transfer them to another thread. */
export function keysBuffers ({ bytes, ends, slots }: DictionaryKeys): ArrayBuffer[] {
  return [bytes.buffer, ends.buffer, slots.buffer] as ArrayBuffer[]
}

/** Key `id` of keys stored as DictionaryKeys stores them. */
export function keyAt (bytes: Uint8Array, ends: Uint32Array, id: number): string {
  return decoder.decode(bytes.subarray(id === 0 ? 0 : ends[id - 1], ends[id]))
}

/**
 * A dictionary's keys in id order, without its table: for keys only ever read by id (a store's pages), where a
 * table no lookup uses would be held, and saved, for nothing (64 MB for 2.3 M URLs).
 */
export class KeyList {
  readonly #bytes: Uint8Array
  readonly #ends: Uint32Array

  constructor ({ bytes, ends }: Pick<DictionaryKeys, 'bytes' | 'ends'>) {
    this.#bytes = bytes
    this.#ends = ends
  }

  get size (): number {
    return this.#ends.length
  }

  /** The string of an id. */
  keyOf (id: number): string {
    return keyAt(this.#bytes, this.#ends, id)
  }

  /** The keys in id order. */
  keys (): Pick<DictionaryKeys, 'bytes' | 'ends'> {
    return { bytes: this.#bytes, ends: this.#ends }
  }
}

/**
 * How many keys internMany is given at once. What its first passes read must still be cached when the last one
 * uses it. In a test of visitors alone, blocks of 8 to 64 took a lookup from some 500 ns to 350; in the parser,
 * blocks of 16, 64 and 256 could not be told apart.
 */
export const INTERN_BLOCK = 64

/** Each slot holds [hash, id + 1]: small slots keep the table compact, which matters more than a lookup saved. */
const SLOT_WIDTH = 2
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * An open-addressing hash table from byte strings to dense ids. Keys are appended, in id order, to one
 * growing byte arena, so lookups compare bytes and allocate nothing, and the keys travel between threads
 * as two typed arrays.
 */
export class ByteInterner {
  /** What callers that hash bytes themselves start hashBytes from. */
  readonly seed: number
  #slots: Int32Array
  #arena: Uint8Array = new Uint8Array(1 << 16)
  #ends: Uint32Array = new Uint32Array(1024)
  #size = 0
  /** What internMany's passes ahead read, only so that no compiler drops those reads as unused. */
  // eslint-disable-next-line no-unused-private-class-members -- written and never read, on purpose: see above
  #touched = 0

  constructor (expectedKeys = 512, seed = randomSeed()) {
    this.seed = seed
    this.#slots = new Int32Array(initialSlots(expectedKeys) * SLOT_WIDTH)
  }

  /** A dictionary that takes over exported keys, their table and their room as they are (and goes on to modify them). */
  static adopt (keys: DictionaryKeys): ByteInterner {
    const interner = new ByteInterner(0, keys.seed)
    const { bytes, room = 0 } = keys
    interner.#arena = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length + room)
    interner.#ends = keys.ends
    interner.#slots = keys.slots
    interner.#size = keys.ends.length
    return interner
  }

  get size (): number {
    return this.#size
  }

  /** The id of bytes[start, end), whose hashBytes() from this dictionary's seed is `hash`; a new id when first seen. */
  intern (bytes: Uint8Array, start: number, end: number, hash: number): number {
    const mixed = mix(hash)
    const at = this.#slotOf(bytes, start, end, mixed)
    const idPlusOne = this.#slots[at + 1]
    return idPlusOne === 0 ? this.#insert(at, bytes, start, end, mixed) : idPlusOne - 1
  }

  /**
   * Interns keys from <= i < to, each bytes[starts[i], ends[i]) with hashBytes() `hashes[i]`, writing their ids
   * to ids[i], as intern() one by one would. In a big dictionary nearly every key misses the CPU cache twice,
   * for its slot and then for the key stored there to compare with: one at a time, each waits for the last. So
   * a first pass reads every slot, a second every stored key they lead to, and only then are the keys
   * interned, from the cache: the reads of a pass do not depend on each other, and the CPU overlaps them.
   * About INTERN_BLOCK keys at a time suit it best.
   */
  internMany (bytes: Uint8Array, starts: Uint32Array, ends: Uint32Array, hashes: Int32Array, from: number, to: number, ids: Uint32Array): void {
    const slots = this.#slots
    const wrap = slots.length - 1
    const keyEnds = this.#ends
    const arena = this.#arena
    let touched = 0
    for (let i = from; i < to; i++) touched ^= slots[((mix(hashes[i]) << 1) & wrap) + 1]
    for (let i = from; i < to; i++) {
      const idPlusOne = slots[((mix(hashes[i]) << 1) & wrap) + 1]
      // Key 0 starts the arena, which stays cached.
      if (idPlusOne > 1) touched ^= arena[keyEnds[idPlusOne - 2]]
    }
    this.#touched = touched
    for (let i = from; i < to; i++) ids[i] = this.intern(bytes, starts[i], ends[i], hashes[i])
  }

  /** The id of a string, or -1 when it was never interned. */
  find (value: string): number {
    const bytes = encoder.encode(value)
    const at = this.#slotOf(bytes, 0, bytes.length, mix(hashBytes(bytes, 0, bytes.length, this.seed)))
    return this.#slots[at + 1] - 1
  }

  /** The string of an id. */
  keyOf (id: number): string {
    return keyAt(this.#arena, this.#ends, id)
  }

  /**
   * The keys in id order, and the table over them: views of this dictionary's own arrays, not copies (of 100 MB
   * and more for a big one). A key never changes once stored, so the views stay right as keys are added.
   */
  keys (): DictionaryKeys {
    const used = this.#size === 0 ? 0 : this.#ends[this.#size - 1]
    return { bytes: this.#arena.subarray(0, used), ends: this.#ends.subarray(0, this.#size), slots: this.#slots, seed: this.seed }
  }

  /**
   * Makes room for `keys` more keys of `bytes` bytes in all, in one step for the key bytes and one for the key
   * list. Merging big dictionaries into one otherwise grew them by doubling, and every doubling held the old
   * copy and the new at once; room reserved and never written takes no memory. The table still grows as keys
   * come: reserved, it would be written whole, keys shared between the dictionaries or not.
   */
  reserve (keys: number, bytes: number): void {
    const used = this.#size === 0 ? 0 : this.#ends[this.#size - 1]
    if (used + bytes > this.#arena.length) this.#arena = grown(this.#arena, used + bytes)
    if (this.#size + keys > this.#ends.length) this.#ends = grown(this.#ends, this.#size + keys)
  }

  /** Interns every key of another dictionary; returns the id here of each of its ids. */
  merge ({ bytes, ends }: DictionaryKeys): Uint32Array {
    const count = ends.length
    const starts = new Uint32Array(count)
    for (let id = 1; id < count; id++) starts[id] = ends[id - 1]
    const hashes = new Int32Array(count)
    for (let id = 0; id < count; id++) hashes[id] = hashBytes(bytes, starts[id], ends[id], this.seed)
    const ids = new Uint32Array(count)
    for (let from = 0; from < count; from += INTERN_BLOCK) this.internMany(bytes, starts, ends, hashes, from, Math.min(from + INTERN_BLOCK, count), ids)
    return ids
  }

  /** The slot holding the key, or the empty slot where it belongs. */
  #slotOf (bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.#slots
    const wrap = slots.length - 1
    // (hash << 1): the slot index times SLOT_WIDTH, which is 2.
    let at = (hash << 1) & wrap
    while (slots[at + 1] !== 0 && !(slots[at] === hash && this.#keyIs(slots[at + 1] - 1, bytes, start, end))) {
      at = (at + SLOT_WIDTH) & wrap
    }
    return at
  }

  #keyIs (id: number, bytes: Uint8Array, start: number, end: number): boolean {
    const keyStart = id === 0 ? 0 : this.#ends[id - 1]
    if (this.#ends[id] - keyStart !== end - start) return false
    const arena = this.#arena
    for (let i = start, keyAt = keyStart; i < end; i++, keyAt++) if (arena[keyAt] !== bytes[i]) return false
    return true
  }

  #insert (at: number, bytes: Uint8Array, start: number, end: number, hash: number): number {
    const id = this.#size++
    const keyStart = id === 0 ? 0 : this.#ends[id - 1]
    const keyEnd = keyStart + end - start
    if (keyEnd > this.#arena.length) this.#arena = grown(this.#arena, keyEnd)
    if (id === this.#ends.length) this.#ends = grown(this.#ends, id + 1)
    // A byte loop, not set(subarray()): a view object per new key would be most of an insert's cost.
    const arena = this.#arena
    for (let i = start, keyAt = keyStart; i < end; i++, keyAt++) arena[keyAt] = bytes[i]
    this.#ends[id] = keyEnd
    const slots = this.#slots
    slots[at] = hash
    slots[at + 1] = id + 1
    // Keep the table at most half full, so probes stay short.
    if (this.#size * 2 * SLOT_WIDTH > slots.length) this.#rehash()
    return id
  }

  #rehash (): void {
    const old = this.#slots
    const slots = new Int32Array(old.length * 2)
    const mask = slots.length / SLOT_WIDTH - 1
    for (let from = 0; from < old.length; from += SLOT_WIDTH) {
      if (old[from + 1] === 0) continue
      let slot = old[from] & mask
      while (slots[slot * SLOT_WIDTH + 1] !== 0) slot = (slot + 1) & mask
      slots[slot * SLOT_WIDTH] = old[from]
      slots[slot * SLOT_WIDTH + 1] = old[from + 1]
    }
    this.#slots = slots
  }
}
