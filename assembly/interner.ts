// AssemblyScript, compiled to WebAssembly by `npm run build`: a parse's dictionaries (sites, visitors, pages),
// each the hash table of src/domain/byte-interner.ts (the same hashes, probing, growth and mixing; each slot also
// says where its key is, and is packed into ByteInterner's on export, for it to adopt), and the reading of plain
// CSV lines into rows. Parsing is where a dictionary is hottest: here a lookup costs about half what it does in
// JavaScript.
//
// Memory: regions taken from the top as needed. A region that grows grows in place when it is the top one;
// otherwise it moves, and its old place is kept for a later region that fits in it. Memory touched once stays
// with the process: what is given back is reused, never returned.

const NEWLINE: u8 = 10
const CARRIAGE_RETURN: u8 = 13
const QUOTE: u8 = 34
const COMMA: u8 = 44
const ZERO: u8 = 48
const FNV_PRIME: u32 = 0x01000193
/** As csv-range.ts: 15 digits always fit a double exactly; longer timestamps are left to it. */
const MAX_DIGITS: u32 = 15

let top: usize = 0
/** Places given back: (start, bytes) pairs, first fit. */
const FREE_PLACES = 64
const freePlaces = memory.data(FREE_PLACES * 2 * sizeof<usize>(), 8)
let freeCount: u32 = 0

// @ts-ignore: a decorator AssemblyScript knows
@external("env", "outOfMemory")
/** Throws, in JavaScript: the memory cannot grow (WebAssembly's 4 GiB, or the machine's). */
declare function outOfMemory (): void

/** Makes the memory reach `end`. */
function reach (end: usize): void {
  const have = <usize>memory.size() << 16
  if (end <= have) return
  const needed = <i32>((end - have + 0xffff) >> 16)
  // At least doubling, so that a parse grows the memory a few dozen times, not once per region.
  if (memory.grow(max(needed, memory.size())) < 0 && memory.grow(needed) < 0) outOfMemory()
}

// @ts-ignore: a decorator AssemblyScript knows
@inline function freePlace (i: u32): usize { return freePlaces + (<usize>i << (alignof<usize>() + 1)) }

/** A region of `bytes`: one given back before, holding what it held then, or fresh memory, zeroed. */
function allocate (bytes: usize): usize {
  if (top == 0) top = __heap_base
  for (let i: u32 = 0; i < freeCount; i++) {
    const place = freePlace(i)
    const size = load<usize>(place, sizeof<usize>())
    if (size < bytes) continue
    const start = load<usize>(place)
    // What is left of the place stays free, 64-byte aligned like every region.
    const taken = (bytes + 63) & ~(<usize>63)
    if (size >= taken + 64) {
      store<usize>(place, start + taken)
      store<usize>(place, size - taken, sizeof<usize>())
    } else {
      freeCount--
      store<usize>(place, load<usize>(freePlace(freeCount)))
      store<usize>(place, load<usize>(freePlace(freeCount), sizeof<usize>()), sizeof<usize>())
    }
    return start
  }
  const start = (top + 63) & ~(<usize>63)
  reach(start + bytes)
  top = start + bytes
  return start
}

/** Gives back a region no longer used (forgotten when there is no room left to note it). */
function release (start: usize, bytes: usize): void {
  if (start + bytes == top) {
    top = start
    return
  }
  if (freeCount == <u32>FREE_PLACES) return
  store<usize>(freePlace(freeCount), start)
  store<usize>(freePlace(freeCount), bytes, sizeof<usize>())
  freeCount++
}

@unmanaged class Dictionary {
  seed: u32
  slots: usize
  slotCount: u32
  ends: usize
  endsCapacity: u32
  arena: usize
  arenaCapacity: u32
  size: u32
  used: u32
}

