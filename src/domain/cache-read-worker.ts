// A worker thread: reads its part of each cache file it is given, with the part's checksum, into the file's
// shared buffer; a file that cannot be read is reported with its error's code.
import { parentPort, workerData } from 'node:worker_threads'
import { readParts, type ReadAheadJob } from './cache-read-ahead.js'

readParts(workerData as ReadAheadJob, message => parentPort!.postMessage(message))
