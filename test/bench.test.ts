// The benchmark's checking code on a tiny set, so that it cannot rot: DuckDB and Sessionizer must agree,
// and a disagreement must be reported.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_GENERATOR_OPTIONS, generatePageViews } from '../scripts/lib/page-view-generator.js'
import { compareAnswers, duckdbAnswers } from '../scripts/lib/duckdb-sessions.js'
import {
  childPids, collectSessionizerAnswers, firstAnswerLatency, freePort, machineTicks, measureThroughput, medianOf, memoryLatencyNs, nodeStartMs, peakRssBytes, probeEnd, runDuckdbProcess,
  sampleVisitorIds, startNpmStart, startProcess, stealShare, stopStartedProcesses, waitUntilCacheSettled, waitUntilLoaded, writeBareStartPackage
} from '../scripts/lib/bench-lib.js'
import { build, buildLoaded, BUNDLE_COVERAGE_OFF, compiled } from './helper.js'

const sample = ['visitor_1', 'visitor_50', 'visitor_99', 'nobody']

t.test('DuckDB and Sessionizer agree on a generated set, ties and boundary gaps included', async t => {
  const dataDir = t.testdir({})
  const [file] = generatePageViews({ ...DEFAULT_GENERATOR_OPTIONS, rows: 5_000, sites: 6, visitors: 100, files: 2, out: dataDir, seed: 11 })
  const { appendFileSync } = await import('node:fs')
  appendFileSync(file, 'visitor_1,www.s_1.com,u,1400000000\nvisitor_1,www.s_1.com,u,1400000000\nvisitor_1,www.s_1.com,u,1400001800\n')
  const server = await buildLoaded(t, { dataDir })
  const baseUrl = await server.listen({ host: '127.0.0.1', port: 0 })
  const ours = await collectSessionizerAnswers(baseUrl, sample)
  const theirs = await duckdbAnswers(dataDir, 1800, sample, 1)
  t.equal(ours.sites.size, 6)
  t.equal(ours.visitors.has('nobody'), false)
  t.same(compareAnswers(ours, theirs, sample), [])

  const tampered = { sites: new Map(ours.sites), visitors: new Map(ours.visitors) }
  tampered.sites.set('www.s_1.com', { sessions: 1, median: 0 })
  tampered.sites.set('www.only-ours.com', { sessions: 1, median: 0 })
  tampered.sites.delete('www.s_2.com')
  tampered.visitors.set('visitor_1', 99)
  t.same(compareAnswers(tampered, theirs, sample), [
    'site www.s_1.com: Sessionizer 1 sessions, median 0; ' +
      `DuckDB ${theirs.sites.get('www.s_1.com')!.sessions}, ${theirs.sites.get('www.s_1.com')!.median}`,
    'site www.only-ours.com: only Sessionizer has it',
    'site www.s_2.com: only DuckDB has it',
    `visitor visitor_1: Sessionizer 99, DuckDB ${theirs.visitors.get('visitor_1')}`
  ])

  const throughput = await measureThroughput(`${baseUrl}/num_sessions?site_url=www.s_1.com`, 1, 4)
  t.ok(throughput.requestsPerSecond > 0)
  t.equal(throughput.errors, 0)
  t.equal(throughput.cpuMicrosPerRequest, undefined, 'CPU time only for a server named by its pid')
  // The server here is this process: its CPU time per request is what the requests cost it, and some.
  const withCpu = await measureThroughput(`${baseUrl}/num_sessions?site_url=www.s_1.com`, 1, 4, process.pid)
  t.ok(withCpu.cpuMicrosPerRequest! > 1 && withCpu.cpuMicrosPerRequest! < 100_000, `${withCpu.cpuMicrosPerRequest} µs a request`)

  const latency = await firstAnswerLatency(baseUrl, [...ours.sites.keys()])
  t.ok(latency.p50Ms > 0 && latency.p50Ms <= latency.p99Ms, `first answers: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms`)
  await t.rejects(firstAnswerLatency(baseUrl, ['www.nowhere.com']), { message: /^\/site_stats of www\.nowhere\.com answered 404: Unknown site_url/ })
})

t.test('waiting for the data: every tenth of a second while CSV bytes are left to read, then as often as asked', async t => {
  const { createServer } = await import('node:http')
  const progress = { bytes_done: 0, bytes_total: 100 }
  let polls = 0
  let ready = false
  const stub = createServer((_request, response) => {
    polls++
    response.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
    response.end(JSON.stringify(ready ? { status: 'ready' } : { status: 'loading', ...progress }))
  })
  await new Promise<void>(resolve => stub.listen(0, '127.0.0.1', resolve))
  t.teardown(() => stub.close())
  const { port } = stub.address() as { port: number }
  const waiting = waitUntilLoaded(`http://127.0.0.1:${port}`, 5)
  const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))
  await sleep(300)
  t.ok(polls <= 4, `${polls} polls in 0.3 s, bytes left`)
  progress.bytes_done = 100
  await sleep(150)
  polls = 0
  await sleep(300)
  t.ok(polls >= 10, `${polls} polls in 0.3 s, every byte read`)
  ready = true
  t.match(await waiting, { status: 'ready' })
})

