// What can stop the gateway before it serves anything, each as one line that
// names the port or directory and what to do: ports taken or not allowed, and
// a cache directory it cannot write. Checked before any slow work (loading the
// release, prefetching), so the operator hears at once.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.ts';

export type PortProblem = 'no-permission' | 'in-use';

/** A port the gateway was told to listen on cannot be had. */
export class PortError extends UserError {
  constructor(readonly problem: PortProblem, readonly service: string, readonly address: string, readonly port: number, message: string) {
    super(message);
  }
}

/** --cache-dir cannot be created or written. */
export class CacheDirError extends UserError {
  constructor(readonly dir: string, readonly code: string, message: string) {
    super(message);
  }
}

/** The flag that sets each service's address, and a high port to suggest, for the advice. */
const ADVICE: Record<string, { flag: string; port: number }> = {
  tftp: { flag: '--tftp', port: 6969 }, http: { flag: '--http', port: 8080 }, metrics: { flag: '--metrics', port: 9469 },
};

/** The ports `npm start` listens on (cli/start.ts), named when another gateway finds one taken. */
const NPM_START_PORTS = [6969, 8080];

/** `e`, a failure to listen, as a PortError when it is one the operator can fix; other errors unchanged. */
export function portError(e: unknown, service: string, address: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  const where = `${service} ${address}:${port}`;
  const { flag, port: high } = ADVICE[service] ?? { flag: `the ${service} address`, port: 8000 + port };
  if (code === 'EACCES') {
    // setcap last: it would let every node script on the host bind low ports.
    return new PortError('no-permission', service, address, port,
      `cannot listen on ${where}: ports below 1024 need CAP_NET_BIND_SERVICE: run the gateway as a systemd service with `
      + `AmbientCapabilities=CAP_NET_BIND_SERVICE (samples/icboot-gateway.service), or as root, or use a port above 1023, e.g. ${flag} ${address}:${high} `
      + '(last resort: setcap cap_net_bind_service=+ep on the node binary)');
  }
  if (code === 'EADDRINUSE') {
    const npmStart = NPM_START_PORTS.includes(port) ? ` (\`npm start\` holds ${NPM_START_PORTS.join(' and ')})` : '';
    return new PortError('in-use', service, address, port,
      `cannot listen on ${where}: another process holds the port${npmStart}: stop it, or choose another port with ${flag}`);
  }
  return e;
}

/** Creates `dir` if need be and checks that a file can be written in it; throws CacheDirError otherwise. */
export function checkCacheDir(dir: string): void {
  const probe = join(dir, `.icboot-write-test-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new CacheDirError(dir, code,
      `--cache-dir ${dir} is not writable (${code}): give a directory this user can create and write, or change its owner or mode`);
  }
}
