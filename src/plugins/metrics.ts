// The metrics plugin: GET /metrics in Prometheus's text format — requests by route and status, their latency,
// the session-table cache, what was loaded and how long loading and warm-up took, and the process's own.
import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import type { Registry } from 'prom-client'
import type { SessionService } from './sessions.js'

/** Latency buckets in seconds: a cached answer takes well under a millisecond, a cold site's first one up to seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** What one route answered to one method: counts by status code, and latencies as histogram buckets. */
class RouteTally {
  readonly byStatus = new Map<number, number>()
  /** Answers in each latency bucket (not cumulative), and beyond the last. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1)
  count = 0
  sum = 0

  constructor (readonly route: string, readonly method: string) {}

  record (statusCode: number, seconds: number): void {
    this.byStatus.set(statusCode, (this.byStatus.get(statusCode) ?? 0) + 1)
    let bucket = 0
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]) bucket++
    this.buckets[bucket]++
    this.count++
    this.sum += seconds
  }
}

/** Shapes prom-client formats: a metric is anything with a name that gets its values. */
interface Sample { metricName?: string, labels: Record<string, string | number>, value: number }
type Exposed = Parameters<Registry['registerMetric']>[0]

function exposed (name: string, help: string, type: 'counter' | 'histogram', values: () => Sample[]): Exposed {
  return { name, help, type, get: async () => ({ name, help, type, values: values(), aggregator: 'sum' }) } as unknown as Exposed
}

function requestsMetric (tallies: readonly RouteTally[]): Exposed {
  return exposed('sessionizer_http_requests_total', 'HTTP requests answered, by route (its pattern), method and status code', 'counter',
    () => tallies.flatMap(({ route, method, byStatus }) =>
      [...byStatus].map(([status, value]) => ({ labels: { route, method, status }, value }))))
}

function latencyMetric (tallies: readonly RouteTally[]): Exposed {
  const name = 'sessionizer_http_request_duration_seconds'
  return exposed(name, 'Time from receiving a request to the end of its answer, by route and method', 'histogram',
    () => tallies.flatMap(({ route, method, buckets, count, sum }): Sample[] => {
      let cumulative = 0
      return [
        ...LATENCY_BUCKETS.map((le, bucket) => ({ metricName: `${name}_bucket`, labels: { le, route, method }, value: cumulative += buckets[bucket] })),
        { metricName: `${name}_bucket`, labels: { le: '+Inf', route, method }, value: count },
        { metricName: `${name}_sum`, labels: { route, method }, value: sum },
        { metricName: `${name}_count`, labels: { route, method }, value: count }
      ]
    }))
}

/**
 * The registry /metrics answers from, made on the first scrape: prom-client (some 0.1 s to import) is not
 * on the start-up path. A registry of the app's own, not prom-client's global one: two apps in one process
 * (tests) keep apart.
 */
async function createRegistry (tallies: readonly RouteTally[], sessions: SessionService): Promise<Registry> {
  const { collectDefaultMetrics, Counter, Gauge, Registry } = await import('prom-client')
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'sessionizer_' })
  registry.registerMetric(requestsMetric(tallies))
  registry.registerMetric(latencyMetric(tallies))

  /** A gauge read from the sessions plugin when Prometheus scrapes, so that it costs nothing in between. */
  const gauge = (name: string, help: string, read: () => number | undefined) => new Gauge({
    name,
    help,
    registers: [registry],
    collect () {
      const value = read()
      if (value !== undefined) this.set(value)
    }
  })
  /** The same for a count that only grows: a counter, so that Prometheus's rate() applies. */
  const counter = (name: string, help: string, read: () => number) => new Counter({
    name,
    help,
    registers: [registry],
    collect () {
      this.reset()
      this.inc(read())
    }
  })
  const ready = () => {
    const health = sessions.health()
    return health.status === 'ready' ? health : undefined
  }
  const cache = () => sessions.cacheStats()
  gauge('sessionizer_data_ready', '1 once the data is loaded and warm, 0 before (or when loading failed)', () => ready() ? 1 : 0)
  gauge('sessionizer_rows_loaded', 'Page views loaded', () => ready()?.rows)
  gauge('sessionizer_bad_rows', 'CSV rows skipped as bad', () => ready()?.skipped_rows)
  gauge('sessionizer_sites', 'Sites in the data', () => ready()?.sites)
  gauge('sessionizer_visitors', 'Visitors in the data', () => ready()?.visitors)
  gauge('sessionizer_load_seconds', 'Time the data took to load (to read from the cache folder, when it came from there)',
    () => { const health = ready(); return health && health.load_ms / 1000 })
  gauge('sessionizer_warm_seconds', 'Time warm-up took', () => { const health = ready(); return health && health.warm_ms / 1000 })
  gauge('sessionizer_data_from_cache', '1 when the data was read from the cache folder, 0 when the CSV files were parsed',
    () => { const health = ready(); return health && (health.source === 'cache' ? 1 : 0) })
  counter('sessionizer_cache_hits_total', 'Session-table requests answered from the cache', () => cache().hits)
  counter('sessionizer_cache_misses_total', 'Session-table requests that computed the table', () => cache().misses)
  counter('sessionizer_cache_shared_in_flight_total', 'Session-table requests that waited for a computation already running',
    () => cache().shared_in_flight)
  counter('sessionizer_cache_computations_total', 'Session tables computed, warm-up included', () => cache().computations)
  gauge('sessionizer_cache_sites', 'Session tables in the cache', () => cache().sites_cached)
  gauge('sessionizer_cache_bytes', 'Memory of the session tables in the cache', () => cache().bytes)
  gauge('sessionizer_cache_max_bytes', 'Bound on the memory of the session tables in the cache', () => cache().max_bytes)
  return registry
}

