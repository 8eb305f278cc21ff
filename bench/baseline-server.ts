// The limit pullguard is measured against: a bare node:https server doing only what any webhook must do,
// TLS, JSON.parse of the review and JSON.stringify of an answer, on the same kind of certificate
// (pullguard's own self-signed EC P-256 generator, same minimum TLS version) and in its own process, so
// both servers have the same one-process budget.
//
//   node bench/baseline-server.ts PORT ANSWER_FILE
//
// ANSWER_FILE holds pullguard's answer to the same review: the baseline sends an answer of exactly the
// same size, stringified afresh on every request.

import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type * as Tls from '../src/server/tls.js'
import { HOST } from './children.ts'
import { load } from './dist.ts'

const { secureContextOptions, selfSignedKeyPair } = await load<typeof Tls>('server/tls.js')

const [port, answerFile] = process.argv.slice(2)
if (port === undefined || answerFile === undefined) throw new Error('usage: baseline-server.ts PORT ANSWER_FILE')
const answer: unknown = JSON.parse(readFileSync(answerFile, 'utf8'))

const server = createServer({
  ...secureContextOptions(await selfSignedKeyPair()),
  // pullguard's keep-alive setting, so neither server closes connections during a run
  keepAliveTimeout: 120_000
}, (req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end('{"status":"ok"}')
    return
  }
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      res.writeHead(400).end()
      return
    }
    const body = JSON.stringify(answer)
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
server.listen(Number(port), HOST)
process.once('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
