// Reads cache files on a worker thread. Begun as the process starts (server.ts), a restart's largest piece
// of I/O and checksumming runs while the main thread imports and starts the server, instead of after it;
// on the worker, blocking reads are the fastest, and a stop is a terminate, whatever the worker is doing.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { crc32 } from 'node:zlib'

/** A whole file's bytes, and the CRC-32 of all but its last 4 (where the writer put the CRC). */
export interface ChecksummedFile { bytes: Buffer<ArrayBuffer>, crc: number }

export interface ReadAheadJob { paths: readonly string[], blockBytes: number }
export type FromReadAheadWorker =
  | { path: string, file: ChecksummedFile }
  | { path: string, error: { message: string, code?: string } }

/** Read and checksummed in blocks this large: the block just read is still in the caches when it is summed. */
const READ_BLOCK_BYTES = 4 * 1024 * 1024

// The worker is a sibling module: cache-read-worker.ts under test, cache-read-worker.js once built.
const WORKER_URL = new URL(`./cache-read-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/**
 * Opening a named pipe for reading waits for a writer, for ever, and no stop can interrupt a thread waiting
 * in open(): without waiting, the open returns at once, and what is opened is checked to be a file.
 */
export const OPEN_WITHOUT_WAITING = constants.O_RDONLY | constants.O_NONBLOCK
export const NOT_A_FILE = 'not a regular file'

/** Reads a whole file into a buffer of its own (so that typed arrays over it are aligned), with its CRC. */
export function readChecksummedFile (path: string, blockBytes: number): ChecksummedFile {
  const fd = openSync(path, OPEN_WITHOUT_WAITING)
  try {
    const info = fstatSync(fd)
    if (!info.isFile()) throw new Error(NOT_A_FILE)
    const { size } = info
    const bytes = Buffer.allocUnsafeSlow(size)
    const checked = Math.max(size - 4, 0)
    let crc = 0
    for (let start = 0; start < size;) {
      const bytesRead = readSync(fd, bytes, start, Math.min(blockBytes, size - start), start)
      /* c8 ignore next: only another process cutting the file short while it is read gets here */
      if (bytesRead === 0) throw new Error('the file shrank while it was read')
      const end = start + bytesRead
      crc = crc32(bytes.subarray(Math.min(start, checked), Math.min(end, checked)), crc)
      start = end
    }
    return { bytes, crc }
  } finally {
    closeSync(fd)
  }
}

/** A read that failed on the worker, with the error's code (ENOENT: there is no such file) kept. */
function readError ({ message, code }: { message: string, code?: string }): Error {
  return Object.assign(new Error(message), { code })
}

/** Whole files, each read with its checksum on a worker thread, from the moment this is made. */
export class CacheReadAhead {
  readonly #worker: Worker
  readonly #reads = new Map<string, Promise<ChecksummedFile>>()

  constructor (paths: readonly string[], blockBytes = READ_BLOCK_BYTES) {
    const settlers = new Map<string, { resolve: (file: ChecksummedFile) => void, reject: (error: Error) => void }>()
    for (const path of paths) {
      const read = new Promise<ChecksummedFile>((resolve, reject) => settlers.set(path, { resolve, reject }))
      // A read nobody takes (a store that did not match, whose tables are then not wanted) fails nothing.
      read.catch(() => {})
      this.#reads.set(path, read)
    }
    const job: ReadAheadJob = { paths, blockBytes }
    this.#worker = new Worker(WORKER_URL, { workerData: job })
    this.#worker.on('message', (message: FromReadAheadWorker) => {
      const { resolve, reject } = settlers.get(message.path)!
      // The bytes arrive as a plain Uint8Array over the transferred memory: a Buffer view of it, not a copy.
      if ('file' in message) resolve({ bytes: Buffer.from(message.file.bytes.buffer), crc: message.file.crc })
      else reject(readError(message.error))
    })
    // Whatever becomes of the worker (done, terminated, failed), what it did not read fails: no read hangs.
    this.#worker.on('exit', () => {
      for (const { reject } of settlers.values()) reject(new Error('the cache files were not read: reading stopped'))
    })
    this.#worker.on('error', () => {})
  }

  /** The read of `path`, once: a second take, or a path never asked for, is undefined. */
  take (path: string): Promise<ChecksummedFile> | undefined {
    const read = this.#reads.get(path)
    this.#reads.delete(path)
    return read
  }

  /** Lets go of reads never taken, and stops the worker if it is still reading. */
  close (): void {
    this.#reads.clear()
    void this.#worker.terminate()
  }
}