t.test('waiting for the data: through 503s, and a failed load is an error', async t => {
  const { execFileSync } = await import('node:child_process')
  const { writeFile } = await import('node:fs/promises')
  const dataDir = t.testdir({})
  execFileSync('mkfifo', [join(dataDir, 'pipe.csv')])
  const server = await build(t, { dataDir })
  const baseUrl = await server.listen({ host: '127.0.0.1', port: 0 })
  const waiting = waitUntilLoaded(baseUrl)
  await new Promise(resolve => setTimeout(resolve, 50))
  await writeFile(join(dataDir, 'pipe.csv'), 'a,s,u,1\n')
  const loaded = await waiting
  t.equal((await fetch(`${baseUrl}/health`)).status, 200)
  t.match(loaded, { rows: 1, sites: 1, visitors: 1, files_total: 1 })
  t.ok(Date.parse(loaded.ready_at) <= Date.now())

  const failed = await build(t, { dataDir: t.testdir({ 'v.csv': 'a,s,u\n' }), strictCsv: true })
  await t.rejects(failed.sessions.loaded)
  const failedUrl = await failed.listen({ host: '127.0.0.1', port: 0 })
  await t.rejects(waitUntilLoaded(failedUrl), /\/health answered 500/)
})

t.test('the process helpers: a free port, a server started and stopped, the DuckDB peer in its own process', async t => {
  const dataDir = t.testdir({ 'v.csv': 'a,s,u,1\na,s,u,2000\nb,s,u,5\n' })
  const port = await freePort()
  const server = await startProcess([compiled('src/server.ts')], { DATA_DIR: dataDir, CACHE_DIR: '', PORT: String(port) }, port, '/health')
  await waitUntilLoaded(server.baseUrl)
  t.ok(peakRssBytes(server.child.pid!) > 1e6)
  const ours = await collectSessionizerAnswers(server.baseUrl, ['a', 'b'])
  await server.stop()
  const peer = await runDuckdbProcess(compiled('scripts/lib/duckdb-process.ts'), dataDir, 1800, 1, ['a', 'b'])
  t.ok(peer.ms > 0 && peer.peakRssBytes > 1e6)
  t.same(compareAnswers(ours, peer.answers, ['a', 'b']), [])
  t.same(ours.sites.get('s'), { sessions: 3, median: 0 })

  // As the bench starts Sessionizer: npm start, whose one child is the server (its peak RSS is the one to read).
  const npmPort = await freePort()
  const cacheDir = join(t.testdirName, 'cache')
  const started = await startNpmStart({
    ...BUNDLE_COVERAGE_OFF, DATA_DIR: dataDir, CACHE_DIR: cacheDir, PORT: String(npmPort), LOG_LEVEL: 'warn', GLIBC_TUNABLES: 'glibc.malloc.tcache_count=7'
  }, npmPort, '/health')
  t.equal((await waitUntilLoaded(started.baseUrl)).source, 'csv')
  t.equal(await waitUntilCacheSettled(started.baseUrl), 'saved')
  const [serverPid] = childPids(started.child.pid!)
  t.match(readFileSync(`/proc/${serverPid}/cmdline`, 'utf8'), /scripts\/start\.mjs/)
  // Large allocations in huge pages, and the tunables a user set kept.
  // (glibc, reading the tunables at start, may leave a NUL for each colon in the process's first environment.)
  t.match(readFileSync(`/proc/${serverPid}/environ`, 'utf8'), /\0GLIBC_TUNABLES=glibc\.malloc\.tcache_count=7[:\0]glibc\.malloc\.hugetlb=1\0/)
  t.ok(peakRssBytes(serverPid) > 1e6)
  await started.stop()
  await t.rejects(fetch(`${started.baseUrl}/health`), 'stopping npm start stops the server')

  // The restart's peer: npm start of a package that runs only the bare route, on the port it is given.
  const barePackage = writeBareStartPackage(t.testdir({}), compiled('scripts/lib/bare-server.ts'))
  const barePort = await freePort()
  const bare = await startNpmStart({ PORT: String(barePort) }, barePort, '/constant', barePackage)
  t.equal(await (await fetch(`${bare.baseUrl}/constant`)).text(), 'Num sessions for site www.s_1.com = 3684')
  t.match(readFileSync(`/proc/${childPids(bare.child.pid!)[0]}/cmdline`, 'utf8'), /bare-server\.js/)
  await bare.stop()
  await t.rejects(fetch(`${bare.baseUrl}/constant`), 'stopping it stops the bare route')

  await t.rejects(startProcess(['-e', 'process.exit(3)'], {}, port, '/'), /exited with 3/)
  await t.rejects(runDuckdbProcess(compiled('scripts/lib/duckdb-process.ts'), '/no/such/dir', 1800, 1, []),
    /DuckDB peer exited with 1/)
  const brokenDir = t.testdir({ 'v.csv': 'a,s,u,1\n' })
  const failing = await startProcess([compiled('src/server.ts')],
    { DATA_DIR: brokenDir, PORT: String(port), STRICT_CSV: '1', WARM_CACHE: 'nonsense' }, port, '/health').catch((error: Error) => error)
  t.match(failing, { message: /exited with 1/ })
})

