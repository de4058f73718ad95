// The benchmark's parts: start Sessionizer and wait until every site is warm, collect its answers, measure
// HTTP throughput, and run the DuckDB peer in a process of its own.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import Papa from 'papaparse'
import { PROJECT_ROOT } from '../../src/project-root.js'
import { medianOfSorted } from '../../src/domain/sessions.js'
import type { DatasetAnswers } from './duckdb-sessions.js'

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/** Peak resident memory of a running process, from the kernel. */
export function peakRssBytes (pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

export interface ServerProcess {
  child: ChildProcess
  baseUrl: string
  stop: () => Promise<void>
}

/** The processes a process started, from the kernel: `npm start`'s is the server (the start script execs it). */
export function childPids (pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
}

/** The processes the bench has started and that have not exited: servers, npm starts, autocannon, DuckDB's peer. */
const started = new Set<ChildProcess>()

/** Spawns a process the bench keeps track of until it exits. */
function spawnTracked (command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options)
  started.add(child)
  child.once('exit', () => started.delete(child))
  return child
}

/**
 * Sends SIGTERM to every process the bench started that is still running, each by its own pid (npm passes it on
 * to the server), and returns the ones it sent it to: for a bench stopped by a signal, which would otherwise
 * leave them running, holding their memory and ports. At once, so that the bench can exit right after.
 */
export function stopStartedProcesses (): ChildProcess[] {
  const running = [...started]
  for (const child of running) child.kill('SIGTERM')
  return running
}

/** Starts a compiled Node program listening on `port`, and waits until `readyPath` answers at all. */
export function startProcess (args: string[], env: Record<string, string>, port: number, readyPath: string): Promise<ServerProcess> {
  const child = spawnTracked(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  return whenAnswering(child, args.join(' '), port, readyPath)
}

/** Runs `npm start` in `cwd` as a user does, listening on `port`, and waits until `readyPath` answers at all. */
export function startNpmStart (env: NodeJS.ProcessEnv, port: number, readyPath: string, cwd = PROJECT_ROOT): Promise<ServerProcess> {
  const child = spawnTracked('npm', ['start', '--silent'], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] })
  return whenAnswering(child, 'npm start', port, readyPath)
}

/** The median of some timings (in any order). */
export function medianOf (values: readonly number[]): number {
  return medianOfSorted(Float64Array.from(values).sort())
}

/**
 * How long Node itself takes here to start and exit (`node -e 0`, the median of `times`), with `env` over this
 * process's environment (a variable set to undefined is left out): what every Node process pays before any code.
 */
export function nodeStartMs (env: NodeJS.ProcessEnv, times: number): number {
  const taken = Array.from({ length: times }, () => {
    const started = performance.now()
    const { status, stderr } = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, ...env }, encoding: 'utf8' })
    if (status !== 0) throw new Error(`node -e 0 failed: ${stderr.trim()}`)
    return performance.now() - started
  })
  return medianOf(taken)
}

/**
 * Writes, into `dir`, a package whose `npm start` runs the compiled bare Fastify route (`bareServer`) on $PORT:
 * started as Sessionizer is, it shows what npm, Node and Fastify alone take on this machine at this moment.
 */
export function writeBareStartPackage (dir: string, bareServer: string): string {
  const start = `exec node ${JSON.stringify(bareServer)} "$PORT"`
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bare-start', private: true, scripts: { start } }, null, 2))
  return dir
}

/**
 * Asks `attempt` every `intervalMs` (a number, or a function asked before each wait) until it answers something.
 * One loop for every wait on a server, so that whether a given wait ever waits (a small cache file may be saved
 * before the first look) changes nothing else.
 */
async function poll<T> (intervalMs: number | (() => number), attempt: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const answer = await attempt()
    if (answer !== undefined) return answer
    await sleep(typeof intervalMs === 'number' ? intervalMs : intervalMs())
  }
}

