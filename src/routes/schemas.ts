// What the routes' answers look like, for Fastify's serializer and for the OpenAPI document at /openapi.json.

const errorSchema = {
  type: 'object',
  required: ['statusCode', 'message'],
  properties: { statusCode: { type: 'integer' }, message: { type: 'string' } }
} as const

const ERROR_DESCRIPTIONS = {
  400: 'A parameter is missing, empty, repeated or bad; the message names it.',
  404: 'No such site or visitor in the data.',
  500: 'The data failed to load, or an unexpected fault (logged; the message says no more).',
  503: 'The data is still loading, or what holds it cannot answer for now (a ClickHouse that does not answer; pages ' +
    'that failed to load, until a restart: /health says which); retry after the Retry-After header\'s seconds.'
} as const

type ErrorCode = keyof typeof ERROR_DESCRIPTIONS

/** Errors answer text, or `{ statusCode, message }` to clients that ask for JSON. */
export function errorResponses (...codes: ErrorCode[]) {
  return Object.fromEntries(codes.map(code => [code, {
    description: ERROR_DESCRIPTIONS[code],
    content: {
      'text/plain': { schema: { type: 'string' } },
      'application/json': { schema: errorSchema }
    }
  }]))
}

/** A question's answer: the original service's text line by default, JSON on `Accept: application/json`. */
export function textOrJson (description: string, textExample: string, json: object) {
  return {
    description,
    content: {
      'text/plain': { schema: { type: 'string', examples: [textExample] } },
      'application/json': { schema: json }
    }
  }
}

/** A JSON object with every field it has, all required: the serializer drops what a schema does not name. */
export function jsonObject<P extends Record<string, object>> (properties: P) {
  return { type: 'object', required: Object.keys(properties), properties } as const
}

export function described<S extends object> (description: string, schema: S): S & { description: string } {
  return { ...schema, description }
}

export const integer = (description?: string) => ({ type: 'integer', ...(description && { description }) }) as const
export const number = (description?: string) => ({ type: 'number', ...(description && { description }) }) as const
export const numberOrNull = (description: string) => ({ type: ['number', 'null'], description }) as const
export const string = (description?: string) => ({ type: 'string', ...(description && { description }) }) as const
