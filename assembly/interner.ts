// AssemblyScript, compiled to WebAssembly by `npm run build`: the hash table of src/domain/byte-interner.ts
// (the same slots, probing, growth and seedless mixing, so that its exported table is ByteInterner's to
// adopt), for the one place where it is hottest: parsing, where it interns each row's visitor and page.
// Compiled, a lookup costs about half what the JavaScript one does, in small tables and in large.
//
// Memory: regions taken from the top as needed (slots, key ends, key bytes, and a scratch region the caller
// writes keys into); a region that grows moves to the top and its old place is left unused. An interner
// lives for one parse, and what it leaves behind is at most what it holds.

let top: usize = 0
let slots: usize = 0
let slotCount: u32 = 0
let ends: usize = 0
let endsCapacity: u32 = 0
let arena: usize = 0
let arenaCapacity: u32 = 0
let size: u32 = 0
let used: u32 = 0
let scratch: usize = 0
let scratchCapacity: u32 = 0

function allocate (bytes: usize): usize {
  const start = (top + 63) & ~(<usize>63)
  const end = start + bytes
  const have = <usize>memory.size() << 16
  if (end > have) {
    const needed = <i32>((end - have + 0xffff) >> 16)
    // At least doubling, so that a parse grows the memory a few dozen times, not once per region.
    if (memory.grow(max(needed, memory.size())) < 0 && memory.grow(needed) < 0) unreachable()
  }
  top = end
  return start
}

/** Starts an empty dictionary whose table has `initialSlots` slots (a power of two). */
export function init (initialSlots: u32): void {
  top = __heap_base
  slotCount = initialSlots
  slots = allocate(<usize>slotCount << 3)
  endsCapacity = 1024
  ends = allocate(<usize>endsCapacity << 2)
  arenaCapacity = 1 << 16
  arena = allocate(arenaCapacity)
  scratchCapacity = 0
  size = 0
  used = 0
}

/** A region of at least `bytes` for the caller to write keys and their positions into. */
export function scratchOf (bytes: u32): usize {
  if (bytes > scratchCapacity) {
    scratchCapacity = max(bytes, scratchCapacity << 1)
    scratch = allocate(scratchCapacity)
  }
  return scratch
}

export function keyCount (): u32 { return size }
export function keyBytes (): u32 { return used }
export function slotsAt (): usize { return slots }
export function slotsLength (): u32 { return slotCount << 1 }
export function endsAt (): usize { return ends }
export function arenaAt (): usize { return arena }

// @ts-ignore: a decorator AssemblyScript knows
@inline function mix (hash: u32): u32 {
  let mixed = hash ^ (hash >> 16)
  mixed *= 0x85ebca6b
  mixed ^= mixed >> 13
  mixed *= 0xc2b2ae35
  return mixed ^ (mixed >> 16)
}

// @ts-ignore
@inline function slotAt (slot: u32): usize { return slots + (<usize>slot << 3) }

// @ts-ignore
@inline function keyStart (id: u32): u32 { return id == 0 ? 0 : load<u32>(ends + (<usize>(id - 1) << 2)) }

function grownTo (from: usize, bytes: usize, capacity: usize): usize {
  const to = allocate(capacity)
  memory.copy(to, from, bytes)
  return to
}

function rehash (): void {
  const oldSlots = slots
  const oldCount = slotCount
  slotCount = oldCount << 1
  slots = allocate(<usize>slotCount << 3)
  const mask = slotCount - 1
  for (let from: u32 = 0; from < oldCount; from++) {
    const at = oldSlots + (<usize>from << 3)
    const idPlusOne = load<u32>(at, 4)
    if (idPlusOne == 0) continue
    const hash = load<u32>(at)
    let slot = hash & mask
    while (load<u32>(slotAt(slot), 4) != 0) slot = (slot + 1) & mask
    store<u32>(slotAt(slot), hash)
    store<u32>(slotAt(slot), idPlusOne, 4)
  }
}

function insert (at: usize, key: usize, length: u32, hash: u32): u32 {
  const id = size++
  if (used + length > arenaCapacity) {
    arenaCapacity = max(arenaCapacity << 1, used + length)
    arena = grownTo(arena, used, arenaCapacity)
  }
  if (id == endsCapacity) {
    endsCapacity <<= 1
    ends = grownTo(ends, <usize>id << 2, <usize>endsCapacity << 2)
  }
  memory.copy(arena + used, key, length)
  used += length
  store<u32>(ends + (<usize>id << 2), used)
  store<u32>(at, hash)
  store<u32>(at, id + 1, 4)
  // At most half full, so that probes stay short.
  if (size << 1 > slotCount) rehash()
  return id
}

function keyIs (id: u32, key: usize, length: u32): bool {
  const start = keyStart(id)
  if (load<u32>(ends + (<usize>id << 2)) - start != length) return false
  return memory.compare(arena + start, key, length) == 0
}

/**
 * Interns `count` keys, key i being [keys + starts[i], keys + ends[i]) with (unmixed) hash hashes[i], and
 * writes each one's id to ids[i]. As in ByteInterner.internMany, a first pass reads every key's slot and a
 * second every stored key those lead to, reads that do not wait for each other, before the keys are interned.
 */
export function internMany (keys: usize, starts: usize, keyEnds: usize, hashes: usize, count: u32, ids: usize): u32 {
  const mask = slotCount - 1
  let touched: u32 = 0
  for (let i: u32 = 0; i < count; i++) {
    touched ^= load<u32>(slotAt(mix(load<u32>(hashes + (<usize>i << 2))) & mask), 4)
  }
  for (let i: u32 = 0; i < count; i++) {
    const idPlusOne = load<u32>(slotAt(mix(load<u32>(hashes + (<usize>i << 2))) & mask), 4)
    if (idPlusOne > 1) touched ^= load<u8>(arena + <usize>load<u32>(ends + (<usize>(idPlusOne - 2) << 2)))
  }
  for (let i: u32 = 0; i < count; i++) {
    const hash = mix(load<u32>(hashes + (<usize>i << 2)))
    const start = load<u32>(starts + (<usize>i << 2))
    const length = load<u32>(keyEnds + (<usize>i << 2)) - start
    const key = keys + start
    // The table may have grown with the last key: its mask with it.
    const slotMask = slotCount - 1
    let slot = hash & slotMask
    let id: u32 = 0
    while (true) {
      const at = slotAt(slot)
      const idPlusOne = load<u32>(at, 4)
      if (idPlusOne == 0) {
        id = insert(at, key, length, hash)
        break
      }
      if (load<u32>(at) == hash && keyIs(idPlusOne - 1, key, length)) {
        id = idPlusOne - 1
        break
      }
      slot = (slot + 1) & slotMask
    }
    store<u32>(ids + (<usize>i << 2), id)
  }
  return touched
}
