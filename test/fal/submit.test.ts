import { ApiError } from '@fal-ai/client';
import { describe, expect, it } from 'vitest';
import { SubmitOutcomeUnknown, guardSubmitRetries } from '../../src/fal/submit.js';

/** A network failure as undici's fetch reports it: `TypeError: fetch failed` with the socket error as cause. */
function fetchFailed(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
}

const submit = { method: 'POST', body: '{"prompt":"x"}' };

describe('guardSubmitRetries', () => {
  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'])(
    'passes on %s unchanged, so the client retries a submit that was never sent',
    async (code) => {
      const error = fetchFailed(code);
      const fetch = guardSubmitRetries(() => Promise.reject(error));
      await expect(fetch('https://queue.fal.run/fal-ai/imagen4/preview', submit)).rejects.toBe(error);
    },
  );

  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'EPIPE'])(
    'turns %s after sending into SubmitOutcomeUnknown, which the client does not retry',
    async (code) => {
      const error = fetchFailed(code);
      const fetch = guardSubmitRetries(() => Promise.reject(error));
      const thrown = await fetch('https://queue.fal.run/fal-ai/imagen4/preview', submit).catch((e: unknown) => e);
      expect(thrown).toBeInstanceOf(SubmitOutcomeUnknown);
      expect((thrown as SubmitOutcomeUnknown).failure).toBe(error);
    },
  );

  it('turns a 5xx answer into SubmitOutcomeUnknown carrying the ApiError the client would have built', async () => {
    const answer = new Response(JSON.stringify({ detail: 'upstream trouble' }), {
      status: 503,
      statusText: 'Service Unavailable',
      headers: { 'content-type': 'application/json', 'x-fal-request-id': 'req-1' },
    });
    const fetch = guardSubmitRetries(() => Promise.resolve(answer));
    const thrown = await fetch('https://queue.fal.run/fal-ai/imagen4/preview', submit).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(SubmitOutcomeUnknown);
    const failure = (thrown as SubmitOutcomeUnknown).failure;
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 503, body: { detail: 'upstream trouble' }, requestId: 'req-1' });
  });

  it('leaves 429 and other answers, and every non-POST request, to the client', async () => {
    const tooMany = new Response('{}', { status: 429 });
    expect(await guardSubmitRetries(() => Promise.resolve(tooMany))('https://queue.fal.run/x', submit)).toBe(tooMany);
    const error = fetchFailed('ECONNRESET');
    const poll = guardSubmitRetries(() => Promise.reject(error));
    await expect(poll('https://queue.fal.run/fal-ai/imagen4/requests/1/status', { method: 'GET' })).rejects.toBe(error);
    const busy = new Response('{}', { status: 503 });
    expect(
      await guardSubmitRetries(() => Promise.resolve(busy))('https://queue.fal.run/fal-ai/imagen4/requests/1', {
        method: 'GET',
      }),
    ).toBe(busy);
  });
});
