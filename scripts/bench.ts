// npm run bench [-- --quick | --sizes 1M,10M | --data DIR,…] [--repeat N] [--log-level silent] [--clickhouse-shards 1,2 | 0]:
// Sessionizer against DuckDB and a bare Fastify route, on generated data or on folders of CSV files. Prints, for
// each dataset, time to ready, peak RSS, rows/s, warm-up, cached-query throughput and latency, DuckDB's time and
// RSS for the same answers, whether the answers agree, and the ratios against the targets; then the same service
// on a local ClickHouse cluster of 1 and 2 shards (when clickhouse-server is installed): ingest rows/s, time to
// ready, first-answer latency, cached throughput. With --repeat, each set is benched N times over, and each
// ratio's median is printed with every run's value: one run on a shared machine can be a fifth off.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, constants as osConstants, tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { PROJECT_ROOT } from '../src/project-root.js'
import { listCsvFiles } from '../src/ingest/data-folder.js'
import { generatePageViews, DEFAULT_GENERATOR_OPTIONS, type GeneratorOptions } from './lib/page-view-generator.js'
import { compareAnswers } from './lib/duckdb-sessions.js'
import { medianOfSorted } from '../src/domain/sessions.js'
import { CLICKHOUSE_INSTALLED, clickhouseScriptOrThrow } from './lib/local-cluster.js'
import {
  childPids, collectSessionizerAnswers, collectSiteAnswers, collectVisitorAnswers, firstAnswerLatency, freePort, machineTicks, measureThroughput, medianOf, memoryLatencyNs,
  nodeStartMs, peakRssBytes, runDuckdbProcess, sampleVisitorIds, startNpmStart, startProcess, stealShare, stopStartedProcesses, waitUntilCacheSettled, waitUntilLoaded, writeBareStartPackage,
  type LoadedHealth, type ServerProcess, type Throughput
} from './lib/bench-lib.js'

/** A set's size and shape: what the generator is asked for, or what a benched folder's cold start reports. */
interface Dataset { name: string, rows: number, sites: number, visitors: number, files: number }
/** What a run benches: a folder of CSV files, and visitor ids to ask about (some may be absent). */
interface BenchData { name: string, dir: string, visitorSample: string[] }

const DATASETS: Dataset[] = [
  { name: '1M', rows: 1_000_000, sites: 100, visitors: 70_000, files: 4 },
  { name: '10M', rows: 10_000_000, sites: 1_000, visitors: 700_000, files: 10 },
  { name: '30M', rows: 30_000_000, sites: 1_000, visitors: 2_100_000, files: 30 }
]
const TIMEOUT_SECONDS = 1800
const THROUGHPUT_ROUNDS = 5
const VISITOR_SAMPLE = 1000
const DIST = join(PROJECT_ROOT, 'dist')
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`

/** What the bench must undo when it is done with something, or when a signal stops it first: by key (a folder). */
const cleanUps = new Map<string, () => void>()

/** Runs the clean-up registered under `key`, once. */
function cleanUp (key: string): void {
  const undo = cleanUps.get(key)
  cleanUps.delete(key)
  undo?.()
}

/**
 * A new temporary folder, removed by cleanUp(folder), or when the bench is stopped; `beforeRemoving` first, when
 * given, to stop what runs from the folder.
 */
function temporaryFolder (prefix: string, beforeRemoving?: (folder: string) => void): string {
  const folder = mkdtempSync(join(tmpdir(), prefix))
  cleanUps.set(folder, () => {
    try {
      beforeRemoving?.(folder)
    } finally {
      rmSync(folder, { recursive: true, force: true })
    }
  })
  return folder
}

// Stopped by a signal (sent to the bench alone: Ctrl-C reaches the whole process group), the bench stops the
// servers, npm starts and peers it started, and removes what it made, rather than leaving them behind.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the processes the bench started (${stopStartedProcesses().length} running) and removing its folders`)
    for (const key of [...cleanUps.keys()]) {
      try {
        cleanUp(key)
      } catch (error) {
        console.error(`could not clean up ${key}: ${(error as Error).message}`)
      }
    }
    process.exit(128 + osConstants.signals[signal])
  })
}