// Static data, not StaticArrays: with no runtime, objects would be allocated where allocate() starts.
const dictionaries = memory.data(3 * sizeof<usize>(), 8)
/** readLines' own region, for a block of rows' keys. */
let block: usize = 0
/** Regions the caller writes into and reads from: keys to intern (0), lines to read (1), rows read (2). */
const regions = memory.data(3 * sizeof<usize>(), 8)
const capacities = memory.data(3 * sizeof<u32>(), 8)

// @ts-ignore: a decorator AssemblyScript knows
@inline function dictionary (index: u32): Dictionary { return changetype<Dictionary>(load<usize>(dictionaries + (<usize>index << alignof<usize>()))) }

/**
 * A slot, 16 bytes: the key's hash and its id + 1 (0: empty), as ByteInterner's, then where the key starts in the
 * arena and its length, so that a lookup goes from the slot straight to the key, not through the keys' ends
 * first: one cache miss fewer a key, in tables of tens of megabytes. A parse of 10 M rows made elsewhere took some
 * 5 % less time (a peak 80 MB higher, two tables of twice the bytes a parse). Packed into ByteInterner's 8-byte
 * slots on export (packSlots).
 */
const SLOT_SHIFT = 4

/** A hash table of `count` empty slots. */
function emptySlots (count: u32): usize {
  const slots = allocate(<usize>count << SLOT_SHIFT)
  memory.fill(slots, 0, <usize>count << SLOT_SHIFT)
  return slots
}

/**
 * Starts dictionary `index` (0 sites, 1 visitors, 2 pages), empty, with a table of `initialSlots` slots and
 * room for `arenaBytes` bytes of keys (at least 64 KiB) before its arena moves.
 */
export function init (index: u32, initialSlots: u32, seed: u32, arenaBytes: u32): void {
  const d = changetype<Dictionary>(allocate(offsetof<Dictionary>()))
  d.seed = seed
  d.slotCount = initialSlots
  d.slots = emptySlots(initialSlots)
  d.endsCapacity = 1024
  d.ends = allocate(<usize>d.endsCapacity << 2)
  d.arenaCapacity = max(1 << 16, arenaBytes)
  d.arena = allocate(d.arenaCapacity)
  d.size = 0
  d.used = 0
  store<usize>(dictionaries + (<usize>index << alignof<usize>()), changetype<usize>(d))
}

/** Region `kind`, at least `bytes` long: moved, its contents lost, when it grows; the others stay as they are. */
export function regionOf (kind: u32, bytes: u32): usize {
  const capacity = capacities + (<usize>kind << 2)
  const region = regions + (<usize>kind << alignof<usize>())
  if (bytes > load<u32>(capacity)) {
    if (load<u32>(capacity) != 0) release(load<usize>(region), load<u32>(capacity))
    store<u32>(capacity, max(bytes, load<u32>(capacity) << 1))
    store<usize>(region, allocate(load<u32>(capacity)))
  }
  return load<usize>(region)
}

export function keyCount (index: u32): u32 { return dictionary(index).size }
export function keyBytes (index: u32): u32 { return dictionary(index).used }
export function slotsLength (index: u32): u32 { return dictionary(index).slotCount << 1 }
/** Writes dictionary `index`'s table at `to` as ByteInterner's: each slot's hash and id + 1 alone, slotsLength() numbers. */
export function packSlots (index: u32, to: usize): void {
  const d = dictionary(index)
  for (let slot: u32 = 0; slot < d.slotCount; slot++) store<u64>(to + (<usize>slot << 3), load<u64>(slotAt(d, slot)))
}
export function endsAt (index: u32): usize { return dictionary(index).ends }
export function arenaAt (index: u32): usize { return dictionary(index).arena }

// @ts-ignore
@inline function mix (hash: u32): u32 {
  let mixed = hash ^ (hash >> 16)
  mixed *= 0x85ebca6b
  mixed ^= mixed >> 13
  mixed *= 0xc2b2ae35
  return mixed ^ (mixed >> 16)
}

// @ts-ignore
@inline function slotAt (d: Dictionary, slot: u32): usize { return d.slots + (<usize>slot << SLOT_SHIFT) }

