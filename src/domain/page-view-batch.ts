// Columnar page views with their own dictionaries: what parsing one file produces, before the store merges it.

/** Page views of one file as columns; ids index that batch's own dictionaries. */
export interface PageViewBatch {
  readonly siteUrls: string[]
  readonly visitorIds: string[]
  readonly siteColumn: Uint32Array
  readonly visitorColumn: Uint32Array
  readonly timestampColumn: Float64Array
}

const INITIAL_CAPACITY = 1024

/** Interns ids and appends rows into columns grown geometrically; no object is kept per row. */
export class PageViewBatchBuilder {
  readonly #siteIdByUrl = new Map<string, number>()
  readonly #visitorIdByName = new Map<string, number>()
  readonly #siteUrls: string[] = []
  readonly #visitorIds: string[] = []
  #siteColumn = new Uint32Array(INITIAL_CAPACITY)
  #visitorColumn = new Uint32Array(INITIAL_CAPACITY)
  #timestampColumn = new Float64Array(INITIAL_CAPACITY)
  #length = 0

  get length (): number {
    return this.#length
  }

  add (visitorId: string, siteUrl: string, timestamp: number): void {
    if (this.#length === this.#timestampColumn.length) this.#grow()
    const row = this.#length++
    this.#siteColumn[row] = intern(siteUrl, this.#siteIdByUrl, this.#siteUrls)
    this.#visitorColumn[row] = intern(visitorId, this.#visitorIdByName, this.#visitorIds)
    this.#timestampColumn[row] = timestamp
  }

  /** Returns the columns trimmed to the rows added. */
  finish (): PageViewBatch {
    const length = this.#length
    return {
      siteUrls: this.#siteUrls,
      visitorIds: this.#visitorIds,
      siteColumn: this.#siteColumn.slice(0, length),
      visitorColumn: this.#visitorColumn.slice(0, length),
      timestampColumn: this.#timestampColumn.slice(0, length)
    }
  }

  #grow (): void {
    const capacity = this.#timestampColumn.length * 2
    this.#siteColumn = grown(this.#siteColumn, new Uint32Array(capacity))
    this.#visitorColumn = grown(this.#visitorColumn, new Uint32Array(capacity))
    this.#timestampColumn = grown(this.#timestampColumn, new Float64Array(capacity))
  }
}

function intern (value: string, idByValue: Map<string, number>, values: string[]): number {
  let id = idByValue.get(value)
  if (id === undefined) {
    id = values.length
    idByValue.set(value, id)
    values.push(value)
  }
  return id
}

function grown<T extends Uint32Array | Float64Array> (column: T, larger: T): T {
  larger.set(column)
  return larger
}
