/**
 * An nginx configuration (Debian's nginx) for N `loraroute serve` replicas behind one address, with
 * server-sent events passed through as they come (no proxy buffering) — docs/serving.md shows its output.
 * Replicas are stateless apart from adapters loaded at run time, so any replica can take any request.
 */
export interface NginxOptions {
  /** host:port nginx listens on. */
  listen: string;
  /** host:port of each replica. */
  upstreams: string[];
  /** Folder for nginx's pid, logs and temp files (a self-contained instance); default: the system's. */
  prefix?: string;
  /** `user` directive (only for an nginx started as root that must keep root's file access). */
  user?: string;
  /** client_max_body_size (default 1m, as the server's own limit). */
  maxBody?: string;
}

export function nginxConfig(o: NginxOptions): string {
  const p = o.prefix;
  const at = (f: string) => (p ? `${p}/${f}` : null);
  const lines = [
    ...(o.user ? [`user ${o.user};`] : []),
    'worker_processes 1;',
    ...(p ? [`pid ${at('nginx.pid')};`, `error_log ${at('error.log')} warn;`] : []),
    'events { worker_connections 1024; }',
    'http {',
    ...(p ? [
      `  access_log ${at('access.log')};`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${at(t + '_temp')};`),
    ] : []),
    '  upstream loraroute {',
    '    least_conn;                       # a long generation keeps its replica busy: send new work elsewhere',
    ...o.upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=5s;`),
    '    keepalive 32;',
    '  }',
    '  server {',
    `    listen ${o.listen};`,
    `    client_max_body_size ${o.maxBody ?? '1m'};`,
    '    location / {',
    '      proxy_pass http://loraroute;',
    '      proxy_http_version 1.1;          # keep-alive to the replicas',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '      proxy_buffering off;             # stream: true — pass every event on at once',
    '      proxy_cache off;',
    '      proxy_read_timeout 600s;         # long generations',
    '      proxy_next_upstream error timeout http_503;   # a replica shutting down answers 503: try another',
    '      add_header X-Upstream $upstream_addr always;',
    '    }',
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}
