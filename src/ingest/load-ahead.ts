// A load of the CSV files begun at the process's first moment (src/server.ts), when there is no saved store to
// read instead: the parse then runs while the main thread imports Fastify and the app and starts the server, as
// the cache's read-ahead does for a restart. The memory backend takes it over once the app is set up.
import type { CsvFile } from './data-folder.js'
import { loadDataset, type LoadedDataset, type LoadOptions, type LoadProgress } from './dataset.js'

export class LoadAhead {
  /** The files being loaded: the backend's, so that what it saves describes what was loaded. */
  readonly files: readonly CsvFile[]
  readonly #loaded: Promise<LoadedDataset>
  readonly #stop = new AbortController()
  #progress: LoadProgress | undefined
  #onProgress: ((progress: LoadProgress) => void) | undefined

  constructor (files: readonly CsvFile[], options: Omit<LoadOptions, 'onProgress' | 'signal'>) {
    this.files = files
    this.#loaded = loadDataset(files, {
      ...options,
      onProgress: progress => {
        this.#progress = progress
        this.#onProgress?.(progress)
      },
      signal: this.#stop.signal
    })
    // A failure is for whoever takes the load; until then it is no unhandled rejection.
    this.#loaded.catch(() => {})
  }

  /** The load, reporting to `onProgress` from now on (at once, where it stands) and stopped by `signal`. */
  take (onProgress: (progress: LoadProgress) => void, signal: AbortSignal): Promise<LoadedDataset> {
    this.#onProgress = onProgress
    if (this.#progress !== undefined) onProgress(this.#progress)
    const stop = (): void => this.stop(signal.reason)
    if (signal.aborted) stop()
    else signal.addEventListener('abort', stop, { once: true })
    return this.#loaded
  }

  /** Stops the load, its workers with it: the load rejects with `reason`. */
  stop (reason?: unknown): void {
    this.#stop.abort(reason)
  }
}