/** A region of `capacity` bytes holding the `bytes` of one of `oldCapacity` at `from`: the same one, grown, when it is the top one. */
function grownTo (from: usize, bytes: usize, oldCapacity: usize, capacity: usize): usize {
  if (from + oldCapacity == top) {
    reach(from + capacity)
    top = from + capacity
    return from
  }
  const to = allocate(capacity)
  memory.copy(to, from, bytes)
  release(from, oldCapacity)
  return to
}

function rehash (d: Dictionary): void {
  const oldSlots = d.slots
  const oldCount = d.slotCount
  d.slotCount = oldCount << 1
  d.slots = emptySlots(d.slotCount)
  const mask = d.slotCount - 1
  for (let from: u32 = 0; from < oldCount; from++) {
    const at = oldSlots + (<usize>from << SLOT_SHIFT)
    if (load<u32>(at, 4) == 0) continue
    let slot = load<u32>(at) & mask
    while (load<u32>(slotAt(d, slot), 4) != 0) slot = (slot + 1) & mask
    v128.store(slotAt(d, slot), v128.load(at))
  }
  release(oldSlots, <usize>oldCount << SLOT_SHIFT)
}

function insert (d: Dictionary, at: usize, key: usize, length: u32, hash: u32): u32 {
  const id = d.size++
  if (d.used + length > d.arenaCapacity) {
    const capacity = max(d.arenaCapacity << 1, d.used + length)
    d.arena = grownTo(d.arena, d.used, d.arenaCapacity, capacity)
    d.arenaCapacity = capacity
  }
  if (id == d.endsCapacity) {
    d.ends = grownTo(d.ends, <usize>id << 2, <usize>d.endsCapacity << 2, <usize>d.endsCapacity << 3)
    d.endsCapacity <<= 1
  }
  memory.copy(d.arena + d.used, key, length)
  store<u32>(at, hash)
  store<u32>(at, id + 1, 4)
  store<u32>(at, d.used, 8)
  store<u32>(at, length, 12)
  d.used += length
  store<u32>(d.ends + (<usize>id << 2), d.used)
  // At most half full, so that probes stay short.
  if (d.size << 1 > d.slotCount) rehash(d)
  return id
}

/** Whether the key of the slot at `at` is [key, key + length). */
// @ts-ignore: a decorator AssemblyScript knows
@inline function keyIs (d: Dictionary, at: usize, key: usize, length: u32): bool {
  return load<u32>(at, 12) == length && sameBytes(d.arena + <usize>load<u32>(at, 8), key, length)
}

/** Whether [a, a + length) and [b, b + length) hold the same bytes: eight at a time, wherever they are aligned. */
function sameBytes (a: usize, b: usize, length: u32): bool {
  let at: usize = 0
  for (; at + 8 <= <usize>length; at += 8) if (load<u64>(a + at) != load<u64>(b + at)) return false
  if (at + 4 <= <usize>length) {
    if (load<u32>(a + at) != load<u32>(b + at)) return false
    at += 4
  }
  for (; at < <usize>length; at++) if (load<u8>(a + at) != load<u8>(b + at)) return false
  return true
}

/** The id of the key [key, key + length), whose unmixed hash is `hash`; a new id when first seen. */
function intern (d: Dictionary, key: usize, length: u32, hash: u32): u32 {
  const mixed = mix(hash)
  const mask = d.slotCount - 1
  let slot = mixed & mask
  while (true) {
    const at = slotAt(d, slot)
    const idPlusOne = load<u32>(at, 4)
    if (idPlusOne == 0) return insert(d, at, key, length, mixed)
    if (load<u32>(at) == mixed && keyIs(d, at, key, length)) return idPlusOne - 1
    slot = (slot + 1) & mask
  }
}

/** The id in dictionary `index` of one key, as internKeys gives it: for the keys read outside readLines. */
export function internOne (index: u32, key: usize, length: u32, hash: u32): u32 {
  return intern(dictionary(index), key, length, hash)
}

