import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The test cluster's certificates, made with the openssl CLI (node:crypto can sign but cannot
// build an X.509 certificate): one CA that signs the API server's serving certificate and every
// client's certificate, and the key pair that signs service-account tokens. EC P-256 keys: a
// whole set takes well under a second. Valid two days: the cluster lives for one test run.

const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;

/** A client identity: the API server reads the user from CN and its groups from O. */
export interface ClientIdentity {
  user: string;
  groups?: string[];
}

export interface KeyPair {
  cert: string;
  key: string;
}

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serving: KeyPair;
  /** Signs (private) and verifies (public) service-account tokens. */
  saKey: string;
  saPub: string;
  /** Issues a client certificate signed by the CA. */
  client(name: string, who: ClientIdentity): KeyPair;
}

const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });

function newKey(file: string): string {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  return file;
}

/** Makes the CA, the API server's serving pair and the service-account key pair in `dir`. */
export function makePki(dir: string): Pki {
  const cfg = path.join(dir, 'openssl.cnf');
  writeFileSync(cfg, CONFIG);
  const caKey = newKey(path.join(dir, 'ca.key'));
  const caCert = path.join(dir, 'ca.crt');
  openssl(['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=trainyard-test-ca', '-days', '2', '-config', cfg, '-extensions', 'ca', '-out', caCert]);

  const issue = (name: string, subject: string, profile: 'server' | 'client'): KeyPair => {
    const key = newKey(path.join(dir, `${name}.key`));
    const csr = path.join(dir, `${name}.csr`);
    const cert = path.join(dir, `${name}.crt`);
    openssl(['req', '-new', '-key', key, '-subj', subject, '-config', cfg, '-out', csr]);
    const serial = `0x${randomBytes(15).toString('hex')}`;
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caCert,
      '-CAkey',
      caKey,
      '-set_serial',
      serial,
      '-days',
      '2',
      '-extfile',
      cfg,
      '-extensions',
      profile,
      '-out',
      cert,
    ]);
    return { cert, key };
  };

  const saKey = newKey(path.join(dir, 'sa.key'));
  const saPub = path.join(dir, 'sa.pub');
  openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub]);

  return {
    dir,
    caCert,
    caKey,
    serving: issue('apiserver', '/CN=kube-apiserver', 'server'),
    saKey,
    saPub,
    client: (name, who) => {
      // openssl's -subj escapes nothing: the names here are fixed identifiers, never input.
      const subject = [...(who.groups ?? []).map((g) => `/O=${g}`), `/CN=${who.user}`].join('');
      return issue(name, subject, 'client');
    },
  };
}

/**
 * A kubeconfig (JSON is YAML, and every client reads it) that reaches `server` as `pair`'s
 * identity, with the certificates inlined so the file stands alone.
 */
export function writeKubeconfig(file: string, server: string, caCert: string, pair: KeyPair, namespace = 'default'): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'trainyard-test', cluster: { server, 'certificate-authority-data': b64(caCert) } }],
    users: [{ name: 'user', user: { 'client-certificate-data': b64(pair.cert), 'client-key-data': b64(pair.key) } }],
    contexts: [{ name: 'trainyard-test', context: { cluster: 'trainyard-test', user: 'user', namespace } }],
    'current-context': 'trainyard-test',
  };
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 });
  return file;
}
