// Parses CSV ranges into batches: on worker threads, one batch each, or on this thread for small loads.
import { Worker } from 'node:worker_threads'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CsvFormatError, RangeParser, type CsvRange, type RangeParseOptions, type RangeResult } from './csv-range.js'
import { PageViewBatchBuilder, type PageViewBatch } from './page-view-batch.js'
import type { FromWorker, ToWorker } from './parse-worker.js'

/** What each parser needs: how to parse, and how many distinct visitors to expect. */
export interface WorkerOptions extends RangeParseOptions {
  expectedVisitors: number
}

export interface ParsedRanges {
  batches: PageViewBatch[]
  results: RangeResult[]
}

// The worker is a sibling module: parse-worker.ts under test, parse-worker.js once built.
const WORKER_URL = new URL(`./parse-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url)

/** Parses every range on this thread, yielding to the event loop between chunks. */
export async function parseOnThisThread (
  ranges: readonly CsvRange[], options: WorkerOptions, onBytes: (bytes: number) => void
): Promise<ParsedRanges> {
  const builder = new PageViewBatchBuilder(options.expectedVisitors)
  const results: RangeResult[] = []
  for (const range of ranges) {
    const parser = new RangeParser(range, builder, options)
    let reported = 0
    while (await parser.step()) {
      onBytes(parser.bytesRead - reported)
      reported = parser.bytesRead
    }
    onBytes(parser.bytesRead - reported)
    results.push(parser.result())
  }
  return { batches: [builder.finish()], results }
}

/** Parses the ranges on up to `workerCount` worker threads, each taking the next range when it is free. */
export function parseOnWorkers (
  ranges: readonly CsvRange[], options: WorkerOptions, workerCount: number, onBytes: (bytes: number) => void
): Promise<ParsedRanges> {
  const queue = [...ranges]
  const batches: PageViewBatch[] = []
  const results: RangeResult[] = []
  const workers = Array.from({ length: Math.min(workerCount, ranges.length) }, () =>
    new Worker(WORKER_URL, { workerData: options }))

  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      for (const worker of workers) void worker.terminate()
      reject(error)
    }
    const sendNext = (worker: Worker): void => {
      const range = queue.shift()
      const message: ToWorker = range ? { type: 'parse', range } : { type: 'finish' }
      worker.postMessage(message)
    }
    for (const worker of workers) {
      worker.on('error', fail)
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'progress':
            onBytes(message.bytes)
            break
          case 'parsed':
            results.push(message.result)
            sendNext(worker)
            break
          case 'failed':
            fail(new CsvFormatError(message.message))
            break
          case 'batch':
            batches.push(message.batch)
            void worker.terminate()
            if (batches.length === workers.length) resolve({ batches, results })
        }
      })
      sendNext(worker)
    }
  })
}
