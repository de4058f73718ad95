// A worker thread that parses the CSV ranges it is sent into one batch, and hands the batch back at the end.
import { parentPort, workerData } from 'node:worker_threads'
import { RangeParser, type CsvRange, type RangeResult } from './csv-range.js'
import type { WorkerOptions } from './parallel-parse.js'
import { PageViewBatchBuilder, type PageViewBatch } from './page-view-batch.js'

export type ToWorker = { type: 'parse', range: CsvRange } | { type: 'finish' }
export type FromWorker =
  | { type: 'progress', bytes: number }
  | { type: 'parsed', result: RangeResult }
  | { type: 'batch', batch: PageViewBatch }
  | { type: 'failed', message: string }

const options = workerData as WorkerOptions
const builder = new PageViewBatchBuilder(options.expectedVisitors)
const port = parentPort!
const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer)

async function parse (range: CsvRange): Promise<void> {
  const parser = new RangeParser(range, builder, options)
  let reported = 0
  while (await parser.step()) {
    send({ type: 'progress', bytes: parser.bytesRead - reported })
    reported = parser.bytesRead
  }
  send({ type: 'progress', bytes: parser.bytesRead - reported })
  send({ type: 'parsed', result: parser.result() })
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'parse') {
    parse(message.range).catch((error: Error) => send({ type: 'failed', message: error.message }))
    return
  }
  const batch = builder.finish()
  send({ type: 'batch', batch }, [
    ...[batch.sites, batch.visitors].flatMap(keys => [keys.bytes.buffer, keys.ends.buffer, keys.slots.buffer] as ArrayBuffer[]),
    batch.siteRowCounts.buffer as ArrayBuffer,
    batch.siteColumn.buffer as ArrayBuffer,
    batch.visitorColumn.buffer as ArrayBuffer,
    batch.timestampColumn.buffer as ArrayBuffer
  ])
})
