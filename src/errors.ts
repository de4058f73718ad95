// The errors a request can meet, each declared once with its status code.
import createError from '@fastify/error'

export const NotReadyError = createError<[string]>(
  'SESSIONIZER_NOT_READY', 'Data is still loading (%s); retry shortly', 503)
export const LoadFailedError = createError<[string]>(
  'SESSIONIZER_LOAD_FAILED', 'Data failed to load: %s', 500)
export const PagesUnavailableError = createError(
  'SESSIONIZER_PAGES_UNAVAILABLE', 'The pages failed to load (/health\'s warnings say why): /site_pages cannot answer until a restart', 503)
export const UnknownSiteError = createError<[string]>(
  'SESSIONIZER_UNKNOWN_SITE', 'Unknown site_url: %s', 404)
export const UnknownVisitorError = createError<[string]>(
  'SESSIONIZER_UNKNOWN_VISITOR', 'Unknown visitor_id: %s', 404)
export const BadParameterError = createError<[string]>(
  'SESSIONIZER_BAD_PARAMETER', '%s', 400)
export const BackendUnavailableError = createError<[string]>(
  'SESSIONIZER_BACKEND_UNAVAILABLE', '%s; retry shortly', 503)