function median (rounds: Throughput[]): Throughput {
  return [...rounds].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)[rounds.length >> 1]
}

function medianCpu (rounds: Throughput[]): number {
  return rounds.map(round => round.cpuMicrosPerRequest!).sort((a, b) => a - b)[rounds.length >> 1]
}

/** The set's folder, generated with the project's generator the first time it is asked for. */
function generatedDir (dataset: Dataset): string {
  const options: GeneratorOptions = {
    ...DEFAULT_GENERATOR_OPTIONS, rows: dataset.rows, sites: dataset.sites, visitors: dataset.visitors,
    files: dataset.files, days: 30, seed: 1, out: join(PROJECT_ROOT, 'bench-data', `${dataset.name}-v${dataset.visitors}-s${dataset.sites}-f${dataset.files}`)
  }
  if (!existsSync(join(options.out, `page_views_${dataset.files}.csv`))) {
    console.log(`generating ${dataset.name} rows into ${options.out} …`)
    generatePageViews(options)
  }
  return options.out
}

/** A generated set, with visitor ids spread over its whole range (the generator names them visitor_1 up). */
function generated (dataset: Dataset): BenchData {
  const visitorSample = Array.from({ length: VISITOR_SAMPLE }, (_, i) => `visitor_${1 + Math.floor((i * dataset.visitors) / VISITOR_SAMPLE)}`)
  return { name: dataset.name, dir: generatedDir(dataset), visitorSample }
}

/**
 * A folder of someone else's CSV files, the ones the server reads, with visitor ids read from places spread over
 * them (not from named pipes: what the sample read, the server would not see).
 */
async function folder (dir: string): Promise<BenchData> {
  const files = (await listCsvFiles(dir)).filter(file => !file.pipe).map(file => file.path)
  return { name: basename(resolve(dir)), dir, visitorSample: await sampleVisitorIds(files, VISITOR_SAMPLE) }
}

/** How often /health is asked once every CSV byte is read, so that its first 200 is seen when it comes. */
const FINISHING_POLL_MS = 20

/**
 * Runs `npm start` as a user does (npm, the check that the build is up to date, then the server) on a free port,
 * and waits for /health 200: with WARM_CACHE (the default), every site's session table is built by then. Timed to
 * the first 200 received, which is what a client waits for: /health's ready_at can be earlier, by as long as the
 * server keeps its event loop busy just after (it was 0.1–0.35 s on 25,000 sites, before e2eb3c9).
 */
async function startReady (env: NodeJS.ProcessEnv) {
  const port = await freePort()
  const spawnedAt = Date.now()
  const ticks = machineTicks()
  const started = performance.now()
  const server = await startNpmStart({ ...env, PORT: String(port) }, port, '/health')
  const listeningMs = performance.now() - started
  const health = await waitUntilLoaded(server.baseUrl, FINISHING_POLL_MS)
  const readyMs = performance.now() - started
  const steal = stealShare(ticks, machineTicks())
  // Both clocks are this machine's.
  const readyAtMs = Date.parse(health.ready_at) - spawnedAt
  return { server, started, readyMs, steal, times: { ...health, listeningMs, readyAtMs } }
}

/** The bare Fastify route, peer of the cached answers and of the restart. */
const BARE_SERVER = join(DIST, 'scripts', 'lib', 'bare-server.js')
/** A package whose `npm start` runs only the bare Fastify route: the restart's peer. */
const BARE_START_PACKAGE = writeBareStartPackage(temporaryFolder('sessionizer-bench-bare-'), BARE_SERVER)
/** Bare starts timed a run, one after the other; their median is kept. */
const BARE_STARTS = 3

