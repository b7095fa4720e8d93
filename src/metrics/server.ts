import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorContext, type Logger } from '../logger.js';

/** Why the bot is not ready, in plain words, or null when it is. */
export type ReadinessCheck = () => Promise<string | null>;

export interface MetricsServerOptions {
  readonly registry: Registry;
  readonly ready: ReadinessCheck;
  readonly logger: Logger;
}

export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * The operator's window (METRICS_PORT): `GET /metrics` in Prometheus's text format, `/healthz` (200 while the
 * process runs: restart it when this fails), `/readyz` (200 when the database answers and the Discord gateway is
 * ready, else 503 with the reason); anything else is 404. Plain node:http: three routes need no framework.
 */
export class MetricsServer {
  readonly #options: MetricsServerOptions;
  readonly #server: Server;

  constructor(options: MetricsServerOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        options.logger.error('metrics request failed', errorContext(error));
        if (!response.headersSent) send(response, 500, 'internal error\n');
        else response.destroy();
      });
    });
  }

  /** Listens on `host:port` (port 0 picks a free one); resolves with the address actually bound. */
  async listen(host: string, port: number): Promise<MetricsAddress> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address() as AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Stops listening and ends open connections (a scraper's keep-alive must not hold the shutdown). */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(response, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
      return;
    }
    const path = (request.url ?? '/').split('?')[0];
    switch (path) {
      case '/metrics': {
        const { registry } = this.#options;
        send(response, 200, await registry.metrics(), { 'content-type': registry.contentType });
        return;
      }
      case '/healthz':
        send(response, 200, 'ok\n');
        return;
      case '/readyz': {
        const problem = await this.#options.ready();
        if (problem === null) send(response, 200, 'ready\n');
        else send(response, 503, `not ready: ${problem}\n`);
        return;
      }
      default:
        send(response, 404, 'not found\n');
    }
  }
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(body);
}
