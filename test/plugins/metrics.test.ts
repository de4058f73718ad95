// /metrics: what an operator scrapes, checked against what the app answered and what /health says.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { build, buildLoaded, csv, get } from '../helper.js'

/** The samples of a Prometheus text answer, by series (name and labels as written). */
function samples (text: string): Map<string, number> {
  return new Map(text.split('\n').filter(line => line !== '' && !line.startsWith('#')).map(line => {
    const at = line.lastIndexOf(' ')
    return [line.slice(0, at), Number(line.slice(at + 1))]
  }))
}

t.test('requests by route, method and status, their latency, the cache and the data', async t => {
  const dataDir = t.testdir({ 'v.csv': csv([['a', 's1', 0], ['a', 's1', 60], ['b', 's2', 5]]) + 'bad row\n' })
  const server = await buildLoaded(t, { dataDir })
  for (let i = 0; i < 3; i++) await get(server, '/num_sessions', { site_url: 's1' })
  await get(server, '/num_sessions', { site_url: 'nowhere' })
  await get(server, '/num_sessions')
  await get(server, '/no/such/path')
  await server.inject({ method: 'HEAD', url: '/' })
  await server.inject({ method: 'POST', url: '/sites' })

  const res = await server.inject('/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const series = samples(res.body)
  const health = server.sessions.health()
  if (health.status !== 'ready') throw new Error('not ready')
  t.match(Object.fromEntries(series), {
    'sessionizer_http_requests_total{route="/num_sessions",method="GET",status="200"}': 3,
    'sessionizer_http_requests_total{route="/num_sessions",method="GET",status="404"}': 1,
    'sessionizer_http_requests_total{route="/num_sessions",method="GET",status="400"}': 1,
    'sessionizer_http_requests_total{route="unmatched",method="GET",status="404"}': 1,
    'sessionizer_http_requests_total{route="unmatched",method="POST",status="404"}': 1,
    'sessionizer_http_requests_total{route="/*",method="HEAD",status="200"}': 1,
    'sessionizer_http_request_duration_seconds_count{route="/num_sessions",method="GET"}': 5,
    'sessionizer_http_request_duration_seconds_bucket{le="+Inf",route="/num_sessions",method="GET"}': 5,
    'sessionizer_data_ready': 1,
    'sessionizer_rows_loaded': 3,
    'sessionizer_bad_rows': 1,
    'sessionizer_sites': 2,
    'sessionizer_visitors': 2,
    'sessionizer_load_seconds': health.load_ms / 1000,
    'sessionizer_warm_seconds': health.warm_ms / 1000,
    'sessionizer_data_from_cache': 0,
    'sessionizer_cache_hits_total': 2,
    'sessionizer_cache_misses_total': 1,
    'sessionizer_cache_computations_total': 1,
    'sessionizer_cache_shared_in_flight_total': 0,
    'sessionizer_cache_sites': 1,
    'sessionizer_cache_bytes': health.cache.bytes,
    'sessionizer_cache_max_bytes': health.cache.max_bytes
  })
  const buckets = [...series].filter(([name]) => name.startsWith('sessionizer_http_request_duration_seconds_bucket{') && name.includes('"/num_sessions"'))
  t.same(buckets.map(([, value]) => value), [...buckets.map(([, value]) => value)].sort((a, b) => a - b), 'buckets are cumulative')
  t.ok(series.get('sessionizer_http_request_duration_seconds_sum{route="/num_sessions",method="GET"}')! > 0)
  t.ok(series.has('sessionizer_process_resident_memory_bytes'), 'and the process\'s own')
  t.match(res.body, /# TYPE sessionizer_http_requests_total counter\n/)
  t.match(res.body, /# TYPE sessionizer_http_request_duration_seconds histogram\n/)
})

t.test('while the data loads, /metrics answers and says it is not ready', async t => {
  const dataDir = t.testdir({})
  execFileSync('mkfifo', [join(dataDir, 'pipe.csv')])
  const server = await build(t, { dataDir })
  const series = samples((await server.inject('/metrics')).body)
  t.equal(series.get('sessionizer_data_ready'), 0)
  t.equal(series.get('sessionizer_rows_loaded'), 0, 'figures of the data read 0 until it is loaded')
  t.equal(series.get('sessionizer_cache_hits_total'), 0)
})

t.test('data read back from the cache folder says so', async t => {
  const root = t.testdir({ data: { 'v.csv': 'a,s,u,1\n' }, cache: {} })
  const options = { dataDir: join(root, 'data'), cacheDir: join(root, 'cache') }
  const first = await buildLoaded(t, options)
  await first.sessions.saved
  const again = await buildLoaded(t, options)
  t.equal(samples((await again.inject('/metrics')).body).get('sessionizer_data_from_cache'), 1)
})