/**
 * `npm start` of the bare Fastify route, timed to its first answer as a Sessionizer start is: what npm, Node and
 * a plain Fastify server (imported from node_modules, without Sessionizer's bundle and code cache) take on this
 * machine at this moment. The restart's target is absolute, while what any start costs here moves with the
 * machine (the part of a restart before any data took 0.54-0.56 s one day, 0.73-0.93 s the next): a peer
 * measured in the same run.
 */
async function bareStartMs (): Promise<number> {
  const times = []
  for (let start = 0; start < BARE_STARTS; start++) {
    const port = await freePort()
    const started = performance.now()
    const bare = await startNpmStart({ PORT: String(port) }, port, '/constant', BARE_START_PACKAGE)
    times.push(performance.now() - started)
    await bare.stop()
  }
  return medianOf(times)
}

/**
 * NODE_EXTRA_CA_CERTS names a file of certificates to trust besides Node's own. Node 20 reads and parses them, and
 * its own, as each process starts, and `npm start` starts two processes: npm, then the server, which npm start
 * hands the variable to only for the ClickHouse backend (the memory backend makes no TLS connection). This
 * machine and its CI set it, to a file of 144 certificates; where it is set, the bench also times Node's start
 * without it, and a restart without it (npm's own process without it too), as on a machine that does not set it.
 */
const WITHOUT_EXTRA_CA_CERTS: NodeJS.ProcessEnv | undefined = process.env.NODE_EXTRA_CA_CERTS === undefined ? undefined : { NODE_EXTRA_CA_CERTS: undefined }
/** `node -e 0` timed this many times each way; the median is kept. */
const NODE_STARTS = 5

/** Restarts timed without NODE_EXTRA_CA_CERTS, one after the other, as many as the restart's peer; their median is kept. */
const RESTARTS_WITHOUT_CERTS = BARE_STARTS

/**
 * Node's own start with and without NODE_EXTRA_CA_CERTS, and restarts without it from the cache folder in `env`:
 * the median of each, and where each restart's data came from.
 */
async function startsWithoutExtraCaCerts (env: NodeJS.ProcessEnv, withoutCerts: NodeJS.ProcessEnv) {
  const restarts = []
  for (let start = 0; start < RESTARTS_WITHOUT_CERTS; start++) {
    const restart = await startReady({ ...env, ...withoutCerts })
    await restart.server.stop()
    restarts.push(restart)
  }
  return {
    restartMs: medianOf(restarts.map(restart => restart.readyMs)),
    restartSources: restarts.map(restart => restart.times.source),
    nodeMs: nodeStartMs(withoutCerts, NODE_STARTS),
    nodeWithCertsMs: nodeStartMs({}, NODE_STARTS)
  }
}

/** Where a start's time went (/health's own figures, and when the server first answered at all), and what it loaded. */
type StartTimes = LoadedHealth & { listeningMs: number, readyAtMs: number }

/** The load runs beside the server's own start-up: it begins when the sessions plugin registers, before listening. */
function timeGoes ({ listeningMs, load_ms: load, parse_ms: parse, build_ms: build, warm_ms: warm, readyAtMs }: StartTimes): string {
  const parts = parse + build > 0 ? ` (parse ${seconds(parse)}, build ${seconds(build)})` : ' (read from the cache folder)'
  return `answering at ${seconds(listeningMs)} (npm, Node, imports, plugins), data loaded in ${seconds(load)}${parts}, warm-up ${seconds(warm)}, ` +
    `ready by its own clock at ${seconds(readyAtMs)}`
}

