// The throughput and restart peer for the benchmark: a bare Fastify route answering a constant string, on the
// port given as its argument.
import Fastify from 'fastify'

const server = Fastify({ logger: false })
server.get('/constant', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('Num sessions for site www.s_1.com = 3684'))
const address = await server.listen({ host: '127.0.0.1', port: Number(process.argv[2]) })
console.log(address)
