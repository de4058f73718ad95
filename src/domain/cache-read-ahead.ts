// Reads cache files on worker threads. Begun as the process starts (server.ts), a restart's largest piece
// of I/O and checksumming runs while the main thread imports and starts the server, instead of after it;
// on a worker, blocking reads are the fastest, and a stop is a terminate, whatever the worker is doing.
// Two workers read each file, a half each, into one shared buffer: the main thread's start-up now takes less
// than one reader did, and most of a read is the kernel giving fresh memory page by page, which two threads
// do side by side.
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { crc32 } from 'node:zlib'
import { crc32Combine } from './crc32-combine.js'

/** A whole file's bytes, and the CRC-32 of all but its last 4 (where the writer put the CRC). */
export interface ChecksummedFile { bytes: Buffer, crc: number }

/** Bytes `start` to `end` of the file at `path`, to be read into `buffer` (the whole file's) at the same place. */
export interface FilePart { path: string, buffer: SharedArrayBuffer, start: number, end: number }
/** A part's CRC-32, of the `summed` bytes of it that the file's CRC covers. */
export interface PartCrc { crc: number, summed: number }

export interface ReadAheadJob { parts: readonly FilePart[], blockBytes: number }
export type FromReadAheadWorker =
  | { path: string, part: PartCrc }
  | { path: string, error: { message: string, code?: string } }

/** Read and checksummed in blocks this large: the block just read is still in the caches when it is summed. */
const READ_BLOCK_BYTES = 4 * 1024 * 1024
/** Each file is read by this many workers, a part each (measured at 10 M rows: two read 233 MB in 0.25 s, one in 0.4 s). */
const READERS = 2
/** Parts begin on a page, so that no page is written by two threads. */
const PAGE_BYTES = 4096

