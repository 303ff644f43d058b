import type { Logger } from 'pino';
import type { Algorithms } from 'ssh2';

/** One Host as the SSH layer sees it. Host keys are always checked against the pins (known_hosts). */
export interface SshTarget {
  /** Inventory name, used in messages ("host2"). */
  name: string;
  /** IPv4 address to connect to; the known_hosts pin is looked up under it. */
  host: string;
  port: number;
  /** Defaults to the pool's user. */
  user?: string;
  /** When given, pins under the FQDN count too (and must agree with those under the IP). */
  fqdn?: string;
}

export interface SshPoolOptions {
  /** PEM/OpenSSH private key contents, or the path of the key file (read on first connect). No passphrase. */
  privateKey: Buffer | string;
  knownHostsPath: string;
  user: string;
  /** TCP connect + handshake + authentication. */
  connectTimeoutMs: number;
  /** Default per-command deadline (queueing for a channel included). */
  commandTimeoutMs: number;
  /** Concurrent channels per connection; OpenSSH's MaxSessions is 10 by default. */
  maxChannelsPerConnection?: number;
  /** Close a connection after this long without a command (default 30 s). */
  idleTimeoutMs?: number;
  /** SSH-level keepalive on open connections (default 15 s; 0 disables). */
  keepaliveIntervalMs?: number;
  /** Passed to ssh2; `serverHostKey` is always narrowed to the key types pinned for the Host. */
  algorithms?: Algorithms;
  log: Logger;
}

export interface ExecOptions {
  /** Sent to the command's stdin, then EOF. Put secrets here, never in the command line. */
  stdin?: string | Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Resolve with the result instead of throwing `ssh.command_failed` on a non-zero exit. */
  allowNonZero?: boolean;
}

export interface ExecResult {
  /** Exit status; null when the command was killed by a signal. */
  code: number | null;
  /** Signal name (`SIGKILL`) when killed by one, else null. */
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Wall time of the call, queueing and connecting included. */
  ms: number;
}

export interface HostKeyProbe {
  keyType: string;
  keyBase64: string;
  /** `SHA256:…` as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** How the key compares with the pins for the Host's IP (and FQDN). */
  pinned: 'match' | 'mismatch' | 'unknown';
}

export interface WriteFileOptions {
  /** File mode, e.g. 0o644. Default: the old file's mode, or 0644 for a new file. */
  mode?: number;
  /** Keep the previous file as `<path>.bak.<timestamp>` (only when the content changes). */
  backup?: boolean;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WriteFileResult {
  changed: boolean;
  backupPath: string | undefined;
}

export interface ConnectionStats {
  key: string;
  state: 'connecting' | 'ready' | 'closed';
  activeChannels: number;
  queued: number;
  /** Channel limit in force (lowered when the server refuses sessions below the configured limit). */
  channelLimit: number;
}

export interface SshPool {
  exec(target: SshTarget, command: string | readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Reads only the server's host key (no authentication) so first contact can be confirmed and pinned. */
  probeHostKey(target: SshTarget, opts?: { signal?: AbortSignal }): Promise<HostKeyProbe>;
  writeFileAtomic(
    target: SshTarget,
    remotePath: string,
    content: string | Buffer,
    opts?: WriteFileOptions,
  ): Promise<WriteFileResult>;
  /** The file's contents (UTF-8), or null when it does not exist. */
  readFile(
    target: SshTarget,
    remotePath: string,
    opts?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<string | null>;
  stats(): ConnectionStats[];
  /** Closes every connection; later calls fail with `ssh.connect_failed` (the pool is done). */
  close(): Promise<void>;
}
