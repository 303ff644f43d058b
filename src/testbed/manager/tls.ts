/**
 * The stand-in's self-signed certificate, like a fresh flexVDI Manager's. Made once with `openssl req -x509`
 * (Node has no certificate generator) and cached next to the state file, so a restarted stand-in keeps the
 * same fingerprint and pinned clients keep working.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

const run = promisify(execFile);

export interface TlsMaterial {
  key: string;
  cert: string;
}

export const certPaths = (stateFile: string) => ({
  key: `${stateFile}.tls-key.pem`,
  cert: `${stateFile}.tls-cert.pem`,
});

/** SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it: `AB:CD:…`. */
export const fingerprintOf = (certPem: string): string => new X509Certificate(certPem).fingerprint256;

/** Names the certificate is valid for: localhost, 127.0.0.1 and the listening address (for `caFile` users). */
function subjectAltNames(host: string): string {
  const names = new Set(['DNS:localhost', 'IP:127.0.0.1']);
  if (isIP(host) && host !== '0.0.0.0' && host !== '::') names.add(`IP:${host}`);
  else if (!isIP(host)) names.add(`DNS:${host}`);
  return [...names].join(',');
}

async function makeCertificate(keyFile: string, certFile: string, host: string): Promise<void> {
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-sha256',
      '-days',
      '3650',
      '-subj',
      '/CN=flexvdi-manager-standin',
      '-addext',
      `subjectAltName=${subjectAltNames(host)}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { timeout: 30_000 },
  );
}

/** A fresh self-signed certificate for `host`, not cached anywhere (a Manager guest keeps it in its image). */
export async function generateCertificate(host: string): Promise<TlsMaterial> {
  const dir = mkdtempSync(path.join(tmpdir(), 'fv-standin-tls-'));
  try {
    await makeCertificate(path.join(dir, 'key.pem'), path.join(dir, 'cert.pem'), host);
    return {
      key: readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function ensureStandinCertificate(
  stateFile: string,
  host: string,
  log: Logger,
): Promise<TlsMaterial> {
  const paths = certPaths(stateFile);
  if (existsSync(paths.key) && existsSync(paths.cert)) {
    return { key: readFileSync(paths.key, 'utf8'), cert: readFileSync(paths.cert, 'utf8') };
  }
  const tmp = { key: `${paths.key}.${process.pid}.tmp`, cert: `${paths.cert}.${process.pid}.tmp` };
  try {
    await makeCertificate(tmp.key, tmp.cert, host);
    chmodSync(tmp.key, 0o600);
    renameSync(tmp.key, paths.key);
    renameSync(tmp.cert, paths.cert);
  } finally {
    rmSync(tmp.key, { force: true });
    rmSync(tmp.cert, { force: true });
  }
  const cert = readFileSync(paths.cert, 'utf8');
  log.info({ cert: paths.cert, fingerprint256: fingerprintOf(cert) }, 'generated a self-signed certificate');
  return { key: readFileSync(paths.key, 'utf8'), cert };
}
