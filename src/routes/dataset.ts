// What the dataset holds: its sites for the landing page, and its health for operators and probes.
import type { FastifyPluginAsync } from 'fastify'
import { SITE_SORT_KEYS, type SitePageQuery } from '../domain/site-directory.js'
import { rangeQueryProperties, timeRangeOf, type RangeQuery } from './range-query.js'
import { described, errorResponses, integer, jsonObject, number, string } from './schemas.js'
import { BACKENDS } from '../backends/backend.js'

/** The most sites one page may ask for: enough for any table, bounded for any client. */
export const MAX_SITES_PER_PAGE = 1000

const siteRowSchema = jsonObject({
  site_url: string(),
  page_views: integer('Page views of the sessions counted.'),
  visitors: integer('Distinct visitors of the sessions counted.'),
  num_sessions: integer(),
  median_session_length: number('Seconds.'),
  views_per_session: number('To two decimals.'),
  bounce_rate: number('The share of sessions of a single page view, 0 to 1, to four decimals.')
})

const sitesSchema = {
  summary: 'A page of the sites table',
  description: 'Every site with its figures, sorted, filtered and paged on the server. In a date range, only ' +
    'the sites with sessions in it, with the figures of those sessions.',
  tags: ['sites'],
  querystring: {
    type: 'object',
    properties: {
      offset: { type: 'integer', minimum: 0, default: 0, description: 'How many matching sites to skip.' },
      limit: { type: 'integer', minimum: 1, maximum: MAX_SITES_PER_PAGE, default: 50, description: 'How many sites to answer at most.' },
      sort: {
        type: 'string',
        enum: SITE_SORT_KEYS,
        default: 'site_url',
        description: 'The figure to sort by; site_url sorts naturally (www.s_2 before www.s_10). Ties keep the natural order.'
      },
      order: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
      q: { type: 'string', maxLength: 256, default: '', description: 'Only the sites whose URL contains this, ignoring case.' },
      ...rangeQueryProperties
    }
  },
  response: {
    200: described('The sites that match, and one page of them.', jsonObject({
      total: integer('How many sites match the filter (and range), on every page.'),
      sites: { type: 'array', items: siteRowSchema }
    })),
    ...errorResponses(400, 500, 503)
  }
} as const

const badRowSchema = jsonObject({ file: string(), line: integer(), reason: string() })

const backendField = { type: 'string', enum: BACKENDS, description: 'Where page views live (BACKEND).' } as const

const healthSchema = {
  summary: 'Whether the data is loaded, and what it holds',
  tags: ['operations'],
  response: {
    200: described('Loaded: the data\'s summary.', jsonObject({
      status: { type: 'string', enum: ['ready'] },
      backend: backendField,
      files: { type: 'array', description: 'The first 100 files (with ClickHouse: as loaded, now or by an earlier start).', items: jsonObject({ file: string(), rows: integer(), skipped_rows: integer() }) },
      files_total: integer(),
      rows: integer('Page views loaded (with ClickHouse: in the database).'),
      skipped_rows: integer('Bad rows skipped.'),
      skipped_row_examples: { type: 'array', description: 'The first ten bad rows, with file, line and reason.', items: badRowSchema },
      sites: integer(),
      visitors: integer(),
      first_timestamp: { type: ['integer', 'null'], description: 'Epoch seconds of the first page view; null without any.' },
      last_timestamp: { type: ['integer', 'null'], description: 'Epoch seconds of the last page view; null without any.' },
      load_ms: integer('Milliseconds to load: to parse and build, or to read the cache folder.'),
      parse_ms: integer(),
      build_ms: integer(),
      warm_ms: integer('Milliseconds to compute (or read) the session tables before answering.'),
      started_at: { type: 'string', format: 'date-time', description: 'When the process started.' },
      ready_at: { type: 'string', format: 'date-time', description: 'When the data was ready and queries began to be answered.' },
      load_workers: integer('Worker threads that parsed the files.'),
      source: { type: 'string', enum: ['csv', 'cache', 'database'], description: 'Whether the files were parsed, the cache folder was read, or the data is in ClickHouse.' },
      cache_file: { type: 'string', enum: ['off', 'read', 'saving', 'saved', 'failed'], description: 'What became of the cache folder this start.' },
      pages: {
        type: 'string',
        enum: ['merging', 'reading', 'ready', 'failed'],
        description: 'Whether /site_pages can answer: a load from CSV merges the pages just after it is ready (merging), a restart reads them from the cache folder just after (reading), and /site_pages waits for them; failed: it answers 503 until a restart, and warnings says why.'
      },
      warnings: { type: 'array', description: 'What is not a bad row but was not loaded, and why (with ClickHouse: a file changed since it was loaded, say).', items: string() },
      session_timeout_seconds: integer(),
      cache: jsonObject({
        sites_cached: integer(),
        bytes: integer(),
        max_bytes: integer(),
        max_sites: integer(),
        hits: integer(),
        misses: integer(),
        shared_in_flight: integer(),
        computations: integer()
      })
    })),
    500: described('Loading failed.', jsonObject({ status: { type: 'string', enum: ['failed'] }, backend: backendField, message: string() })),
    503: described('Still loading (Retry-After: 1).', jsonObject({
      status: { type: 'string', enum: ['loading'] },
      backend: backendField,
      files_total: integer(),
      bytes_total: integer(),
      bytes_done: integer('Bytes read so far: a named pipe has no size, so this may pass bytes_total.')
    }))
  }
} as const

const datasetRoutes: FastifyPluginAsync = async (fastify) => {
  fastify.get<{ Querystring: SitePageQuery & RangeQuery }>('/sites', { schema: sitesSchema }, async request =>
    (await fastify.sessions.siteDirectory(timeRangeOf(request.query))).page(request.query))

  fastify.get('/health', { schema: healthSchema }, async (_request, reply) => {
    const health = fastify.sessions.health()
    if (health.status === 'loading') reply.code(503).header('retry-after', '1')
    else if (health.status === 'failed') reply.code(500)
    return health
  })
}

export default datasetRoutes