async function benchmark ({ name, dir, visitorSample: sample }: BenchData, throughputSeconds: number, logLevel: string | undefined) {
  const bytes = readdirSync(dir).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0)

  // A cache folder of this run's own: the first start is cold, the second restarts from what the first saved.
  const cacheDir = temporaryFolder('sessionizer-bench-')
  const env = { DATA_DIR: dir, CACHE_DIR: cacheDir, ...(logLevel !== undefined && { LOG_LEVEL: logLevel }) }

  const memoryBeforeCold = memoryLatencyNs()
  const cold = await startReady(env)
  const { rows, sites, visitors, files_total: files } = cold.times
  const dataset: Dataset = { name, rows, sites, visitors, files }
  const siteAnswers = await collectSiteAnswers(cold.server.baseUrl)
  const warmUpMs = performance.now() - cold.started - cold.readyMs
  const withVisitors = { sites: siteAnswers, visitors: await collectVisitorAnswers(cold.server.baseUrl, sample) }
  const oursRss = peakRssBytes(childPids(cold.server.child.pid!)[0])
  const saved = await waitUntilCacheSettled(cold.server.baseUrl)
  const savedMs = performance.now() - cold.started
  await cold.server.stop()
  const cacheBytes = readdirSync(cacheDir).reduce((sum, name) => sum + statSync(join(cacheDir, name)).size, 0)

  const restart = await startReady(env)
  const readyMs = cold.readyMs
  const restartMs = restart.readyMs
  const server = restart.server
  const restartSource = restart.times.source
  const restartRss = peakRssBytes(childPids(server.child.pid!)[0])
  const restartProblems = compareAnswers(withVisitors, await collectSessionizerAnswers(server.baseUrl, sample), sample)
    .map(problem => `after the restart: ${problem}`)
  const bareStart = await bareStartMs()
  const withoutCerts = WITHOUT_EXTRA_CA_CERTS && await startsWithoutExtraCaCerts(env, WITHOUT_EXTRA_CA_CERTS)
  const firstSite = [...siteAnswers.keys()][0]
  const { ours, sample: onSample, bareThroughput, cpu } = await cachedThroughput(server, firstSite, throughputSeconds)
  await server.stop()
  // Every site's first answer with nothing cached: the store read back, no warm-up.
  const { server: unwarmed } = await startReady({ ...env, WARM_CACHE: '0' })
  const firstAnswer = await firstAnswerLatency(unwarmed.baseUrl, [...siteAnswers.keys()])
  await unwarmed.stop()
  cleanUp(cacheDir)

  const memoryBeforeDuck = memoryLatencyNs()
  const duckTicks = machineTicks()
  const duck = await runDuckdbProcess(join(DIST, 'scripts', 'lib', 'duckdb-process.js'), dir, TIMEOUT_SECONDS,
    availableParallelism(), sample)
  const steal = { cold: cold.steal, restart: restart.steal, duck: stealShare(duckTicks, machineTicks()) }
  const problems = [...compareAnswers(withVisitors, duck.answers, sample), ...restartProblems]
  if (saved !== 'saved') problems.push(`the first start did not save its data: cache_file ${saved}`)
  if (restartSource !== 'cache') problems.push(`the restart read its data from ${restartSource}, not from the cache`)
  for (const source of withoutCerts?.restartSources ?? []) {
    if (source !== 'cache') problems.push(`a restart without NODE_EXTRA_CA_CERTS read its data from ${source}, not from the cache`)
  }
  return {
    dataset, dir, sample, withVisitors, bytes, readyMs, warmUpMs, oursRss, savedMs, cacheBytes, restartMs, restartRss, bareStart, withoutCerts, ours, onSample,
    bareThroughput, cpu,
    coldTimes: cold.times, restartTimes: restart.times, steal, memoryNs: { cold: memoryBeforeCold, duck: memoryBeforeDuck },
    firstAnswer, duck, problems, sampleFound: withVisitors.visitors.size
  }
}

/**
 * Cached /num_sessions against a bare Fastify route, in alternate short rounds so that both face the same noise.
 * Each round's bare route is a process of its own: two bare processes started a minute apart differed by up to a
 * fifth in CPU a request (14–19 %, as much as the gap measured), so that with one for the whole run the peer was a draw.
 * Between them, the same program holding only the bundled sample (data/): the same route and code, in a process a
 * few tens of MB big, parts what our code costs from what holding the data costs a request on this machine.
 */
