// Text or JSON: the one place that decides how a reply is written.
import type { FastifyReply, FastifyRequest } from 'fastify'

/** JSON when the client prefers it to text; text for curl, browsers and anything else. */
function wantsJson (request: FastifyRequest): boolean {
  // Most requests do not mention JSON at all: skip the full negotiation for them, it is the cost of a hot route.
  const accept = request.headers.accept
  // Media types are case-insensitive: APPLICATION/JSON is JSON too.
  if (accept === undefined || !accept.toLowerCase().includes('json')) return false
  return request.accepts().type(['text/plain', 'application/json']) === 'application/json'
}

/** Sends the historical text answer, or the JSON one when the client asks for JSON. */
export function sendAnswer (request: FastifyRequest, reply: FastifyReply, text: string, json: object): FastifyReply {
  if (wantsJson(request)) return reply.send(json)
  return reply.type('text/plain; charset=utf-8').send(text)
}