const metricsPlugin: FastifyPluginAsync = async (fastify) => {
  // Requests are tallied in plain numbers and handed to prom-client only when Prometheus scrapes: its labelled
  // children hash their label values on every call, a measurable part of a cached query's cost.
  const tallies: RouteTally[] = []
  /** Records a route's answers, in a tally per method made on the method's first request. */
  const recorder = (route: string) => {
    const byMethod = new Map<string, RouteTally>()
    return (request: FastifyRequest, reply: FastifyReply): void => {
      let routeTally = byMethod.get(request.method)
      if (routeTally === undefined) {
        routeTally = new RouteTally(route, request.method)
        tallies.push(routeTally)
        byMethod.set(request.method, routeTally)
      }
      routeTally.record(reply.statusCode, reply.elapsedTime / 1000)
    }
  }

  /** For each route, a hook of its own that knows the route (request.routeOptions builds an object per call). */
  fastify.addHook('onRoute', routeOptions => {
    const record = recorder(routeOptions.url)
    const hook: onResponseHookHandler = (request, reply, done) => {
      record(request, reply)
      done()
    }
    routeOptions.onResponse = [routeOptions.onResponse ?? [], hook].flat()
  })
  // A request that matches no route has no route hook: the not-found handler reports it, under one label
  // whatever its URL, so that scanners cannot multiply the series.
  fastify.decorate('metrics', { observeUnmatched: recorder('unmatched') })

  let registry: Promise<Registry> | undefined
  const schema = {
    summary: 'Metrics in the Prometheus text format',
    tags: ['operations'],
    response: { 200: { description: 'Requests by route and status, latency, the cache, the data, the process.', content: { 'text/plain': { schema: { type: 'string' } } } } }
  }
  fastify.get('/metrics', { schema }, async (_request, reply) => {
    registry ??= createRegistry(tallies, fastify.sessions)
    const ready = await registry
    return reply.type(ready.contentType).send(await ready.metrics())
  })
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: { observeUnmatched: (request: FastifyRequest, reply: FastifyReply) => void }
  }
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['sessions'] })
