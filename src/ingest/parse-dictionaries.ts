// A parse's dictionaries (sites, visitors, pages) and its reading of plain lines, in WebAssembly
// (assembly/interner.ts): each dictionary is ByteInterner's hash table (exported as its very slots), built where a
// lookup costs about half what it does in JavaScript. Bytes are copied into the module's memory to be read there: a
// copy is a fraction of what reading them costs.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../project-root.js'
import { hashBytes, initialSlots, keyAt, randomSeed, type DictionaryKeys } from '../domain/byte-interner.js'

/** The part of the WebAssembly API used here: TypeScript declares it only with the DOM's types. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly

interface ParseExports {
  memory: { buffer: ArrayBuffer }
  init: (index: number, slots: number, seed: number, arenaBytes: number) => void
  regionOf: (kind: number, bytes: number) => number
  keyCount: (index: number) => number
  keyBytes: (index: number) => number
  slotsLength: (index: number) => number
  packSlots: (index: number, to: number) => void
  endsAt: (index: number) => number
  arenaAt: (index: number) => number
  internOne: (index: number, key: number, length: number, hash: number) => number
  mergeKeys: (index: number, keys: number, ends: number, count: number, ids: number) => void
  readLines: (data: number, length: number, maxLine: number, timestamps: number, siteIds: number, visitorIds: number, pageIds: number, lastLineEnds: number, interned: number) => number
  lastLines: () => number
  lastRows: () => number
  firstTimestamp: () => number
  lastTimestamp: () => number
}

// Compiled once per thread, by `npm run build` before this runs, from src/ or from dist/ alike.
const MODULE = new Module(readFileSync(join(PROJECT_ROOT, 'dist', 'assembly', 'interner.wasm')))
const IMPORTS = {
  env: {
    // Past 4 GiB: a parse that needs more fails, saying so. Not something a test can wait for.
    /* c8 ignore next */
    outOfMemory: () => { throw new RangeError('the dictionaries of a parse outgrew the 4 GiB WebAssembly can address') }
  }
}
/** The most room kept ahead for a dictionary's keys: two of these stay well inside WebAssembly's 4 GiB. */
const MAX_ARENA_ROOM = 1 << 30
const SITES = 0
const VISITORS = 1
const PAGES = 2
/** The module's regions for what is passed in and out: keys to intern, lines to read, and rows read. */
const KEYS_REGION = 0
const LINES_REGION = 1
const ROWS_REGION = 2
/** The shortest line with a row: `v,s,,1\n`. */
const SHORTEST_ROW_LINE = 7
/** Per row read: the timestamp as a double, then site, visitor and page ids, each in a column of its own. */
const ROW_BYTES = 20
const encoder = new TextEncoder()

/**
 * Which ids a parse looks up: every one; every one but the pages' (a parse that leaves the pages for later, see
 * WorkerOptions.deferPages); or the pages' alone (that later parse).
 */
export type Interned = 'all' | 'allButPages' | 'pagesOnly'
/** As readLines in assembly/interner.ts takes them: 1, each row's site and visitor; 2, its page. */
const INTERNED_FLAGS: Record<Interned, number> = { all: 3, allButPages: 1, pagesOnly: 2 }

/** Rows readLines read, as flat arrays over the module's memory: only until the module is next called. */
export interface ReadRows {
  /** Where reading stopped: the first line it left for the caller, or the end. */
  end: number
  lines: number
  rows: number
  /** Row i's ids and timestamp: siteIds[i], visitorIds[i], pageIds[i], timestamps[i]; ids not interned are not written. */
  siteIds: Uint32Array
  visitorIds: Uint32Array
  pageIds: Uint32Array
  timestamps: Float64Array
  /** The rows' time range: Infinity and -Infinity when there are none. */
  firstTimestamp: number
  lastTimestamp: number
}

/** One dictionary of a parse, interning as ByteInterner does. */
export class WasmInterner {
  /** What callers that hash bytes themselves start hashBytes from. */
  readonly seed: number
  readonly #wasm: ParseExports
  readonly #index: number

  constructor (wasm: ParseExports, index: number, expectedKeys: number, seed: number, expectedKeyBytes = 0) {
    this.#wasm = wasm
    this.#index = index
    this.seed = seed
    wasm.init(index, initialSlots(expectedKeys), seed, Math.min(expectedKeyBytes, MAX_ARENA_ROOM))
  }