async function cachedThroughput (server: ServerProcess, site: string, throughputSeconds: number) {
  const oursUrl = `${server.baseUrl}/num_sessions?site_url=${encodeURIComponent(site)}`
  const oursPid = childPids(server.child.pid!)[0]
  const { server: sample } = await startReady({ DATA_DIR: join(PROJECT_ROOT, 'data'), CACHE_DIR: '' })
  const sampleSites = await collectSiteAnswers(sample.baseUrl)
  const sampleUrl = `${sample.baseUrl}/num_sessions?site_url=${encodeURIComponent([...sampleSites.keys()][0])}`
  const samplePid = childPids(sample.child.pid!)[0]
  const oursRounds: Throughput[] = []
  const sampleRounds: Throughput[] = []
  const bareRounds: Throughput[] = []
  // A round of each first, not counted: the first second of either server is its compiler's, at 1.3-1.5 times
  // the CPU a request takes once warm.
  await measureThroughput(oursUrl, 1)
  await measureThroughput(sampleUrl, 1)
  for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
    const barePort = await freePort()
    const bare = await startProcess([BARE_SERVER, String(barePort)], {}, barePort, '/constant')
    const bareUrl = `${bare.baseUrl}/constant`
    await measureThroughput(bareUrl, 1)
    oursRounds.push(await measureThroughput(oursUrl, throughputSeconds, 32, oursPid))
    sampleRounds.push(await measureThroughput(sampleUrl, throughputSeconds, 32, samplePid))
    bareRounds.push(await measureThroughput(bareUrl, throughputSeconds, 32, bare.child.pid))
    await bare.stop()
  }
  await sample.stop()
  return {
    ours: median(oursRounds),
    sample: median(sampleRounds),
    bareThroughput: median(bareRounds),
    cpu: { ours: medianCpu(oursRounds), sample: medianCpu(sampleRounds), bare: medianCpu(bareRounds) }
  }
}

type Result = Awaited<ReturnType<typeof benchmark>>

/**
 * The same data through the ClickHouse backend on a local cluster of `shards` (a folder and ports of its own,
 * stopped by its pids after): `npm start` ingests and warms; then the answers against the memory backend's, cached
 * throughput, and a restart that loads nothing, without warm-up, for every site's first answer from ClickHouse.
 */
async function benchmarkClickHouse (memory: Result, shards: number, throughputSeconds: number) {
  // The cluster is stopped with its folder: a stop while it starts stops what has started of it.
  const home = temporaryFolder('sessionizer-bench-clickhouse-', folder => clickhouseScriptOrThrow(folder, 'down'))
  const httpPort = 12_000 + shards * 300
  clickhouseScriptOrThrow(home, 'up', '--shards', String(shards), '--http-port', String(httpPort))
  try {
    const env = { BACKEND: 'clickhouse', CLICKHOUSE_URL: `http://127.0.0.1:${httpPort}`, DATA_DIR: memory.dir, CACHE_DIR: '' }
    const cold = await startReady(env)
    const health = await (await fetch(`${cold.server.baseUrl}/health`)).json() as { load_ms: number, warm_ms: number, rows: number }
    const problems = compareAnswers(memory.withVisitors, await collectSessionizerAnswers(cold.server.baseUrl, memory.sample), memory.sample)
    if (health.rows !== memory.dataset.rows) problems.push(`ClickHouse holds ${health.rows} rows, not ${memory.dataset.rows}`)
    const { ours, bareThroughput, cpu } = await cachedThroughput(cold.server, [...memory.withVisitors.sites.keys()][0], throughputSeconds)
    await cold.server.stop()
    const restart = await startReady({ ...env, WARM_CACHE: '0' })
    const firstAnswer = await firstAnswerLatency(restart.server.baseUrl, [...memory.withVisitors.sites.keys()])
    await restart.server.stop()
    return { shards, readyMs: cold.readyMs, ingestMs: health.load_ms, warmMs: health.warm_ms, restartMs: restart.readyMs, firstAnswer, ours, bareThroughput, cpu, problems }
  } finally {
    cleanUp(home)
  }
}

type ClickHouseResult = Awaited<ReturnType<typeof benchmarkClickHouse>>

