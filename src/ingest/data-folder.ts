// A data folder's CSV files: what a start lists before it reads the cache or parses anything, kept apart from
// the parse so that a start from the cache never loads the parse's modules.
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface CsvFile {
  path: string
  bytes: number
  /** Its last modification, with its size what tells a cached store that the file is unchanged. */
  mtimeMs: number
  /** A named pipe: read once, in order, with no size known in advance. */
  pipe: boolean
}

/** A data folder that is missing, unreadable or holds no CSV file. */
export class DataDirError extends Error {
  override name = 'DataDirError'
}

/** The `*.csv` files (or named pipes, such as a decompressor's output) directly in `dir`, sorted by name. */
export async function listCsvFiles (dir: string): Promise<CsvFile[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (error) {
    throw new DataDirError(`cannot read data folder ${dir}: ${(error as Error).message}`)
  }
  const csvNames = names.filter(name => name.toLowerCase().endsWith('.csv')).sort()
  const files: CsvFile[] = []
  for (const name of csvNames) {
    const path = join(dir, name)
    const info = await stat(path)
    if (info.isFile() || info.isFIFO()) files.push({ path, bytes: info.size, mtimeMs: info.mtimeMs, pipe: info.isFIFO() })
  }
  if (files.length === 0) throw new DataDirError(`no .csv file in data folder ${dir}`)
  return files
}