// The worker is a sibling module: cache-read-worker.ts under test, cache-read-worker.js (or .cjs) once built.
const WORKER_URL = new URL(`./cache-read-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/**
 * Opening a named pipe for reading waits for a writer, for ever, and no stop can interrupt a thread waiting
 * in open(): without waiting, the open returns at once, and what is opened is checked to be a file.
 */
const OPEN_WITHOUT_WAITING = constants.O_RDONLY | constants.O_NONBLOCK
const NOT_A_FILE = 'not a regular file'

/** A file opened to be read, checked to be a file (a pipe is refused, not waited for): its descriptor and size. */
export function openFileToRead (path: string): { fd: number, size: number } {
  const fd = openSync(path, OPEN_WITHOUT_WAITING)
  try {
    const info = fstatSync(fd)
    if (!info.isFile()) throw new Error(NOT_A_FILE)
    return { fd, size: info.size }
  } catch (error) {
    closeSync(fd)
    throw error
  }
}

/**
 * Reads bytes [start, end) of an open file into the same place of `bytes` (the whole file's), a block at a time,
 * pausing after each block; returns the CRC-32 of those bytes that the file's CRC covers (all but its last 4).
 * A worker runs it straight through; the main thread lets the event loop run at each pause.
 */
export function * readChecksummedBlocks (fd: number, bytes: Uint8Array, start: number, end: number, blockBytes: number): Generator<void, PartCrc> {
  const checked = Math.max(bytes.byteLength - 4, 0)
  let crc = 0
  for (let at = start; at < end;) {
    const bytesRead = readSync(fd, bytes, at, Math.min(blockBytes, end - at), at)
    /* c8 ignore next: only another process cutting the file short while it is read gets here */
    if (bytesRead === 0) throw new Error('the file shrank while it was read')
    crc = crc32(bytes.subarray(Math.min(at, checked), Math.min(at + bytesRead, checked)), crc)
    at += bytesRead
    yield
  }
  return { crc, summed: Math.min(end, checked) - Math.min(start, checked) }
}

/** Reads a part of a file into its place in the file's buffer, with the CRC of the bytes of it the file's CRC covers. */
export function readChecksummedPart ({ path, buffer, start, end }: FilePart, blockBytes: number): PartCrc {
  const { fd, size } = openFileToRead(path)
  try {
    // Replaced since the buffer was made for it: its CRC would not match, but its length may not either.
    if (size !== buffer.byteLength) throw new Error('the file changed while it was read')
    const blocks = readChecksummedBlocks(fd, new Uint8Array(buffer), start, end, blockBytes)
    for (;;) {
      const step = blocks.next()
      if (step.done === true) return step.value
    }
  } finally {
    closeSync(fd)
  }
}

/** What a worker does with its job: reads each part, and reports it, or why it could not be read. */
export function readParts ({ parts, blockBytes }: ReadAheadJob, report: (message: FromReadAheadWorker) => void): void {
  for (const part of parts) {
    let message: FromReadAheadWorker
    try {
      message = { path: part.path, part: readChecksummedPart(part, blockBytes) }
    } catch (error) {
      message = { path: part.path, error: { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code } }
    }
    report(message)
  }
}

/** A read that failed, with the error's code (ENOENT: there is no such file) kept. */
function readError ({ message, code }: { message: string, code?: string }): Error {
  return Object.assign(new Error(message), { code })
}

/** A file's parts, one per reader, each starting on a page. */
function splitIntoParts (path: string, buffer: SharedArrayBuffer, readers: number): FilePart[] {
  const pages = Math.ceil(buffer.byteLength / PAGE_BYTES)
  return Array.from({ length: readers }, (_, reader) => ({
    path,
    buffer,
    start: Math.min(buffer.byteLength, Math.ceil((pages * reader) / readers) * PAGE_BYTES),
    end: Math.min(buffer.byteLength, Math.ceil((pages * (reader + 1)) / readers) * PAGE_BYTES)
  }))
}

interface PendingRead {
  buffer: SharedArrayBuffer
  /** Each reader's part of the file, once it has come. */
  parts: (PartCrc | undefined)[]
  resolve: (file: ChecksummedFile) => void
  reject: (error: Error) => void
}

/** Whole files, each read with its checksum on worker threads, from the moment this is made. */
export class CacheReadAhead {
  readonly #workers: Worker[] = []
  readonly #reads = new Map<string, Promise<ChecksummedFile>>()

  constructor (paths: readonly string[], blockBytes = READ_BLOCK_BYTES, readers = READERS) {
    const pending = new Map<string, PendingRead>()
    const jobs: FilePart[][] = Array.from({ length: readers }, () => [])
    for (const path of paths) {
      const read = new Promise<ChecksummedFile>((resolve, reject) => {
        try {
          // Only the size, to make the buffer: the workers check what they open (a pipe is not waited for).
          const buffer = new SharedArrayBuffer(statSync(path).size)
          pending.set(path, { buffer, parts: Array.from({ length: readers }), resolve, reject })
          splitIntoParts(path, buffer, readers).forEach((part, reader) => jobs[reader].push(part))
        } catch (error) {
          reject(readError(error as NodeJS.ErrnoException))
        }
      })
      // A read nobody takes (a store that did not match, whose tables are then not wanted) fails nothing.
      read.catch(() => {})
      this.#reads.set(path, read)
    }
    const settle = (path: string, read: PendingRead, outcome: ChecksummedFile | Error): void => {
      pending.delete(path)
      if (outcome instanceof Error) read.reject(outcome)
      else read.resolve(outcome)
    }
    jobs.forEach((parts, reader) => {
      // No file to read (none of them there).
      if (parts.length === 0) return
      const job: ReadAheadJob = { parts, blockBytes }
      const worker = new Worker(WORKER_URL, { workerData: job })
      worker.on('message', (message: FromReadAheadWorker) => {
        const read = pending.get(message.path)
        // Failed already, by another part.
        if (read === undefined) return
        if ('error' in message) return settle(message.path, read, readError(message.error))
        read.parts[reader] = message.part
        if (read.parts.some(part => part === undefined)) return
        // The parts' CRCs, in file order, make the file's.
        const crc = (read.parts as PartCrc[]).reduce((sum, part) => crc32Combine(sum, part.crc, part.summed), 0)
        settle(message.path, read, { bytes: Buffer.from(read.buffer), crc })
      })
      // Whatever becomes of a worker (done, terminated, failed), a file it did not read its part of fails: no
      // read hangs.
      worker.on('exit', () => {
        for (const { path } of parts) {
          const read = pending.get(path)
          if (read !== undefined && read.parts[reader] === undefined) settle(path, read, new Error('the cache files were not read: reading stopped'))
        }
      })
      worker.on('error', () => {})
      this.#workers.push(worker)
    })
  }

  /** The read of `path`, once: a second take, or a path never asked for, is undefined. */
  take (path: string): Promise<ChecksummedFile> | undefined {
    const read = this.#reads.get(path)
    this.#reads.delete(path)
    return read
  }

  /** Lets go of reads never taken, and stops the workers that are still reading. */
  close (): void {
    this.#reads.clear()
    for (const worker of this.#workers) void worker.terminate()
  }
}

/**
 * Runs `work`, which takes what it needs of `readAhead`: a stop meanwhile ends a read still under way on its
 * workers, and once `work` is done, what it did not take is let go.
 */
export async function closingReadAhead<T> (readAhead: CacheReadAhead | undefined, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  const close = (): void => readAhead?.close()
  signal.addEventListener('abort', close)
  try {
    return await work()
  } finally {
    signal.removeEventListener('abort', close)
    close()
  }
}
