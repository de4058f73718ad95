// Interns ids straight from UTF-8 bytes, so that a row costs no string unless its id is new.

export const FNV_OFFSET = 0x811c9dc5
export const FNV_PRIME = 0x01000193

/** FNV-1a over bytes[start, end): the hash the interner expects. */
export function hashBytes (bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i], FNV_PRIME)
  return hash >>> 0
}

/** Each slot holds [hash, id + 1, key start, key length]: one cache line answers all but the byte compare. */
const SLOT_WIDTH = 4
const INITIAL_SLOTS = 1024

/**
 * An open-addressing hash table from byte strings to dense ids, with each id's string decoded once.
 * Keys are copied into one growing byte arena, so lookups compare bytes and allocate nothing.
 */
export class ByteInterner {
  readonly values: string[] = []
  slots = new Uint32Array(INITIAL_SLOTS * SLOT_WIDTH)
  arena = new Uint8Array(1 << 16)
  arenaUsed = 0
  readonly #encoder = new TextEncoder()

  get size (): number {
    return this.values.length
  }

  /** The id of bytes[start, end), whose FNV-1a hash is `hash`; a new id when first seen. */
  intern (bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.slots
    const mask = slots.length / SLOT_WIDTH - 1
    const length = end - start
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = slot * SLOT_WIDTH
      const idPlusOne = slots[at + 1]
      if (idPlusOne === 0) return this.#insert(at, bytes, start, end, hash)
      if (slots[at] === hash && slots[at + 3] === length) {
        const arena = this.arena
        let keyAt = slots[at + 2]
        let i = start
        while (i < end && arena[keyAt] === bytes[i]) { i++; keyAt++ }
        if (i === end) return idPlusOne - 1
      }
    }
  }

  /** The id of a string, for rows that came through the general CSV parser. */
  internString (value: string): number {
    const bytes = this.#encoder.encode(value)
    return this.intern(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length))
  }

  #insert (at: number, bytes: Uint8Array, start: number, end: number, hash: number): number {
    const id = this.values.length
    const length = end - start
    if (this.arenaUsed + length > this.arena.length) this.#growArena(length)
    this.arena.set(bytes.subarray(start, end), this.arenaUsed)
    const slots = this.slots
    slots[at] = hash
    slots[at + 1] = id + 1
    slots[at + 2] = this.arenaUsed
    slots[at + 3] = length
    this.arenaUsed += length
    this.values.push(Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('utf8'))
    // Keep the table at most half full, so probes stay short.
    if (this.values.length * 2 * SLOT_WIDTH > slots.length) this.#rehash()
    return id
  }

  #growArena (needed: number): void {
    const arena = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + needed))
    arena.set(this.arena.subarray(0, this.arenaUsed))
    this.arena = arena
  }

  #rehash (): void {
    const old = this.slots
    const slots = new Uint32Array(old.length * 2)
    const mask = slots.length / SLOT_WIDTH - 1
    for (let from = 0; from < old.length; from += SLOT_WIDTH) {
      if (old[from + 1] === 0) continue
      let slot = old[from] & mask
      while (slots[slot * SLOT_WIDTH + 1] !== 0) slot = (slot + 1) & mask
      slots.set(old.subarray(from, from + SLOT_WIDTH), slot * SLOT_WIDTH)
    }
    this.slots = slots
  }
}
