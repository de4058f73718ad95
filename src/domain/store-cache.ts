// Keeps a loaded store, and the session tables warm-up computed, in files, so that a restart on unchanged
// data reads them back in large blocks instead of parsing every CSV file again. A file is used only when it
// provably describes the same data, read by the same program with the same settings: anything else is a
// `CacheMismatch` naming the difference, and the caller parses afresh. Never a wrong answer, only a slower start.
import { createHash, randomUUID, type Hash } from 'node:crypto'
import { closeSync, openSync, readdirSync, readSync } from 'node:fs'
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { setImmediate } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { crc32 } from 'node:zlib'
import { ByteInterner, type DictionaryKeys } from './byte-interner.js'
import type { CsvFile } from '../ingest/data-folder.js'
import type { DatasetSummary } from '../ingest/dataset.js'
import { withPages, type PageViewStore, type SessionStore } from './page-view-store.js'
import { PackedTableIndex, packTables, type PackedTables, type SessionTable } from './sessions.js'
import { CacheReadAhead, closingReadAhead, openFileToRead, readChecksummedBlocks, type ChecksummedFile } from './cache-read-ahead.js'
import { PROJECT_ROOT } from '../project-root.js'

/** Bumped whenever the layout below changes; the program fingerprint covers everything else. */
const FORMAT = 3
const MAGIC = Buffer.from('SSNZR\0\0\x01', 'latin1')
const ALIGN = 8
/** Read on this thread in blocks this large, each checksummed as soon as it is read. */
const READ_BLOCK_BYTES = 16 * 1024 * 1024
/** Written and checksummed in blocks this large, yielding between them so that requests go on meanwhile. */
const WRITE_BLOCK_BYTES = 8 * 1024 * 1024

export const NO_CACHE_YET = 'there is none yet'

/** A cache file that cannot be used: missing, written for other data or settings, or damaged. */
export class CacheMismatch extends Error {
  override name = 'CacheMismatch'
}

type Section = Uint8Array | Uint32Array | Int32Array | Float64Array
const SECTION_TYPES = { u8: Uint8Array, u32: Uint32Array, i32: Int32Array, f64: Float64Array } as const
type SectionType = keyof typeof SECTION_TYPES

function sectionType (section: Section): SectionType {
  if (section instanceof Uint8Array) return 'u8'
  if (section instanceof Uint32Array) return 'u32'
  if (section instanceof Int32Array) return 'i32'
  return 'f64'
}

interface Header<Meta> {
  /** What the file was written for: compared field by field with what the reader expects. */
  key: CacheKey
  meta: Meta
  sections: { name: string, type: SectionType, length: number }[]
}

const padded = (bytes: number) => Math.ceil(bytes / ALIGN) * ALIGN

/**
 * Writes the file whole or not at all: into a temporary file beside it, flushed to disk, then renamed over
 * it, so that a crash or a stop mid-write leaves the previous file (or none), never half of one. Layout:
 * magic, header length, JSON header, then each section 8-byte aligned, then a CRC-32 of all that precedes.
 */
async function writeSectionsFile<Meta> (
  path: string, key: CacheKey, meta: Meta, sections: Record<string, Section>, signal: AbortSignal
): Promise<void> {
  const header: Header<Meta> = {
    key,
    meta,
    sections: Object.entries(sections).map(([name, section]) => ({ name, type: sectionType(section), length: section.length }))
  }
  const headerBytes = Buffer.from(JSON.stringify(header))
  const prefix = Buffer.alloc(padded(MAGIC.length + 4 + headerBytes.length))
  MAGIC.copy(prefix)
  prefix.writeUInt32LE(headerBytes.length, MAGIC.length)
  headerBytes.copy(prefix, MAGIC.length + 4)

  await mkdir(dirname(path), { recursive: true })
  await removeLeftovers(path)
  const temporary = `${path}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`
  const handle = await open(temporary, 'wx')
  try {
    let crc = 0
    const write = async (bytes: Uint8Array) => {
      for (let start = 0; start < bytes.length; start += WRITE_BLOCK_BYTES) {
        signal.throwIfAborted()
        const block = bytes.subarray(start, start + WRITE_BLOCK_BYTES)
        crc = crc32(block, crc)
        await handle.write(block)
      }
    }
    await write(prefix)
    for (const section of Object.values(sections)) {
      await write(new Uint8Array(section.buffer, section.byteOffset, section.byteLength))
      await write(new Uint8Array(padded(section.byteLength) - section.byteLength))
    }
    const trailer = Buffer.alloc(4)
    trailer.writeUInt32LE(crc >>> 0)
    await handle.write(trailer)
    await handle.sync()
    await handle.close()
    signal.throwIfAborted()
    await rename(temporary, path)
  } catch (error) {
    await handle.close().catch(() => {})
    await unlink(temporary).catch(() => {})
    throw error
  }
}

