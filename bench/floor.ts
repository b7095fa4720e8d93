/**
 * The loopback floor, run as its own process (like the bot): download `--images` files in parallel from
 * `--url`/img/<i> with fetch, then upload them in one multipart POST to `--url`/upload, `--reps` times.
 * Prints one JSON line: per repetition, download, upload and total milliseconds.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    images: { type: 'string', default: '1' },
    reps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
  },
});
const base = values.url;
if (!base) throw new Error('--url is required');
const images = Number(values.images);
const reps = Number(values.reps);
const warmup = Number(values.warmup);

async function once(): Promise<{ downloadMs: number; uploadMs: number; totalMs: number }> {
  const t0 = performance.now();
  const bodies = await Promise.all(
    Array.from({ length: images }, async (_, i) => {
      const response = await fetch(`${base}/img/${i}`);
      return response.arrayBuffer();
    }),
  );
  const t1 = performance.now();
  const form = new FormData();
  form.append('payload_json', JSON.stringify({ content: 'floor' }));
  for (const [i, body] of bodies.entries()) form.append(`files[${i}]`, new Blob([body], { type: 'image/png' }), `floor-${i}.png`);
  const response = await fetch(`${base}/upload`, { method: 'POST', body: form });
  await response.arrayBuffer();
  const t2 = performance.now();
  return { downloadMs: t1 - t0, uploadMs: t2 - t1, totalMs: t2 - t0 };
}

for (let i = 0; i < warmup; i += 1) await once();
const samples = [];
for (let i = 0; i < reps; i += 1) samples.push(await once());
process.stdout.write(`${JSON.stringify(samples)}\n`);
