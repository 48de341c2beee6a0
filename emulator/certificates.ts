import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A throw-away certificate authority and a server certificate it signed, as PEM files in a folder. */
export interface TestCertificates {
  /** The CA certificate: what NODE_EXTRA_CA_CERTS must name for clients to trust the server. */
  caFile: string
  /** The server's key and certificate, as files (for other local servers, e.g. Azurite over https) and read. */
  keyFile: string
  certFile: string
  key: Buffer
  cert: Buffer
  ca: Buffer
}

/**
 * Makes a CA and a server certificate for these host names (wildcards allowed) and IP addresses with the
 * `openssl` command, valid for two days. Clients trust it through NODE_EXTRA_CA_CERTS, exactly as a
 * runner behind a TLS-inspecting corporate proxy trusts the company's CA.
 */
export async function makeCertificates(folder: string, hostNames: readonly string[], ips: readonly string[] = ['127.0.0.1', '0.0.0.0']): Promise<TestCertificates> {
  const file = (name: string) => path.join(folder, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  try {
    await run('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=Local Azure ML service test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=local-azureml-service'])
    const altNames = [...hostNames.map(h => `DNS:${h}`), ...ips.map(ip => `IP:${ip}`)].join(',')
    await writeFile(file('server.ext'), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${altNames}\n`)
    await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext')])
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT') throw new Error('Azure host names need the `openssl` command to make a test certificate; install OpenSSL.')
    throw new Error(`openssl could not make the test certificate: ${e.stderr?.trim() || e.message}`)
  }
  return {
    caFile: file('ca.pem'),
    keyFile: file('server.key'),
    certFile: file('server.pem'),
    key: await readFile(file('server.key')),
    cert: await readFile(file('server.pem')),
    ca: await readFile(file('ca.pem'))
  }
}