/**
 * Temporary files of writes that a crash interrupted: nothing else removes them. A write still under way
 * in another process (a second server on the same data) is left alone.
 */
async function removeLeftovers (path: string): Promise<void> {
  const leftover = new RegExp(`^${basename(path).replaceAll('.', '\\.')}\\.(\\d+)-[0-9a-f]+\\.tmp$`)
  for (const name of await readdir(dirname(path))) {
    const writer = leftover.exec(name)?.[1]
    if (writer !== undefined && !processIsAlive(Number(writer))) await unlink(join(dirname(path), name)).catch(() => {})
  }
}

function processIsAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it is alive, only another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * A whole file in a buffer of its own (so that typed arrays over it are aligned), with the CRC-32 of all but
 * its last 4 bytes: on this thread, when no read-ahead began (tests, embedders), letting the event loop run
 * between blocks so that the server answers meanwhile.
 */
async function readChecksummed (path: string, blockBytes: number, signal: AbortSignal): Promise<ChecksummedFile> {
  const { fd, size } = openFileToRead(path)
  try {
    const bytes = Buffer.allocUnsafeSlow(size)
    const blocks = readChecksummedBlocks(fd, bytes, 0, size, blockBytes)
    for (;;) {
      const step = blocks.next()
      if (step.done === true) return { bytes, crc: step.value.crc }
      await setImmediate()
      // A stop while a large store is read (a gigabyte takes seconds) ends the read between blocks.
      signal.throwIfAborted()
    }
  } finally {
    closeSync(fd)
  }
}

interface FileIdentity { name: string, bytes: number, mtimeMs: number }

/** What a file was written for: the program, and the data and settings its contents depend on. */
interface CacheKey {
  program: string
  files?: FileIdentity[]
  strictCsv?: boolean
  storeId?: string
  sessionTimeoutSeconds?: number
}

/** Why a file is not used, for each field of its key that differs from what this start expects. */
const MISMATCHES: { [F in keyof CacheKey]-?: (saved: CacheKey[F], expected: CacheKey[F]) => string } = {
  program: () => 'another version of Sessionizer wrote it',
  files: (saved, expected) => `the data files changed (${describeFileChanges(saved!, expected!)})`,
  strictCsv: saved => `STRICT_CSV was ${String(saved)} when it was written`,
  storeId: () => 'it belongs to another store',
  sessionTimeoutSeconds: saved => `SESSION_TIMEOUT_SECONDS was ${String(saved)} when it was written`
}

function describeFileChanges (saved: FileIdentity[], now: FileIdentity[]): string {
  const savedByName = new Map(saved.map(file => [file.name, file]))
  const nowNames = new Set(now.map(file => file.name))
  const changes = [
    ...now.filter(file => !savedByName.has(file.name)).map(file => `${file.name} is new`),
    ...now.filter(file => savedByName.has(file.name) && JSON.stringify(savedByName.get(file.name)) !== JSON.stringify(file))
      .map(file => `${file.name} changed`),
    ...saved.filter(file => !nowNames.has(file.name)).map(file => `${file.name} is gone`)
  ]
  return changes.slice(0, 3).join(', ') + (changes.length > 3 ? `, and ${changes.length - 3} more` : '')
}