async function whenAnswering (child: ChildProcess, name: string, port: number, readyPath: string): Promise<ServerProcess> {
  const baseUrl = `http://127.0.0.1:${port}`
  const exited = new Promise(resolve => child.once('exit', resolve))
  // A process just spawned is not listening yet: the first attempts always fail, and the poll waits.
  await poll(10, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`)
    return await fetch(baseUrl + readyPath).then(() => true, () => undefined)
  })
  return { child, baseUrl, stop: async () => { child.kill('SIGTERM'); await exited } }
}

/** What /health says once the data is loaded (the fields the bench reads). */
export interface LoadedHealth {
  ready_at: string, source: string, load_ms: number, parse_ms: number, build_ms: number, warm_ms: number
  rows: number, sites: number, visitors: number, files_total: number
}

/**
 * Polls /health until the data is loaded; returns what it then says. Every tenth of a second while CSV files are
 * read: polled every 10 ms, the requests took so much CPU from the load that a 10 M-row cold start on two cores
 * took 0.6–1 s longer. Every `finishingPollMs` once every byte is read (the build, warm-up, or a restart's read of
 * the cache folder, which reads no CSV bytes), so that the first 200 is seen when a client could have had it.
 */
export async function waitUntilLoaded (baseUrl: string, finishingPollMs = 100): Promise<LoadedHealth> {
  let intervalMs = 100
  return await poll(() => intervalMs, async () => {
    const response = await fetch(`${baseUrl}/health`)
    if (response.status === 200) return await response.json() as LoadedHealth
    if (response.status !== 503) throw new Error(`/health answered ${response.status}: ${await response.text()}`)
    const { bytes_done: done, bytes_total: total } = await response.json() as { bytes_done: number, bytes_total: number }
    if (done >= total) intervalMs = finishingPollMs
  })
}

/** Polls /health until the loaded data is saved to the cache folder (or that failed, or there is none): its cache_file then. */
export function waitUntilCacheSettled (baseUrl: string): Promise<string> {
  return poll(20, async () => {
    const health = await (await fetch(`${baseUrl}/health`)).json() as { cache_file: string }
    if (health.cache_file !== 'saving') return health.cache_file
  })
}

/** Every site's answers: the sites listed a thousand at a time, then each one's /site_stats, a few requests at a time. */
export async function collectSiteAnswers (baseUrl: string, concurrency = 8): Promise<DatasetAnswers['sites']> {
  const sites: { site_url: string }[] = []
  for (let total = Infinity; sites.length < total;) {
    const page = await (await fetch(`${baseUrl}/sites?limit=1000&offset=${sites.length}`)).json() as { total: number, sites: { site_url: string }[] }
    sites.push(...page.sites)
    total = page.total
  }
  const answers: DatasetAnswers['sites'] = new Map()
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < sites.length) {
      const site = sites[next++].site_url
      const stats = await (await fetch(`${baseUrl}/site_stats?site_url=${encodeURIComponent(site)}`)).json() as
        { num_sessions: number, median_session_length: number }
      answers.set(site, { sessions: stats.num_sessions, median: stats.median_session_length })
    }
  }))
  return answers
}

/** Distinct sites of each sampled visitor that Sessionizer knows. */
export async function collectVisitorAnswers (baseUrl: string, visitorSample: readonly string[]): Promise<DatasetAnswers['visitors']> {
  const answers: DatasetAnswers['visitors'] = new Map()
  for (const visitor of visitorSample) {
    const response = await fetch(`${baseUrl}/num_unique_visited_sites?visitor_id=${encodeURIComponent(visitor)}`,
      { headers: { accept: 'application/json' } })
    if (response.status === 200) {
      answers.set(visitor, ((await response.json()) as { num_unique_visited_sites: number }).num_unique_visited_sites)
    }
  }
  return answers
}

/** Sessionizer's answers for every site and for the sampled visitors. */
export async function collectSessionizerAnswers (baseUrl: string, visitorSample: readonly string[]): Promise<DatasetAnswers> {
  return { sites: await collectSiteAnswers(baseUrl), visitors: await collectVisitorAnswers(baseUrl, visitorSample) }
}

export interface Throughput {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  /** The server's CPU time (user and system) per request answered, when its pid was given. */
  cpuMicrosPerRequest?: number
}

/** A process's CPU time so far (user and system), in microseconds, from /proc (its clock ticks are 1/100 s). */
export function cpuMicros (pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10_000
}

/** The whole machine's CPU time so far, in clock ticks, and the part of it the hypervisor gave to other guests. */
export interface MachineTicks { total: number, steal: number }

/**
 * From /proc/stat's first line: on a virtual machine, "steal" is time this machine's CPUs were ready to run
 * and the host ran something else. A bench during which it is high measured the host's neighbours as well.
 */
export function machineTicks (): MachineTicks {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  // user, nice, system, idle, iowait, irq, softirq, steal (guest time is counted in user already).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, steal }
}

/** The share of the machine's CPU time taken by steal between two readings (0 when no time passed). */
export function stealShare (before: MachineTicks, after: MachineTicks): number {
  const total = after.total - before.total
  return total > 0 ? (after.steal - before.steal) / total : 0
}

/** Each probe's cycle, made once (filling it touches every page of it, which would be measured as well). */
const probeCycles = new Map<number, Uint32Array>()
/** Where the last probe's walk ended. */
export let probeEnd = 0

/** A cycle through `length` places in random order: cycle[i] is the place after i (Sattolo's shuffle). */
function randomCycle (length: number): Uint32Array {
  const cycle = new Uint32Array(length)
  for (let i = 0; i < length; i++) cycle[i] = i
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * i)
    const swapped = cycle[i]
    cycle[i] = cycle[j]
    cycle[j] = swapped
  }
  return cycle
}

/**
 * The time of one random read from memory, in ns: `steps` reads over `bytes` in random order, each at the place
 * the read before it gave, so that none can start before the last ends and few find their line in a cache. The
 * parse's dictionaries wait on such reads, which the host's other guests slow without taking this machine's CPU
 * time: steal does not show it, this does.
 */
export function memoryLatencyNs (bytes = 64 << 20, steps = 1 << 21): number {
  const length = bytes >>> 2
  let cycle = probeCycles.get(length)
  if (cycle === undefined) {
    cycle = randomCycle(length)
    probeCycles.set(length, cycle)
  }
  let place = Math.floor(Math.random() * length)
  const started = performance.now()
  for (let step = 0; step < steps; step++) place = cycle[place]
  const ns = ((performance.now() - started) * 1e6) / steps
  // Kept, so that no optimizer drops the walk as unused.
  probeEnd = place
  return ns
}

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js')

/**
 * Drives `url` with autocannon for `seconds`, autocannon running in a process of its own: sharing the
 * benchmark's event loop, it measured a third less against one server than against another. With the
 * server's pid, also the CPU time it spent per request: steadier than req/s on a shared machine, where
 * autocannon and the servers compete for the same cores.
 */
export async function measureThroughput (url: string, seconds: number, connections = 32, serverPid?: number): Promise<Throughput> {
  const cpuBefore = serverPid === undefined ? 0 : cpuMicros(serverPid)
  const child = spawnTracked(process.execPath, [AUTOCANNON, '--json', '-c', String(connections), '-d', String(seconds), url],
    { stdio: ['ignore', 'pipe', 'ignore'] })
  let output = ''
  child.stdout!.on('data', chunk => { output += chunk })
  await new Promise(resolve => child.once('exit', resolve))
  const result = JSON.parse(output) as
    { requests: { average: number, total: number }, latency: { p50: number, p99: number }, errors: number, non2xx: number }
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.non2xx,
    ...(serverPid !== undefined && { cpuMicrosPerRequest: (cpuMicros(serverPid) - cpuBefore) / Math.max(result.requests.total, 1) })
  }
}

export interface PeerRun {
  ms: number
  peakRssBytes: number
  answers: DatasetAnswers
}

/** Runs the DuckDB peer as a child process (compiled script `duckdbScript`) and reads its answers. */
export async function runDuckdbProcess (duckdbScript: string, dir: string, timeoutSeconds: number, threads: number,
  visitorSample: readonly string[]): Promise<PeerRun> {
  const child = spawnTracked(process.execPath, [duckdbScript, dir, String(timeoutSeconds), String(threads)],
    { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdin!.end(visitorSample.join('\n'))
  let output = ''
  child.stdout!.on('data', chunk => { output += chunk })
  const code = await new Promise(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`DuckDB peer exited with ${code}`)
  const parsed = JSON.parse(output) as { ms: number, peakRssBytes: number, sites: [string, { sessions: number, median: number }][], visitors: [string, number][] }
  return { ms: parsed.ms, peakRssBytes: parsed.peakRssBytes, answers: { sites: new Map(parsed.sites), visitors: new Map(parsed.visitors) } }
}

/** Each site's /site_stats asked once, one after another, as a dashboard's first look does: p50 and p99 in ms. */
export async function firstAnswerLatency (baseUrl: string, sites: readonly string[]): Promise<{ p50Ms: number, p99Ms: number }> {
  const times: number[] = []
  for (const site of sites) {
    const started = performance.now()
    const response = await fetch(`${baseUrl}/site_stats?site_url=${encodeURIComponent(site)}`)
    if (response.status !== 200) throw new Error(`/site_stats of ${site} answered ${response.status}: ${await response.text()}`)
    await response.arrayBuffer()
    times.push(performance.now() - started)
  }
  times.sort((a, b) => a - b)
  const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] * 10) / 10
  return { p50Ms: at(50), p99Ms: at(99) }
}

/** The most bytes read at each place a visitor id is sampled from: a line longer than this is passed over. */
const SAMPLE_WINDOW_BYTES = 64 * 1024

/**
 * Up to `count` distinct visitor ids of the files, for a bench to ask about: from lines at places spread evenly
 * over each file (the first whole line at or after each place), so that a large folder is not read whole.
 */
export async function sampleVisitorIds (files: readonly string[], count: number): Promise<string[]> {
  const ids = new Set<string>()
  const placesPerFile = Math.ceil((count * 2) / Math.max(files.length, 1))
  const window = Buffer.alloc(SAMPLE_WINDOW_BYTES)
  for (const file of files) {
    const handle = await open(file)
    try {
      const { size } = await handle.stat()
      for (let place = 0; place < placesPerFile && ids.size < count; place++) {
        const position = Math.floor((place * size) / placesPerFile)
        const { bytesRead } = await handle.read(window, 0, SAMPLE_WINDOW_BYTES, position)
        const text = window.toString('utf8', 0, bytesRead)
        // A place inside a line starts the sample at the next one.
        const lineStart = position === 0 ? 0 : text.indexOf('\n') + 1
        if (lineStart === 0 && position > 0) continue
        const lineEnd = text.indexOf('\n', lineStart)
        if (lineEnd === -1) continue
        const [fields] = Papa.parse<string[]>(text.slice(lineStart, lineEnd).replace(/\r$/, '')).data
        const id = fields?.[0]
        if (id && id !== 'visitor_id' && fields.length === 4) ids.add(id)
      }
    } finally {
      await handle.close()
    }
  }
  return [...ids]
}