function reportClickHouse (memory: Result, results: ClickHouseResult[]): void {
  const { rows } = memory.dataset
  const rate = (ms: number) => `${Math.round(rows / ms).toLocaleString('en-US')} K rows/s`
  console.log(`\n| ${memory.dataset.name} | ingest | time to ready | restart (no warm-up) | first /site_stats p50 / p99 | cached /num_sessions | / bare Fastify | answers |`)
  console.log('|---|---:|---:|---:|---:|---:|---:|---|')
  console.log(`| memory | ${rate(memory.readyMs)} (parse and build) | ${seconds(memory.readyMs)} | ${seconds(memory.restartMs)} (cache folder) | ` +
    `${memory.firstAnswer.p50Ms} / ${memory.firstAnswer.p99Ms} ms | ${Math.round(memory.ours.requestsPerSecond)} req/s | ` +
    `${(memory.ours.requestsPerSecond / memory.bareThroughput.requestsPerSecond).toFixed(2)} | DuckDB's |`)
  for (const r of results) {
    console.log(`| ClickHouse, ${r.shards} shard${r.shards > 1 ? 's' : ''} | ${rate(r.ingestMs)} | ${seconds(r.readyMs)} (warm-up ${seconds(r.warmMs)}) | ` +
      `${seconds(r.restartMs)} | ${r.firstAnswer.p50Ms} / ${r.firstAnswer.p99Ms} ms | ${Math.round(r.ours.requestsPerSecond)} req/s | ` +
      `${(r.ours.requestsPerSecond / r.bareThroughput.requestsPerSecond).toFixed(2)} | ` +
      `${r.problems.length === 0 ? 'the memory backend\'s' : `DISAGREE: ${r.problems.slice(0, 3).join('; ')}`} |`)
  }
}