/**
 * Reads a file that writeSectionsFile wrote for `expectedKey`. The checksum is checked first: a file that
 * passes it is whole and as this format's writer wrote it, so its header and layout can be trusted.
 */
async function readSectionsFile<Meta> (
  path: string, expectedKey: CacheKey, blockBytes: number, signal: AbortSignal, readAhead?: CacheReadAhead
): Promise<{ meta: Meta, sections: Map<string, Section> }> {
  signal.throwIfAborted()
  let file: ChecksummedFile
  try {
    file = await (readAhead?.take(path) ?? readChecksummed(path, blockBytes, signal))
  } catch (error) {
    signal.throwIfAborted()
    const code = (error as NodeJS.ErrnoException).code
    throw new CacheMismatch(code === 'ENOENT' ? NO_CACHE_YET : `it cannot be read: ${(error as Error).message}`)
  }
  const { bytes, crc } = file
  const damaged = (what: string) => new CacheMismatch(`it is damaged (${what})`)
  if (bytes.length < MAGIC.length + 8 || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw damaged('not a Sessionizer cache file of this format')
  if (crc !== bytes.readUInt32LE(bytes.length - 4)) throw damaged('checksum mismatch: truncated or altered')
  const headerEnd = MAGIC.length + 4 + bytes.readUInt32LE(MAGIC.length)
  const header = JSON.parse(bytes.toString('utf8', MAGIC.length + 4, headerEnd)) as Header<Meta>
  for (const field of Object.keys(expectedKey) as (keyof CacheKey)[]) {
    const [saved, expected] = [header.key[field], expectedKey[field]]
    if (JSON.stringify(saved) !== JSON.stringify(expected)) throw new CacheMismatch((MISMATCHES[field] as (s: unknown, e: unknown) => string)(saved, expected))
  }
  let at = padded(headerEnd)
  const sections = new Map<string, Section>(header.sections.map(({ name, type, length }) => {
    // Over the file's memory, shared when it was read ahead (cache-read-ahead.ts).
    const section = new (SECTION_TYPES[type] as new (buffer: ArrayBufferLike, byteOffset: number, length: number) => Section)(bytes.buffer, at, length)
    at += padded(section.byteLength)
    return [name, section]
  }))
  return { meta: header.meta, sections }
}

/**
 * What made this program's store: a digest of the domain's and the ingest's code (store layout, session
 * tables, parsing rules) and the file format, so that a store written by any other build is never taken for this
 * one's. `codeDir` is this module's folder, where the program runs from.
 */
export function programFingerprint (codeDir = dirname(fileURLToPath(import.meta.url))): string {
  // Read without awaiting (some 100 kB, 3 MB bundled): awaiting each read would wait for a turn of the event
  // loop, which start-up keeps busy, every time, and delay reading the store by as much. Through one small
  // buffer: the bundle read whole took a restart 10 ms of fresh memory, on the thread that answers.
  const hash = createHash('sha256').update(String(FORMAT))
  const block = Buffer.allocUnsafe(FINGERPRINT_BLOCK_BYTES)
  // The domain's code, and the reading of CSV files into it, partly compiled to WebAssembly: any can change
  // what a store holds. Bundled (npm start), this module's folder holds them all, with the rest of the program
  // (and files that are not code: source maps, V8's code cache).
  const code = basename(codeDir) === 'bundle' ? [codeDir] : [codeDir, join(codeDir, '..', 'ingest')]
  for (const [folder, pattern] of [...code.map(folder => [folder, /\.c?[jt]s$/] as const), [join(PROJECT_ROOT, 'dist', 'assembly'), /\.wasm$/]] as const) {
    for (const name of readdirSync(folder).sort()) {
      if (pattern.test(name)) hashFile(hash.update(name), join(folder, name), block)
    }
  }
  return hash.digest('hex').slice(0, 32)
}

/** The block programFingerprint reads code files in. */
const FINGERPRINT_BLOCK_BYTES = 256 * 1024

/** Adds a file's bytes to `hash`, read a block at a time into `block`. */
function hashFile (hash: Hash, path: string, block: Buffer): void {
  const fd = openSync(path, 'r')
  try {
    for (let read; (read = readSync(fd, block)) > 0;) hash.update(block.subarray(0, read))
  } finally {
    closeSync(fd)
  }
}

export interface StoreCacheOptions {
  /** The folder the cache files go into. */
  cacheDir: string
  dataDir: string
  strictCsv: boolean
  sessionTimeoutSeconds: number
  program: string
  /** Stops a read between blocks (the stop rejects with the signal's reason, not as a mismatch). */
  signal: AbortSignal
  /** The cache files are read in blocks this large; tests shrink it. */
  readBlockBytes?: number
  /** Reads of the cache files begun when the process started, taken instead of reading them again. */
  readAhead?: CacheReadAhead
}

/** Where the cache files of a data folder are: one folder's files never overwrite another's. */
export function cacheFilePaths (cacheDir: string, dataDir: string): { store: string, tables: string, pages: string } {
  const folder = createHash('sha256').update(dataDir).digest('hex').slice(0, 16)
  return { store: join(cacheDir, `${folder}.store`), tables: join(cacheDir, `${folder}.sessions`), pages: join(cacheDir, `${folder}.pages`) }
}

interface StoreMeta {
  storeId: string
  summary: DatasetSummary
  siteUrls: string[]
  visitorSeed: number
  firstTimestamp: number | null
  lastTimestamp: number | null
}

/** A dictionary's sections, named after it: its keys' bytes, where each key ends, and its hash table. */
function dictionarySections (name: string, keys: DictionaryKeys): Record<string, Section> {
  return { [`${name}Bytes`]: keys.bytes, [`${name}Ends`]: keys.ends, [`${name}Slots`]: keys.slots }
}

/** The dictionary saved under `name`, its table taken over as it is (no rehashing). */
function readDictionary (sections: Map<string, Section>, name: string, seed: number): ByteInterner {
  return ByteInterner.adopt({
    bytes: sections.get(`${name}Bytes`) as Uint8Array,
    ends: sections.get(`${name}Ends`) as Uint32Array,
    slots: sections.get(`${name}Slots`) as Int32Array,
    seed
  })
}

/**
 * The cache of one data folder: a store file, valid while every input file keeps its name, size and
 * modification time; beside it, the store's pages, in a file of their own; and a session-table file, valid for
 * one store and one session timeout.
 */
export class StoreCache {
  readonly #storePath: string
  readonly #tablesPath: string
  readonly #pagesPath: string
  readonly #storeKey: CacheKey
  readonly #options: StoreCacheOptions

  constructor (options: StoreCacheOptions, files: readonly CsvFile[]) {
    this.#options = options
    const paths = cacheFilePaths(options.cacheDir, options.dataDir)
    this.#storePath = paths.store
    this.#tablesPath = paths.tables
    this.#pagesPath = paths.pages
    this.#storeKey = {
      program: options.program,
      strictCsv: options.strictCsv,
      files: files.map(file => ({ name: basename(file.path), bytes: file.bytes, mtimeMs: file.mtimeMs }))
    }
  }

  get #readBlockBytes (): number {
    return this.#options.readBlockBytes ?? READ_BLOCK_BYTES
  }

  get storePath (): string {
    return this.#storePath
  }

  /** The store but its pages (readPages), which no answer but a site's pages needs. */
  async readStore (): Promise<{ store: SessionStore, summary: DatasetSummary, storeId: string }> {
    const { meta, sections } = await readSectionsFile<StoreMeta>(this.#storePath, this.#storeKey, this.#readBlockBytes, this.#options.signal, this.#options.readAhead)
    const siteUrls = meta.siteUrls
    const store: SessionStore = {
      siteUrls,
      siteIdByUrl: new Map(siteUrls.map((url, site) => [url, site])),
      visitors: readDictionary(sections, 'visitor', meta.visitorSeed),
      siteRowStart: sections.get('siteRowStart') as Uint32Array,
      visitorColumn: sections.get('visitorColumn') as Uint32Array,
      timestampColumn: sections.get('timestampColumn') as Float64Array,
      visitorSiteCount: sections.get('visitorSiteCount') as Uint32Array,
      firstTimestamp: meta.firstTimestamp,
      lastTimestamp: meta.lastTimestamp
    }
    return { store, summary: meta.summary, storeId: meta.storeId }
  }

  /**
   * The pages of the store read (readStore), from their file: read on workers of their own, as the store is,
   * while the rest of the store serves. They are nearly half of a store's bytes (page URLs and a page id a view),
   * which no answer but a site's pages needs.
   */
  async readPages (store: SessionStore, storeId: string): Promise<PageViewStore> {
    const { signal } = this.#options
    const readAhead = new CacheReadAhead([this.#pagesPath])
    return await closingReadAhead(readAhead, signal, async () => {
      const { sections } = await readSectionsFile<null>(this.#pagesPath, this.#pagesKey(storeId), this.#readBlockBytes, signal, readAhead)
      return withPages(store, sections.get('pageColumn') as Uint32Array, { bytes: sections.get('pageBytes') as Uint8Array, ends: sections.get('pageEnds') as Uint32Array })
    })
  }

  /** Removes the store file (its pages could not be read back): the next start parses the CSV files and saves anew. */
  async discardStore (): Promise<void> {
    await unlink(this.#storePath).catch(() => {})
  }

  /**
   * Saves the store, its pages first: a store file is only ever there once its pages are. Resolves to the id
   * that its pages and session tables are saved under.
   */
  async saveStore (store: PageViewStore, summary: DatasetSummary, signal: AbortSignal): Promise<string> {
    const storeId = randomUUID()
    const visitorKeys = store.visitors.keys()
    const pageKeys = store.pages.keys()
    await writeSectionsFile(this.#pagesPath, this.#pagesKey(storeId), null,
      { pageBytes: pageKeys.bytes, pageEnds: pageKeys.ends, pageColumn: store.pageColumn }, signal)
    const meta: StoreMeta = {
      storeId,
      summary,
      siteUrls: [...store.siteUrls],
      visitorSeed: visitorKeys.seed,
      firstTimestamp: store.firstTimestamp,
      lastTimestamp: store.lastTimestamp
    }
    await writeSectionsFile(this.#storePath, this.#storeKey, meta, {
      ...dictionarySections('visitor', visitorKeys),
      siteRowStart: store.siteRowStart,
      visitorColumn: store.visitorColumn,
      timestampColumn: store.timestampColumn,
      visitorSiteCount: store.visitorSiteCount
    }, signal)
    return storeId
  }

  #pagesKey (storeId: string): CacheKey {
    return { program: this.#options.program, storeId }
  }

  #tablesKey (storeId: string): CacheKey {
    return { program: this.#options.program, storeId, sessionTimeoutSeconds: this.#options.sessionTimeoutSeconds }
  }

  /**
   * The saved session tables of a store, in the order they were saved (busiest site first), each made when asked
   * for. Their arrays are views of the file's memory, which holds nothing else: copying them took a tenth of a
   * 10 M-row restart (fresh pages, and the collections that so much new memory set off).
   */
  async readSessionTables (store: SessionStore, storeId: string): Promise<PackedTableIndex> {
    const { sections } = await readSectionsFile<null>(this.#tablesPath, this.#tablesKey(storeId), this.#readBlockBytes, this.#options.signal, this.#options.readAhead)
    const packed = { numbers: sections.get('tableNumbers'), lengths: sections.get('sessionLengths'), rows: sections.get('sessionRows') } as PackedTables
    return new PackedTableIndex(packed, store)
  }

  async saveSessionTables (storeId: string, tables: readonly { siteId: number, table: SessionTable }[], signal: AbortSignal): Promise<void> {
    const { numbers, lengths, rows } = packTables(tables)
    await writeSectionsFile(this.#tablesPath, this.#tablesKey(storeId), null, { tableNumbers: numbers, sessionLengths: lengths, sessionRows: rows }, signal)
  }
}
