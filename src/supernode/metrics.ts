import { createServer, type Server } from 'node:http'

export interface MetricSample {
  name: string
  help: string
  type: 'counter' | 'gauge'
  value: number
}

/** Prometheus text exposition format 0.0.4: HELP, TYPE and one unlabelled sample per metric. */
export function formatPrometheus(samples: MetricSample[]): string {
  const lines: string[] = []
  for (const s of samples) {
    lines.push(`# HELP ${s.name} ${s.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    lines.push(`# TYPE ${s.name} ${s.type}`)
    lines.push(`${s.name} ${Number.isFinite(s.value) ? s.value : 0}`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * `GET /metrics` on its own port, without the API token. Why not the local
 * API: its bearer token changes on every daemon start, which a Prometheus
 * scraper cannot follow, and the API can act (shutdown, calls); this port only
 * reads counters, with no identities, keys or peer addresses in them. It binds
 * 127.0.0.1 unless the operator names another host (docs/ADMIN.md).
 */
export class MetricsServer {
  private readonly server: Server
  constructor(collect: () => MetricSample[]) {
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n')
        return
      }
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(formatPrometheus(collect()))
    })
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        const addr = this.server.address()
        resolve({ host, port: typeof addr === 'object' && addr !== null ? addr.port : port })
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