/** Reads ahead what interning each key will read: every key's slot, then every stored key those lead to. */
function touchAhead (d: Dictionary, hashes: usize, count: u32): u32 {
  const mask = d.slotCount - 1
  let touched: u32 = 0
  for (let i: u32 = 0; i < count; i++) touched ^= load<u32>(slotAt(d, mix(load<u32>(hashes + (<usize>i << 2))) & mask), 4)
  for (let i: u32 = 0; i < count; i++) {
    const at = slotAt(d, mix(load<u32>(hashes + (<usize>i << 2))) & mask)
    if (load<u32>(at, 4) != 0) touched ^= load<u8>(d.arena + <usize>load<u32>(at, 8))
  }
  return touched
}

/**
 * Interns `count` keys into a dictionary, key i being [keys + starts[i], keys + ends[i]) with unmixed hash
 * hashes[i], and writes each one's id to ids[i]. As in ByteInterner.internMany, the reads ahead do not wait for
 * each other, and the interning after them finds what it reads in the caches. Returns what the reads ahead read,
 * for the caller to keep.
 */
function internKeys (d: Dictionary, keys: usize, starts: usize, keyEnds: usize, hashes: usize, count: u32, ids: usize): u32 {
  const touched = touchAhead(d, hashes, count)
  for (let i: u32 = 0; i < count; i++) {
    const start = load<u32>(starts + (<usize>i << 2))
    store<u32>(ids + (<usize>i << 2), intern(d, keys + start, load<u32>(keyEnds + (<usize>i << 2)) - start, load<u32>(hashes + (<usize>i << 2))))
  }
  return touched
}

// What readLines left: how many lines it read, how many of them were rows, and the rows' first and last timestamps.
let linesRead: u32 = 0
let rowsRead: u32 = 0
let firstTime: f64 = Infinity
let lastTime: f64 = -Infinity
export function lastLines (): u32 { return linesRead }
export function lastRows (): u32 { return rowsRead }
export function firstTimestamp (): f64 { return firstTime }
export function lastTimestamp (): f64 { return lastTime }

/** Whether [text, text + length) is UTF-8 as Node's isUtf8 has it: no overlong forms, surrogates or code points past U+10FFFF. */
function isUtf8 (text: usize, length: u32): bool {
  let at: u32 = 0
  while (at < length) {
    const lead = <u32>load<u8>(text + at)
    if (lead < 0x80) {
      at++
      continue
    }
    let count: u32
    // The first continuation byte's range depends on the lead (Unicode's table 3-7); the others are 80-BF.
    let low: u32 = 0x80
    let high: u32 = 0xbf
    if (lead >= 0xc2 && lead <= 0xdf) count = 1
    else if (lead >= 0xe0 && lead <= 0xef) {
      count = 2
      if (lead == 0xe0) low = 0xa0
      else if (lead == 0xed) high = 0x9f
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      count = 3
      if (lead == 0xf0) low = 0x90
      else if (lead == 0xf4) high = 0x8f
    } else return false
    if (at + count >= length) return false
    const first = <u32>load<u8>(text + at + 1)
    if (first < low || first > high) return false
    for (let i: u32 = 2; i <= count; i++) {
      const next = <u32>load<u8>(text + at + i)
      if (next < 0x80 || next > 0xbf) return false
    }
    at += count + 1
  }
  return true
}

/**
 * hashBytes of byte-interner.ts over [key, key + length), four bytes a step, then the last one to three one by
 * one: the hash ByteInterner finds a key by.
 */
// @ts-ignore: a decorator AssemblyScript knows
@inline function hashKey (key: usize, length: u32, seed: u32): u32 {
  let hash = seed
  let at: u32 = 0
  for (; at + 4 <= length; at += 4) hash = (hash ^ load<u32>(key + at)) * FNV_PRIME
  for (; at < length; at++) hash = (hash ^ load<u8>(key + at)) * FNV_PRIME
  return hash
}