function report (r: Result): void {
  const { dataset } = r
  const rowsPerSecond = dataset.rows / (r.readyMs / 1000)
  console.log(`\n## ${dataset.name}: ${dataset.rows.toLocaleString('en-US')} rows, ${dataset.sites} sites, ` +
    `${dataset.visitors.toLocaleString('en-US')} visitors, ${dataset.files} files, ${mb(r.bytes)}`)
  console.log(`Sessionizer  ready ${seconds(r.readyMs)} (npm start to the first /health 200, every site's table built), ` +
    `peak RSS ${mb(r.oursRss)} (${Math.round(r.oursRss / dataset.rows)} B/row), ` +
    `${Math.round(rowsPerSecond / 1000).toLocaleString('en-US')} K rows/s; then all ${dataset.sites} sites' ` +
    `/site_stats answered over HTTP in ${seconds(r.warmUpMs)}`)
  console.log(`restart      ready ${seconds(r.restartMs)} from the cache folder (${mb(r.cacheBytes)}, saved ` +
    `${seconds(r.savedMs - r.readyMs)} after the cold start was ready), peak RSS ${mb(r.restartRss)}; a bare Fastify ` +
    `route from npm start answered at ${seconds(r.bareStart)} (npm, Node, Fastify), ${seconds(r.restartMs - r.bareStart)} before the restart`)
  if (r.withoutCerts) {
    console.log(`             NODE_EXTRA_CA_CERTS is set here: Node alone starts in ${seconds(r.withoutCerts.nodeWithCertsMs)} with it, ` +
      `${seconds(r.withoutCerts.nodeMs)} without (npm's process reads it, the server's not); without it a restart was ready in ${seconds(r.withoutCerts.restartMs)} ` +
      `(the median of ${RESTARTS_WITHOUT_CERTS})`)
  }
  console.log(`time goes    cold: ${timeGoes(r.coldTimes)}; restart: ${timeGoes(r.restartTimes)}`)
  console.log(`DuckDB       ${seconds(r.duck.ms)}, peak RSS ${mb(r.duck.peakRssBytes)}`)
  const percent = (share: number) => `${Math.round(share * 100)} %`
  console.log(`machine      steal (time the host ran other guests on this machine's CPUs, of all their time): ${percent(r.steal.cold)} ` +
    `during the cold start, ${percent(r.steal.restart)} during the restart, ${percent(r.steal.duck)} during DuckDB's run; ` +
    `a random read from memory took ${r.memoryNs.cold.toFixed(0)} ns just before the cold start, ${r.memoryNs.duck.toFixed(0)} ns before DuckDB's run`)
  console.log(r.problems.length === 0
    ? `answers      agree on all ${dataset.sites} sites and ${VISITOR_SAMPLE} sampled visitors (${r.sampleFound} present)`
    : `answers      DISAGREE in ${r.problems.length} places:\n  ${r.problems.slice(0, 10).join('\n  ')}`)
  console.log(`cached       /num_sessions ${Math.round(r.ours.requestsPerSecond)} req/s (p50 ${r.ours.p50Ms} ms, ` +
    `p99 ${r.ours.p99Ms} ms, ${r.ours.errors} errors); bare Fastify ${Math.round(r.bareThroughput.requestsPerSecond)} req/s ` +
    `(p50 ${r.bareThroughput.p50Ms} ms, p99 ${r.bareThroughput.p99Ms} ms); CPU per request ${r.cpu.ours.toFixed(0)} µs against ` +
    `${r.cpu.bare.toFixed(0)} µs (bare / ours ${(r.cpu.bare / r.cpu.ours).toFixed(2)}, steadier than req/s on a shared machine)`)
  console.log(`             the same program holding data/ only: ${Math.round(r.onSample.requestsPerSecond)} req/s, ` +
    `/ bare ${(r.onSample.requestsPerSecond / r.bareThroughput.requestsPerSecond).toFixed(2)}; CPU per request ${r.cpu.sample.toFixed(0)} µs ` +
    `(bare / it ${(r.cpu.bare / r.cpu.sample).toFixed(2)}): what the code costs in a process that holds next to nothing`)
  // Issue 8's targets: a third of DuckDB's time from 10 M rows on, no slower at 1 M; memory; throughput.
  const timeTarget = dataset.rows >= 10_000_000 ? 0.33 : 1
  console.log(`ratios       time to ready / DuckDB ${(r.readyMs / r.duck.ms).toFixed(2)} (target ≤ ${timeTarget}); ` +
    `peak RSS / DuckDB ${(r.oursRss / r.duck.peakRssBytes).toFixed(2)} (target ≤ 0.35 at 10 M); ` +
    `throughput / bare ${(r.ours.requestsPerSecond / r.bareThroughput.requestsPerSecond).toFixed(2)} (target ≥ 0.80); ` +
    `restart ${seconds(r.restartMs)} (target ≤ 1 s at 10 M), ${(r.restartMs / r.duck.ms).toFixed(2)} of DuckDB's time`)
}

/** Each ratio's median over a set's runs, with every run's value, lowest first. */
function reportMedians (runs: Result[]): void {
  const spread = (label: string, values: number[], format: (value: number) => string): string => {
    const sorted = Float64Array.from(values).sort()
    return `${label} ${format(medianOfSorted(sorted))} (${Array.from(sorted, format).join(', ')})`
  }
  const ratio = (value: number): string => value.toFixed(2)
  console.log(`medians      of ${runs.length} runs: ` + [
    spread('time to ready / DuckDB', runs.map(r => r.readyMs / r.duck.ms), ratio),
    spread('restart', runs.map(r => r.restartMs), seconds),
    spread('a bare route from npm start', runs.map(r => r.bareStart), seconds),
    spread('the restart less that', runs.map(r => r.restartMs - r.bareStart), seconds),
    ...(runs[0].withoutCerts
      ? [
          spread('Node alone with NODE_EXTRA_CA_CERTS', runs.map(r => r.withoutCerts!.nodeWithCertsMs), seconds),
          spread('without', runs.map(r => r.withoutCerts!.nodeMs), seconds),
          spread('the restart without it', runs.map(r => r.withoutCerts!.restartMs), seconds)
        ]
      : []),
    spread('peak RSS / DuckDB', runs.map(r => r.oursRss / r.duck.peakRssBytes), ratio),
    spread('throughput / bare', runs.map(r => r.ours.requestsPerSecond / r.bareThroughput.requestsPerSecond), ratio),
    spread('CPU a request, bare / ours', runs.map(r => r.cpu.bare / r.cpu.ours), ratio),
    spread('the same program on data/: throughput / bare', runs.map(r => r.onSample.requestsPerSecond / r.bareThroughput.requestsPerSecond), ratio),
    spread('CPU a request, bare / it', runs.map(r => r.cpu.bare / r.cpu.sample), ratio)
  ].join('; '))
}

