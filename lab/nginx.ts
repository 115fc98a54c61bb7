// nginx as the peer the gateway's HTTP is measured against: a plain static
// server of a tree from disk, set up as an operator would (sendfile, a worker
// per core, keep-alive, an access log), with every path it writes kept in
// `dir`. Not Debian's tcp_nopush: with it, each keep-alive response's tail
// waits out the client's delayed ACK (40 ms per 64 KiB range here), and the
// peer would be measured at its worst.

/** nginx.conf serving `root` on `listen` (HOST:PORT); pid, logs and temporary files go in `dir`. */
export function nginxConfig(dir: string, listen: string, root: string): string {
  return [
    // Workers as root: the directories tests and benchmarks make are private to root (mkdtemp's 0700).
    'user root;', 'worker_processes auto;', `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'events { worker_connections 1024; }',
    'http {',
    `  access_log ${dir}/access.log;`, '  sendfile on;', '  keepalive_timeout 65;', '  default_type application/octet-stream;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    `  server { listen ${listen}; root ${root}; }`,
    '}', '',
  ].join('\n');
}
