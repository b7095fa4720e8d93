import { createFalClient, type FalClient } from '@fal-ai/client';
import { fetch as undiciFetch } from 'undici';
import { LoopPacer } from '../shared/pacer.js';
import { guardSubmitRetries } from './submit.js';

/**
 * Builds the fal client the bot uses, with no global configuration (fal-js's factory style).
 * When `baseUrl` is set, every queue call (submit, status, result, cancel) goes there instead of
 * `https://queue.fal.run`: that is how tests reach a loopback fake, and how an operator puts a proxy in front.
 * (`proxyUrl` as a plain string does nothing in Node, so the override is a request middleware.)
 */
export function createFal(options: { key: string; baseUrl?: string | undefined; pacer?: LoopPacer }): FalClient {
  const { baseUrl } = options;
  const pacer = options.pacer ?? new LoopPacer();
  return createFalClient({
    credentials: options.key,
    // undici's own fetch, the HTTP client discord.js already loads (Node's global fetch is a second copy of
    // undici, with its own WebAssembly parser to compile), and requests start one per loop turn so a burst of
    // submissions or status polls does not hold up interaction acknowledgements. A submit fal may have
    // received is not retried (./submit.ts).
    fetch: guardSubmitRetries(((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
      pacer.run(() => undiciFetch(input, init))) as unknown as typeof fetch),
    ...(baseUrl && {
      requestMiddleware: (request) =>
        Promise.resolve({ ...request, url: request.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, baseUrl) }),
    }),
  });
}