function growthTable (results: Result[]): void {
  console.log('\n| rows | time to ready | peak RSS | bytes/row | µs/row | µs/row ÷ log2(n), vs the first | restart |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|')
  const base = results[0].readyMs / results[0].dataset.rows / Math.log2(results[0].dataset.rows)
  for (const r of results) {
    const perRow = r.readyMs / r.dataset.rows
    console.log(`| ${r.dataset.name} | ${seconds(r.readyMs)} | ${mb(r.oursRss)} | ${Math.round(r.oursRss / r.dataset.rows)} | ` +
      `${(perRow * 1000).toFixed(3)} | ${(perRow / Math.log2(r.dataset.rows) / base).toFixed(2)} | ${seconds(r.restartMs)} |`)
  }
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    data: { type: 'string' },
    'log-level': { type: 'string' },
    repeat: { type: 'string', default: '1' },
    'clickhouse-shards': { type: 'string', default: '1,2' }
  }
})
const repeat = Number(values.repeat)
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a whole number from 1, got ${values.repeat}`)
const shardCounts = CLICKHOUSE_INSTALLED ? values['clickhouse-shards'].split(',').map(Number).filter(count => count > 0) : []
const sizes = values.sizes?.split(',')
const chosen = values.data !== undefined
  ? await Promise.all(values.data.split(',').map(folder))
  : (values.quick ? DATASETS.slice(0, 1) : DATASETS.filter(dataset => !sizes || sizes.includes(dataset.name))).map(generated)
console.log(`Sessionizer benchmark: ${availableParallelism()} cores, Node ${process.version}; ` +
  `Sessionizer with its defaults (LOAD_WORKERS=${availableParallelism()}, ` +
  `LOG_LEVEL=${values['log-level'] ?? 'info, no access log'}), DuckDB with ${availableParallelism()} threads`)
// Every start after the first since a build runs from V8's code cache (README, set-up): so do the ones measured.
if (existsSync(join(DIST, 'bundle', 'server.cjs.v8-cache'))) {
  console.log('code cache   made by an earlier start')
} else {
  const firstStart = await startReady({ DATA_DIR: join(PROJECT_ROOT, 'data'), CACHE_DIR: '' })
  await firstStart.server.stop()
  console.log(`code cache   made by a first start on data/, ready in ${seconds(firstStart.readyMs)}`)
}
/** Each set's first run, for the growth table and ClickHouse's comparison; every run's problems count. */
const results: Result[] = []
for (const data of chosen) {
  const runs: Result[] = []
  for (let run = 0; run < repeat; run++) {
    runs.push(await benchmark(data, 2, values['log-level']))
    report(runs[run])
  }
  if (runs.length > 1) reportMedians(runs)
  if (runs.some(r => r.problems.length > 0)) process.exitCode = 1
  const [result] = runs
  results.push(result)
  const onClickHouse = []
  for (const shards of shardCounts) onClickHouse.push(await benchmarkClickHouse(result, shards, 2))
  if (onClickHouse.length > 0) reportClickHouse(result, onClickHouse)
  if (onClickHouse.some(r => r.problems.length > 0)) process.exitCode = 1
}
if (results.length > 1) growthTable(results)
cleanUp(BARE_START_PACKAGE)
if (!CLICKHOUSE_INSTALLED) console.log('\n(no ClickHouse rows: clickhouse-server is not installed; bash scripts/clickhouse.sh install)')
