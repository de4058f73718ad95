// A worker thread: reads each cache file it is given whole, with its checksum, and hands the bytes over
// without copying them; a file that cannot be read is reported with its error's code.
import { parentPort, workerData } from 'node:worker_threads'
import { readChecksummedFile, type FromReadAheadWorker, type ReadAheadJob } from './cache-read-ahead.js'

const { paths, blockBytes } = workerData as ReadAheadJob
for (const path of paths) {
  let message: FromReadAheadWorker
  try {
    message = { path, file: readChecksummedFile(path, blockBytes) }
  } catch (error) {
    message = { path, error: { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code } }
  }
  parentPort!.postMessage(message, 'file' in message ? [message.file.bytes.buffer] : [])
}
