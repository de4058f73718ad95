// Fastify's own schema compilers (Ajv for requests, fast-json-stringify for answers), each route's schemas
// compiled on the route's first use rather than before the server listens.
import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler'
import SerializerSelector from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'

/** What Fastify asks of a compiled validator: a call, and after a false one, its errors (Ajv keeps them there). */
interface Validator {
  (this: unknown, data: unknown, context?: unknown): unknown
  errors?: unknown
  schemaEnv?: unknown
}

/**
 * Each route's schemas are compiled on the route's first use. Compiling every route's query and answer schemas
 * took some 60 ms of each start (a restart of 10 M rows takes about 1 s), for routes many starts never serve. A
 * schema that does not compile now fails its route's first request, not the start: the tests ask every route.
 */
function validatorOnFirstUse<Route> (compile: (route: Route) => Validator): (route: Route) => Validator {
  return route => {
    let compiled: Validator | undefined
    const validate: Validator = function (data, context) {
      compiled ??= compile(route)
      const result = compiled.call(this, data, context)
      validate.errors = compiled.errors
      return result
    }
    // With this, Fastify hands the validator the request as the data's parent, as it does Ajv's own.
    validate.schemaEnv = true
    return validate
  }
}

function serializerOnFirstUse<Route> (compile: (route: Route) => (doc: unknown) => string): (route: Route) => (doc: unknown) => string {
  return route => {
    let compiled: ((doc: unknown) => string) | undefined
    return doc => (compiled ??= compile(route))(doc)
  }
}

const buildValidator = AjvCompiler()
const buildSerializer = SerializerSelector()

/** The `schemaController` server option that compiles on first use. */
export const lazySchemaController: FastifyServerOptions['schemaController'] = {
  compilersFactory: {
    // Typed as Ajv's compiler, whose validators carry Ajv's every field: of those, Fastify reads only the above.
    buildValidator: ((...options: Parameters<ValidatorFactory>) => {
      // Ajv itself is made on the first compile too: made with its formats and the app's shared schemas, it
      // took 4-13 ms of a restart's main thread before the server listened.
      let compilerOfRoute: ((route: unknown) => Validator) | undefined
      return validatorOnFirstUse(route => (compilerOfRoute ??= buildValidator(...options) as (route: unknown) => Validator)(route))
    }) as unknown as ValidatorFactory,
    buildSerializer: (...options: Parameters<typeof buildSerializer>) => serializerOnFirstUse(buildSerializer(...options))
  }
}