  get size (): number {
    return this.#wasm.keyCount(this.#index)
  }

  /** The id of bytes[start, end), whose hashBytes() from this dictionary's seed is `hash`; a new id when first seen. */
  intern (bytes: Uint8Array, start: number, end: number, hash: number): number {
    const wasm = this.#wasm
    const key = wasm.regionOf(KEYS_REGION, end - start)
    new Uint8Array(wasm.memory.buffer, key, end - start).set(bytes.subarray(start, end))
    return wasm.internOne(this.#index, key, end - start, hash)
  }

  /** The id of a string, interning it when new. */
  internString (value: string): number {
    const bytes = encoder.encode(value)
    return this.intern(bytes, 0, bytes.length, hashBytes(bytes, 0, bytes.length, this.seed))
  }

  /**
   * Interns every key of another dictionary; returns the id here of each of its ids. For after the parse: the
   * keys, their ends and their ids here go through the regions for lines and rows.
   */
  merge ({ bytes, ends }: Pick<DictionaryKeys, 'bytes' | 'ends'>): Uint32Array {
    const wasm = this.#wasm
    // Both regions taken before either is written: taking the second may grow the memory, never move the first.
    const keysAt = wasm.regionOf(LINES_REGION, bytes.length)
    const endsAt = wasm.regionOf(ROWS_REGION, ends.byteLength * 2)
    const idsAt = endsAt + ends.byteLength
    new Uint8Array(wasm.memory.buffer, keysAt, bytes.length).set(bytes)
    new Uint32Array(wasm.memory.buffer, endsAt, ends.length).set(ends)
    wasm.mergeKeys(this.#index, keysAt, endsAt, ends.length, idsAt)
    return new Uint32Array(wasm.memory.buffer, idsAt, ends.length).slice()
  }

  /**
   * The keys from id `from` on, as merge() takes them, in buffers of their own: what a parse hands over of its
   * visitors as it goes, for another to merge while both parse (see PageViewBatchBuilder.newVisitorKeys).
   */
  keysFrom (from: number): Pick<DictionaryKeys, 'bytes' | 'ends'> {
    const { ends, bytes } = this.#views()
    const start = from === 0 ? 0 : ends[from - 1]
    const keyEnds = ends.slice(from)
    for (let i = 0; i < keyEnds.length; i++) keyEnds[i] -= start
    return { bytes: bytes.slice(start), ends: keyEnds }
  }

  /** The string of an id. */
  keyOf (id: number): string {
    const { ends, bytes } = this.#views()
    return keyAt(bytes, ends, id)
  }

  /**
   * The keys in id order, in buffers of their own. `adoptable`, as ByteInterner.keys() gives them, with the
   * table over them, and room after the keys for twice as many bytes again: the merge of the parses' sites and
   * pages adopts one dictionary and reserves room for the others' keys (as if none were shared), and with no
   * room it copied the keys it adopted into a larger buffer, 0.1 s for the pages at 10 M rows made elsewhere,
   * holding both copies. The visitors' room goes unwritten, which costs no memory: they are merged here, before
   * their keys are taken (PageViewBatchBuilder.finish). Otherwise without the table (an empty one), which a merge does
   * not read: the visitors' and the pages' tables are 67 MB a parse at 10 M rows made elsewhere (as ByteInterner's).
   */
  keys (adoptable = true): DictionaryKeys {
    const { ends, bytes } = this.#views()
    const room = adoptable ? 2 * bytes.length : 0
    const arena = new Uint8Array(bytes.length + room)
    arena.set(bytes)
    return {
      bytes: arena.subarray(0, bytes.length),
      room,
      ends: ends.slice(),
      slots: adoptable ? this.#packedSlots() : new Int32Array(0),
      seed: this.seed
    }
  }

  /** The table as ByteInterner's, packed through the region for keys to intern. */
  #packedSlots (): Int32Array<ArrayBuffer> {
    const wasm = this.#wasm
    const length = wasm.slotsLength(this.#index)
    const at = wasm.regionOf(KEYS_REGION, length * Int32Array.BYTES_PER_ELEMENT)
    wasm.packSlots(this.#index, at)
    return new Int32Array(wasm.memory.buffer, at, length).slice()
  }

  #views (): { ends: Uint32Array, bytes: Uint8Array } {
    const wasm = this.#wasm
    const index = this.#index
    return {
      ends: new Uint32Array(wasm.memory.buffer, wasm.endsAt(index), wasm.keyCount(index)),
      bytes: new Uint8Array(wasm.memory.buffer, wasm.arenaAt(index), wasm.keyBytes(index))
    }
  }
}

/** How many visitors and pages a parse expects, and how many bytes of keys each of them may take. */
export interface DictionarySizes {
  visitors: number
  pages: number
  keyBytes: number
}

/** A parse's three dictionaries, in one instance of the module, and its reading of plain lines into them. */
export class ParseDictionaries {
  readonly sites: WasmInterner
  readonly visitors: WasmInterner
  readonly pages: WasmInterner
  readonly #wasm: ParseExports

  /**
   * `expected.visitors` and `expected.pages` size the visitors' and the pages' tables: a table grown by doubling
   * is rehashed each time, and each table it outgrew was memory touched once and left behind (the pages' of a
   * parse at 10 M rows made elsewhere grew to 32 MB, past 32 MB of smaller ones). `expected.keyBytes` is the room
   * kept for the visitors' keys, and as much for the pages': an arena grown by doubling was copied each time, and
   * left its old copies behind in the same way, some 85 MB a parse there. Room never written takes no memory.
   */
  constructor (expected: Partial<DictionarySizes> = {}, seeds: readonly number[] = [randomSeed(), randomSeed(), randomSeed()]) {
    const { visitors = 512, pages = 512, keyBytes = 0 } = expected
    this.#wasm = new Instance(MODULE, IMPORTS).exports as ParseExports
    this.sites = new WasmInterner(this.#wasm, SITES, 512, seeds[SITES])
    this.visitors = new WasmInterner(this.#wasm, VISITORS, visitors, seeds[VISITORS], keyBytes)
    this.pages = new WasmInterner(this.#wasm, PAGES, pages, seeds[PAGES], keyBytes)
  }

  /** Copies the bytes that readLines reads from, at once: a copy costs a fraction of what reading them does. */
  setLines (data: Uint8Array): void {
    const at = this.#wasm.regionOf(LINES_REGION, data.length)
    new Uint8Array(this.#wasm.memory.buffer, at, data.length).set(data)
  }

  /**
   * Reads lines [from, to) of the bytes setLines last gave into rows, as far as every line is plain (see
   * readLines in assembly/interner.ts) and at most `maxLine` bytes long; `to` must follow a line break, or end
   * the last line when `lastLineEnds`.
   */
  readLines (from: number, to: number, maxLine: number, lastLineEnds: boolean, interned: Interned = 'all'): ReadRows {
    const wasm = this.#wasm
    const length = to - from
    // Before the lines' region is looked up: taking room for the rows may grow the memory, never move the lines.
    const maxRows = Math.floor(length / SHORTEST_ROW_LINE) + 1
    // The region laid out as four columns of maxRows: the timestamps first, 8-byte aligned like the region.
    const timestampsAt = wasm.regionOf(ROWS_REGION, maxRows * ROW_BYTES)
    const siteIdsAt = timestampsAt + Float64Array.BYTES_PER_ELEMENT * maxRows
    const visitorIdsAt = siteIdsAt + Uint32Array.BYTES_PER_ELEMENT * maxRows
    const pageIdsAt = visitorIdsAt + Uint32Array.BYTES_PER_ELEMENT * maxRows
    const end = from + wasm.readLines(wasm.regionOf(LINES_REGION, 0) + from, length, maxLine, timestampsAt, siteIdsAt, visitorIdsAt, pageIdsAt, lastLineEnds ? 1 : 0,
      INTERNED_FLAGS[interned])
    const rows = wasm.lastRows()
    const buffer = wasm.memory.buffer
    return {
      end,
      lines: wasm.lastLines(),
      rows,
      timestamps: new Float64Array(buffer, timestampsAt, rows),
      siteIds: new Uint32Array(buffer, siteIdsAt, rows),
      visitorIds: new Uint32Array(buffer, visitorIdsAt, rows),
      pageIds: new Uint32Array(buffer, pageIdsAt, rows),
      firstTimestamp: wasm.firstTimestamp(),
      lastTimestamp: wasm.lastTimestamp()
    }
  }
}