// The hash of the field scanText read last; whether a byte it read since `nonAscii` was cleared was past ASCII.
let fieldHash: u32 = 0
let nonAscii = false

/**
 * Reads a field's text from `from`, when `hashed` hashing it from `seed` into fieldHash (hashKey); returns where it stops: a
 * quote, a line break, `end`, or, unless `quoted` (text inside quotes may hold commas), a comma. The stop is
 * found 16 bytes at a time (WebAssembly's SIMD), the last bytes before `end` one by one: a third less time than
 * four bytes at a time with a word's bit tricks, which was a third of reading a line. Sets nonAscii when a byte
 * read is past ASCII: one of the field's, or of up to 15 after it, in the same 16, which only makes the caller
 * check a line's UTF-8 that it need not have. `quoted` is a constant at every call, so each call inlines a scan
 * of its own.
 */
// @ts-ignore: a decorator AssemblyScript knows
@inline function scanText (data: usize, from: u32, end: u32, seed: u32, hashed: bool, quoted: bool): u32 {
  let at = from
  let high: i32 = 0
  while (true) {
    if (at + 16 > end) {
      for (let byte = load<u8>(data + at); at < end && (quoted || byte != COMMA) && byte != QUOTE && byte != NEWLINE; byte = load<u8>(data + ++at)) {
        high |= byte & 0x80
      }
      break
    }
    const bytes = v128.load(data + at)
    let stops = v128.or(i8x16.eq(bytes, i8x16.splat(QUOTE)), i8x16.eq(bytes, i8x16.splat(NEWLINE)))
    if (!quoted) stops = v128.or(stops, i8x16.eq(bytes, i8x16.splat(COMMA)))
    // A lane's top bit each: the bytes past ASCII, and the stops.
    high |= i8x16.bitmask(bytes)
    const stopLanes = i8x16.bitmask(stops)
    if (stopLanes != 0) {
      at += <u32>ctz(stopLanes)
      break
    }
    at += 16
  }
  if (hashed) fieldHash = hashKey(data + from, at - from, seed)
  if (high != 0) nonAscii = true
  return at
}

// Where the text of the field scanField read last begins and ends: inside its quotes, when quoted.
let textStart: u32 = 0
let textEnd: u32 = 0

/**
 * Reads the text field at `from`, unquoted or quoted as a CSV writer quotes a field with a comma in it (a quote,
 * text without quotes or line breaks, a quote): its text's bounds in textStart and textEnd, its hash, when
 * `hashed`, in fieldHash. Returns where it stops: its comma when it is one of those, or anything else (a quote, a line
 * break, `end`; `""` inside quotes is csv-range.ts's) that leaves the line to csv-range.ts.
 */
// @ts-ignore: a decorator AssemblyScript knows
@inline function scanField (data: usize, from: u32, end: u32, seed: u32, hashed: bool): u32 {
  if (from < end && load<u8>(data + from) == QUOTE) {
    const closingQuote = scanText(data, from + 1, end, seed, hashed, true)
    if (closingQuote == end || load<u8>(data + closingQuote) != QUOTE) return end
    textStart = from + 1
    textEnd = closingQuote
    return closingQuote + 1
  }
  textStart = from
  textEnd = scanText(data, from, end, seed, hashed, false)
  return textEnd
}

/**
 * Where the line break is, when the line ends at `at`: a line break there, or \r and one, or (the last line, with
 * `lastLineEnds`) the data's end there or after \r, which counts as the line break; -1 when the line goes on.
 */
// @ts-ignore: a decorator AssemblyScript knows
@inline function lineBreakAt (data: usize, at: u32, length: u32, lastLineEnds: bool): i64 {
  let lineBreak = at
  if (lineBreak < length && load<u8>(data + lineBreak) == CARRIAGE_RETURN) lineBreak++
  if (lineBreak == length ? !lastLineEnds : load<u8>(data + lineBreak) != NEWLINE) return -1
  return lineBreak
}

