// The dictionaries a parse interns each row's visitor and page into: ByteInterner's hash table, compiled to
// WebAssembly (assembly/interner.ts), where a lookup costs about half what it does in JavaScript. Keys are
// copied into the module's memory a block at a time: one copy of the bytes the block's keys lie in.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../project-root.js'
import { hashBytes, initialSlots, randomSeed, type DictionaryKeys } from './byte-interner.js'

/** The part of the WebAssembly API used here: TypeScript declares it only with the DOM's types. */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly

interface InternerExports {
  memory: { buffer: ArrayBuffer }
  init: (slots: number) => void
  scratchOf: (bytes: number) => number
  keyCount: () => number
  keyBytes: () => number
  slotsAt: () => number
  slotsLength: () => number
  endsAt: () => number
  arenaAt: () => number
  internMany: (keys: number, starts: number, ends: number, hashes: number, count: number, ids: number) => number
}

// Compiled once per thread, by `npm run build` before this runs, from src/ or from dist/ alike.
const MODULE = new Module(readFileSync(join(PROJECT_ROOT, 'dist', 'assembly', 'interner.wasm')))
const IMPORTS = {
  env: {
    // Only a failed memory.grow gets here: the module has no assertion of its own.
    abort: () => { throw new RangeError('the dictionary cannot grow: out of memory') }
  }
}
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class WasmInterner {
  /** What callers that hash bytes themselves start hashBytes from. */
  readonly seed: number
  readonly #wasm: InternerExports

  constructor (expectedKeys = 512, seed = randomSeed()) {
    this.seed = seed
    this.#wasm = new Instance(MODULE, IMPORTS).exports as InternerExports
    this.#wasm.init(initialSlots(expectedKeys))
  }

  get size (): number {
    return this.#wasm.keyCount()
  }

  /** As ByteInterner.internMany: the keys from <= i < to, each bytes[starts[i], ends[i]) hashed `hashes[i]`. */
  internMany (bytes: Uint8Array, starts: Uint32Array, ends: Uint32Array, hashes: Int32Array, from: number, to: number, ids: Uint32Array): void {
    const wasm = this.#wasm
    const count = to - from
    let first = starts[from]
    let last = ends[from]
    for (let i = from + 1; i < to; i++) {
      if (starts[i] < first) first = starts[i]
      if (ends[i] > last) last = ends[i]
    }
    // Scratch: the bytes the keys lie in, then each key's start, end and hash, then room for the ids.
    const numbersAt = (last - first + 3) & ~3
    const scratch = wasm.scratchOf(numbersAt + count * 16)
    new Uint8Array(wasm.memory.buffer, scratch, last - first).set(bytes.subarray(first, last))
    const numbers = new Uint32Array(wasm.memory.buffer, scratch + numbersAt, count * 3)
    for (let i = 0; i < count; i++) {
      numbers[i] = starts[from + i] - first
      numbers[count + i] = ends[from + i] - first
      numbers[2 * count + i] = hashes[from + i]
    }
    const idsAt = scratch + numbersAt + count * 12
    wasm.internMany(scratch, scratch + numbersAt, scratch + numbersAt + count * 4, scratch + numbersAt + count * 8, count, idsAt)
    // A view made after the call: growing the memory detaches every view made before.
    ids.set(new Uint32Array(wasm.memory.buffer, idsAt, count), from)
  }

  /** The id of a string, interning it when new. */
  internString (value: string): number {
    const bytes = encoder.encode(value)
    const ids = new Uint32Array(1)
    this.internMany(bytes, Uint32Array.of(0), Uint32Array.of(bytes.length), Int32Array.of(hashBytes(bytes, 0, bytes.length, this.seed)), 0, 1, ids)
    return ids[0]
  }

  /** The string of an id. */
  keyOf (id: number): string {
    const wasm = this.#wasm
    const ends = new Uint32Array(wasm.memory.buffer, wasm.endsAt(), wasm.keyCount())
    return decoder.decode(new Uint8Array(wasm.memory.buffer, wasm.arenaAt() + (id === 0 ? 0 : ends[id - 1]), ends[id] - (id === 0 ? 0 : ends[id - 1])))
  }

  /** The keys in id order and the table over them, as ByteInterner.keys() gives them, in buffers of their own. */
  keys (): DictionaryKeys {
    const wasm = this.#wasm
    const { buffer } = wasm.memory
    return {
      bytes: new Uint8Array(buffer, wasm.arenaAt(), wasm.keyBytes()).slice(),
      ends: new Uint32Array(buffer, wasm.endsAt(), wasm.keyCount()).slice(),
      slots: new Int32Array(buffer, wasm.slotsAt(), wasm.slotsLength()).slice(),
      seed: this.seed
    }
  }
}
