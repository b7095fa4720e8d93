/**
 * The loopback floor, run as its own process (like the bot): download `--images` files in parallel from
 * `--url`/img/<i>, then upload all their bytes in one POST to `--url`/upload, `--reps` times, with plain
 * node:http and a keep-alive agent (no fetch, no multipart encoding: the bare cost of moving the bytes).
 * Prints one JSON line: per repetition, download, upload and total milliseconds.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    images: { type: 'string', default: '1' },
    reps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
  },
});
if (!values.url) throw new Error('--url is required');
const base = new URL(values.url);
const images = Number(values.images);
const reps = Number(values.reps);
const warmup = Number(values.warmup);
const agent = new Agent({ keepAlive: true });

function get(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request({ host: base.hostname, port: base.port, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks)));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

function post(path: string, bodies: readonly Buffer[]): Promise<void> {
  const length = bodies.reduce((sum, b) => sum + b.length, 0);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-length': length, 'content-type': 'application/octet-stream' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve());
      },
    );
    req.on('error', reject);
    for (const body of bodies) req.write(body);
    req.end();
  });
}

async function once(): Promise<{ downloadMs: number; uploadMs: number; totalMs: number }> {
  const t0 = performance.now();
  const bodies = await Promise.all(Array.from({ length: images }, (_, i) => get(`/img/${i}`)));
  const t1 = performance.now();
  await post('/upload', bodies);
  const t2 = performance.now();
  return { downloadMs: t1 - t0, uploadMs: t2 - t1, totalMs: t2 - t0 };
}

for (let i = 0; i < warmup; i += 1) await once();
const samples = [];
for (let i = 0; i < reps; i += 1) samples.push(await once());
agent.destroy();
process.stdout.write(`${JSON.stringify(samples)}\n`);