/** Rows of a block of lines, kept until their visitors and pages are interned together. */
const BLOCK: u32 = 64
/** What readLines looks up: each row's site and visitor, its page, or both (as parse-dictionaries.ts says). */
const INTERN_ROWS: u32 = 1
const INTERN_PAGES: u32 = 2

/**
 * Reads the lines of [data, data + length), each ending with a line break (the last one, with `lastLineEnds`,
 * perhaps with the data's end), into rows, a column each, with room for every row the lines can hold: the
 * timestamps as doubles, the site ids, the visitor ids and the page ids (and the time range of the rows read, in
 * firstTime and lastTime). Columns, not rows, so that the caller copies each in one go: copying rows of the four
 * side by side, one by one, took 60–100 ns a row, a sixth of the parse. This is the fast path for plain lines: text fields without quotes, or quoted
 * as a CSV writer quotes a field with a comma in it (a quote, text without quotes or line breaks, a quote, then
 * the comma), in valid UTF-8, a non-empty visitor and site, a timestamp of 1 to 15 digits, an optional \r; an
 * empty line is read as no row. Stops before the first line that is anything else (or longer than `maxLine` bytes), which
 * csv-range.ts hands to papaparse; returns where it stopped, relative to `data`. `interned` says which ids are
 * looked up (INTERN_ROWS: sites and visitors; INTERN_PAGES: pages): the others' columns are left unwritten, and
 * their fields are read, not hashed.
 */
export function readLines (
  data: usize, length: u32, maxLine: u32, timestamps: usize, siteIds: usize, visitorIds: usize, pageIds: usize, lastLineEnds: bool,
  interned: u32
): u32 {
  const sites = dictionary(0)
  const visitors = dictionary(1)
  const pages = dictionary(2)
  const internRows = (interned & INTERN_ROWS) != 0
  const internPages = (interned & INTERN_PAGES) != 0
  if (block == 0) block = allocate(BLOCK * 6 * 4)
  // Per row of the block: visitor start, end and hash, then page start, end and hash, as internKeys takes them.
  const visitorStarts = block
  const visitorEnds = block + BLOCK * 4
  const visitorHashes = block + BLOCK * 8
  const pageStarts = block + BLOCK * 12
  const pageEnds = block + BLOCK * 16
  const pageHashes = block + BLOCK * 20
  linesRead = 0
  rowsRead = 0
  firstTime = Infinity
  lastTime = -Infinity
  let pending: u32 = 0
  let at: u32 = 0
  while (at < length) {
    const lineStart = at
    // The fields are read up to the line break that ends the timestamp's digits; anything else leaves the line.
    const emptyLineBreak = lineBreakAt(data, lineStart, length, lastLineEnds)
    if (emptyLineBreak >= 0) {
      // An empty line, read as no row.
      linesRead++
      at = <u32>emptyLineBreak + 1
      continue
    }
    nonAscii = false
    const afterVisitor = scanField(data, lineStart, length, visitors.seed, internRows)
    const visitorStart = textStart
    const visitorEnd = textEnd
    const visitorHash = fieldHash
    if (visitorEnd == visitorStart || afterVisitor == length || load<u8>(data + afterVisitor) != COMMA) break
    const afterSite = scanField(data, afterVisitor + 1, length, sites.seed, internRows)
    const siteStart = textStart
    const siteEnd = textEnd
    const siteHash = fieldHash
    if (siteEnd == siteStart || afterSite == length || load<u8>(data + afterSite) != COMMA) break
    const afterPage = scanField(data, afterSite + 1, length, pages.seed, internPages)
    const pageStart = textStart
    const pageEnd = textEnd
    const pageHash = fieldHash
    if (afterPage == length || load<u8>(data + afterPage) != COMMA) break
    const timestampStart = afterPage + 1
    let p = timestampStart
    let timestamp: u64 = 0
    for (let digit = <u32>load<u8>(data + p) - ZERO; p < length && digit <= 9; digit = <u32>load<u8>(data + ++p) - ZERO) timestamp = timestamp * 10 + digit
    if (p == timestampStart || p - timestampStart > MAX_DIGITS) break
    // The digits end the line.
    const lineBreak = lineBreakAt(data, p, length, lastLineEnds)
    if (lineBreak < 0 || <u32>lineBreak - lineStart > maxLine) break
    const next = <u32>lineBreak + 1
    // Text that is not valid UTF-8 is left to papaparse, which decodes it as every other path does.
    if (nonAscii && !isUtf8(data + lineStart, pageEnd - lineStart)) break
    const row = <usize>(rowsRead + pending)
    if (internRows) store<u32>(siteIds + (row << 2), intern(sites, data + siteStart, siteEnd - siteStart, siteHash))
    const time = <f64>timestamp
    store<f64>(timestamps + (row << 3), time)
    if (time < firstTime) firstTime = time
    if (time > lastTime) lastTime = time
    store<u32>(visitorStarts + (<usize>pending << 2), visitorStart)
    store<u32>(visitorEnds + (<usize>pending << 2), visitorEnd)
    store<u32>(visitorHashes + (<usize>pending << 2), visitorHash)
    store<u32>(pageStarts + (<usize>pending << 2), pageStart)
    store<u32>(pageEnds + (<usize>pending << 2), pageEnd)
    store<u32>(pageHashes + (<usize>pending << 2), pageHash)
    linesRead++
    at = next
    if (++pending == BLOCK) {
      resolveBlock(visitors, pages, data, block, pending, visitorIds + (<usize>rowsRead << 2), pageIds + (<usize>rowsRead << 2), interned)
      rowsRead += pending
      pending = 0
    }
  }
  resolveBlock(visitors, pages, data, block, pending, visitorIds + (<usize>rowsRead << 2), pageIds + (<usize>rowsRead << 2), interned)
  rowsRead += pending
  return min(at, length)
}