t.test('the median of timings in any order', async t => {
  t.equal(medianOf([3, 1, 2]), 2)
  t.equal(medianOf([4, 1, 3, 2]), 2.5)
})

t.test('Node\'s own start is timed with the environment given over this one', async t => {
  t.ok(nodeStartMs({}, 3) > 0)
  t.throws(() => nodeStartMs({ NODE_OPTIONS: '--no-such-flag' }, 1), /node -e 0 failed: .*--no-such-flag/)
})

t.test('the machine\'s CPU time, and the share of it the host gave other guests', async t => {
  const before = machineTicks()
  t.ok(before.total > 0 && before.steal >= 0 && before.steal <= before.total)
  t.equal(stealShare(before, before), 0, 'no time passed')
  const deadline = Date.now() + 100
  while (Date.now() < deadline);
  const after = machineTicks()
  t.ok(after.total > before.total, 'a tenth of a second of busy CPU is counted')
  const share = stealShare(before, after)
  t.ok(share >= 0 && share <= 1, `steal ${share}`)
  t.equal(stealShare({ total: 0, steal: 0 }, { total: 200, steal: 50 }), 0.25)
})

t.test('the processes the bench started, still running, are stopped at once when it is stopped', async t => {
  const port = await freePort()
  const bare = await startProcess([compiled('scripts/lib/bare-server.ts'), String(port)], {}, port, '/constant')
  const exited = new Promise(resolve => bare.child.once('exit', resolve))
  const stopped = stopStartedProcesses()
  t.equal(stopped.length, 1)
  t.equal(stopped[0], bare.child)
  await exited
  await t.rejects(fetch(`${bare.baseUrl}/constant`), 'no longer answering')
  t.same(stopStartedProcesses(), [], 'an exited process is no longer one to stop')
})

t.test('a random read from memory is timed over a walk no read of which can start before the last ends', async t => {
  const ns = memoryLatencyNs(1 << 20, 1 << 16)
  t.ok(Number.isFinite(ns) && ns > 0, `${ns} ns`)
  t.ok(Number.isInteger(probeEnd) && probeEnd >= 0 && probeEnd < (1 << 20) / 4, 'the walk ends at a place of its cycle')
  t.ok(Number.isFinite(memoryLatencyNs(1 << 20, 1 << 16)), 'the cycle made for the first walk serves the next')
})

t.test('visitor ids to ask about are sampled from places spread over someone else\'s files, read in part', async t => {
  const line = (i: number) => `user-${i},site.example,site.example/p?q=${i},${1_700_000_000 + i}`
  const dir = t.testdir({
    'a.csv': ['visitor_id,site_url,page_view_url,timestamp', ...Array.from({ length: 400 }, (_, i) => line(i))].join('\r\n') + '\r\n',
    'b.csv': Array.from({ length: 400 }, (_, i) => i % 2 === 0 ? `"quoted, ${i}",s,"u,1",5` : line(1000 + i)).join('\n') + '\n',
    // One line longer than what is read at a place, and no line break at the end: nothing to take from either.
    'c.csv': `${'x'.repeat(70_000)},s,u,1\nlast,s,u,2`
  })
  const files = ['a.csv', 'b.csv', 'c.csv'].map(name => join(dir, name))
  const ids = await sampleVisitorIds(files, 100)
  t.equal(ids.length, 100, 'as many as asked for')
  t.equal(new Set(ids).size, 100, 'each once')
  t.ok(ids.every(id => /^user-\d+$/.test(id) || /^quoted, \d+$/.test(id)), 'whole ids, quotes undone, no header, no carriage return')
  t.ok(ids.some(id => Number(id.slice(5)) > 300 && Number(id.slice(5)) < 400), 'from the end of a file as well as its start')
  t.ok(ids.some(id => id.startsWith('quoted')) && ids.some(id => Number(id.slice(5)) >= 1000), 'and from every file')
  t.same(await sampleVisitorIds([join(dir, 'c.csv')], 10), [], 'a line too long, and a last line without a break, give none')
  t.same(await sampleVisitorIds([], 10), [])
})
