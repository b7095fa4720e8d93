import { request } from 'node:http';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { MetricsServer, type MetricsAddress, type ReadinessCheck } from '../../src/metrics/server.js';

let server: MetricsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(ready: ReadinessCheck): Promise<{ address: MetricsAddress; registry: Registry }> {
  const registry = new Registry();
  new Counter({ name: 'test_things_total', help: 'things', registers: [registry] }).inc(3);
  server = new MetricsServer({ registry, ready, logger: createLogger({ level: 'error', write: () => {} }) });
  return { address: await server.listen('127.0.0.1', 0), registry };
}

async function get(address: MetricsAddress, path: string, method = 'GET') {
  const response = await fetch(`http://${address.host}:${address.port}${path}`, { method });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe('MetricsServer', () => {
  it('serves the registry at /metrics in its content type', async () => {
    const { address, registry } = await start(() => Promise.resolve(null));
    expect(address.host).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
    const metrics = await get(address, '/metrics');
    expect(metrics).toMatchObject({ status: 200, type: registry.contentType });
    expect(metrics.body).toContain('test_things_total 3');
  });

  it('answers /healthz while running, and /readyz with the reason it is not ready', async () => {
    let problem: string | null = 'not connected to the Discord gateway';
    const { address } = await start(() => Promise.resolve(problem));
    expect(await get(address, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
    expect(await get(address, '/readyz')).toMatchObject({
      status: 503,
      body: 'not ready: not connected to the Discord gateway\n',
    });
    problem = null;
    expect(await get(address, '/readyz')).toMatchObject({ status: 200, body: 'ready\n' });
  });

  it('answers 404 to any other path and 405 to other methods', async () => {
    const { address } = await start(() => Promise.resolve(null));
    expect((await get(address, '/')).status).toBe(404);
    expect((await get(address, '/metrics/extra')).status).toBe(404);
    expect((await get(address, '/metrics', 'POST')).status).toBe(405);
    // A query string does not change the route.
    expect((await get(address, '/healthz?verbose=1')).status).toBe(200);
  });

  it('closes with a scraper still holding a keep-alive connection', async () => {
    const { address } = await start(() => Promise.resolve(null));
    const agentResponse = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: address.host,
        port: address.port,
        path: '/healthz',
        headers: { connection: 'keep-alive' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(agentResponse).toBe(200);
    await server?.close();
    await expect(get(address, '/healthz')).rejects.toThrow();
  });
});
