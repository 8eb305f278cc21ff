// Local doubles for the cloud token endpoints, on 127.0.0.1 over plain HTTP, for the real SDK
// clients: AWS STS AssumeRole (query protocol, XML) and ECR GetAuthorizationToken (JSON 1.1), and
// Google's OAuth2 token endpoint and IAM Credentials generateAccessToken. Tokens name who they were
// issued to, so a test can tell one tenant's token from another's.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface AwsRole {
  arn: string
  /** AssumeRole is refused without exactly this external id */
  externalId?: string
  /** the account whose registry the role's ECR token is for */
  account: string
}

export interface CloudDoubles {
  url: string
  /** every call, in order: what was asked, by whom (access key or bearer), never the secret part */
  calls: Array<{ api: string, caller: string, detail: string }>
  /** tokens handed out so far (each is a password some Secret may hold) */
  issued: string[]
  close (): Promise<void>
}

const HOUR_MS = 3_600_000

export async function startCloudDoubles (options: { roles: AwsRole[], ownAccount: string, nowMs?: () => number }): Promise<CloudDoubles> {
  const nowMs = options.nowMs ?? Date.now
  const calls: CloudDoubles['calls'] = []
  const issued: string[] = []
  // access key → account: pullguard's own key is the own account's; assumed keys are the role's
  const accounts = new Map<string, string>([['AKIAPULLGUARDOWN', options.ownAccount]])
  let serial = 0
  const server: Server = createServer((req, res) => {
    void body(req).then(text => {
      try {
        route(req, res, text)
      } catch (err) {
        res.writeHead(500).end(String(err))
      }
    })
  })

  function route (req: IncomingMessage, res: ServerResponse, text: string): void {
    const target = req.headers['x-amz-target']
    if (typeof target === 'string') return ecr(req, res, target)
    if (req.url === '/token') return googleToken(res, text)
    if (req.url?.includes(':generateAccessToken') === true) return generateAccessToken(req, res, text)
    return sts(req, res, text)
  }

  function accessKeyOf (req: IncomingMessage): string {
    return /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? ''
  }

  function sts (req: IncomingMessage, res: ServerResponse, text: string): void {
    const form = new URLSearchParams(text)
    const caller = accessKeyOf(req)
    calls.push({ api: 'sts:AssumeRole', caller, detail: `${form.get('RoleArn')} ${form.get('RoleSessionName')}` })
    const role = options.roles.find(r => r.arn === form.get('RoleArn'))
    if (form.get('Action') !== 'AssumeRole' || caller !== 'AKIAPULLGUARDOWN' || role === undefined || (role.externalId ?? null) !== form.get('ExternalId')) {
      res.writeHead(403, { 'content-type': 'text/xml' }).end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole on ${form.get('RoleArn') ?? ''}</Message></Error><RequestId>r-${++serial}</RequestId></ErrorResponse>`)
      return
    }
    const key = `ASIA${role.account}${++serial}`
    accounts.set(key, role.account)
    const expiration = new Date(nowMs() + HOUR_MS).toISOString()
    res.writeHead(200, { 'content-type': 'text/xml' }).end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>${key}</AccessKeyId><SecretAccessKey>secret-${key}</SecretAccessKey><SessionToken>session-${key}</SessionToken><Expiration>${expiration}</Expiration></Credentials><AssumedRoleUser><Arn>${role.arn}/x</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r-${serial}</RequestId></ResponseMetadata></AssumeRoleResponse>`)
  }

  function ecr (req: IncomingMessage, res: ServerResponse, target: string): void {
    const caller = accessKeyOf(req)
    calls.push({ api: `ecr:${target.split('.').at(-1) ?? ''}`, caller, detail: '' })
    const account = accounts.get(caller)
    if (account === undefined) {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' }))
      return
    }
    const password = `ecr-pw-${account}-${++serial}`
    issued.push(password)
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({
      authorizationData: [{
        authorizationToken: Buffer.from(`AWS:${password}`).toString('base64'),
        expiresAt: (nowMs() + 12 * HOUR_MS) / 1000,
        proxyEndpoint: `https://${account}.dkr.ecr.eu-west-1.amazonaws.com`
      }]
    }))
  }

  function googleToken (res: ServerResponse, text: string): void {
    const form = new URLSearchParams(text)
    calls.push({ api: 'google:token', caller: form.get('client_id') ?? '', detail: form.get('grant_type') ?? '' })
    const token = `ya29.own-${++serial}`
    issued.push(token)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: 3600, token_type: 'Bearer' }))
  }

  function generateAccessToken (req: IncomingMessage, res: ServerResponse, text: string): void {
    const account = decodeURIComponent(/serviceAccounts\/([^:]+):/.exec(req.url ?? '')?.[1] ?? '')
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    calls.push({ api: 'iamcredentials:generateAccessToken', caller: issued.includes(bearer) ? 'own token' : 'unknown', detail: account })
    if (!issued.includes(bearer) || account.startsWith('denied')) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 403, message: `Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).`, status: 'PERMISSION_DENIED' } }))
      return
    }
    const { lifetime = '3600s' } = JSON.parse(text) as { lifetime?: string }
    const token = `ya29.impersonated-${account.split('@')[0] ?? ''}-${++serial}`
    issued.push(token)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accessToken: token, expireTime: new Date(nowMs() + Number.parseInt(lifetime) * 1000).toISOString() }))
  }

  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    issued,
    close: () => new Promise(resolve => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

async function body (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