/** What resolveBlock's reads ahead read: exported, so that no optimizer drops those reads as unused. */
let sink: u32 = 0
export function touchedSink (): u32 { return sink }

function resolveBlock (visitors: Dictionary, pages: Dictionary, data: usize, block: usize, count: u32, visitorIds: usize, pageIds: usize, interned: u32): void {
  if (interned & INTERN_ROWS) sink ^= internKeys(visitors, data, block, block + BLOCK * 4, block + BLOCK * 8, count, visitorIds)
  if (interned & INTERN_PAGES) sink ^= internKeys(pages, data, block + BLOCK * 12, block + BLOCK * 16, block + BLOCK * 20, count, pageIds)
}

/**
 * Interns into dictionary `index` the `count` keys of another, stored as DictionaryKeys stores them (key i is
 * [keys + ends[i - 1] (or keys), keys + ends[i])), and writes each one's id here to ids[i]: a block at a time,
 * as readLines interns, so that a block's reads overlap (internKeys).
 */
export function mergeKeys (index: u32, keys: usize, ends: usize, count: u32, ids: usize): void {
  const d = dictionary(index)
  if (block == 0) block = allocate(BLOCK * 6 * 4)
  const starts = block
  const hashes = block + BLOCK * 4
  for (let from: u32 = 0; from < count; from += BLOCK) {
    const blockCount = min(BLOCK, count - from)
    const blockEnds = ends + (<usize>from << 2)
    for (let i: u32 = 0; i < blockCount; i++) {
      const start: u32 = from + i == 0 ? 0 : load<u32>(ends + (<usize>(from + i - 1) << 2))
      store<u32>(starts + (<usize>i << 2), start)
      store<u32>(hashes + (<usize>i << 2), hashKey(keys + start, load<u32>(blockEnds + (<usize>i << 2)) - start, d.seed))
    }
    sink ^= internKeys(d, keys, starts, blockEnds, hashes, blockCount, ids + (<usize>from << 2))
  }
}
