import { ApiError, ValidationError } from '@fal-ai/client';
import { describe, expect, it } from 'vitest';
import { classifyFalError } from '../../src/fal/errors.js';

const api = (status: number, body?: unknown) => new ApiError({ message: 'x', status, body });

describe('classifyFalError', () => {
  it('recognises a safety block', () => {
    const error = new ValidationError({
      message: 'Unprocessable',
      status: 422,
      body: {
        detail: [{ loc: ['body', 'prompt'], msg: 'flagged by a content checker', type: 'content_policy_violation' }],
      },
    });
    expect(classifyFalError(error)).toEqual({ kind: 'safety' });
  });

  it('names the field of other 422s', () => {
    const error = new ValidationError({
      message: 'Unprocessable',
      status: 422,
      body: { detail: [{ loc: ['body', 'aspect_ratio'], msg: 'Input should be 1:1', type: 'enum' }] },
    });
    expect(classifyFalError(error)).toEqual({ kind: 'invalid_input', field: 'aspect_ratio' });
  });

  it('tells a bad key from an empty account', () => {
    expect(classifyFalError(api(401, { detail: 'No user found for Key ID and Secret' }))).toEqual({
      kind: 'unauthorized',
    });
    expect(classifyFalError(api(403, { detail: 'User is locked. Reason: Exhausted balance.' }))).toEqual({
      kind: 'no_credit',
    });
    expect(classifyFalError(api(403, { detail: 'Forbidden' }))).toEqual({ kind: 'unauthorized' });
  });

  it('treats 429, 5xx and network failures as busy', () => {
    for (const status of [429, 500, 502, 503, 504]) expect(classifyFalError(api(status))).toEqual({ kind: 'busy' });
    expect(classifyFalError(new TypeError('fetch failed'))).toEqual({ kind: 'busy' });
  });

  it('falls back to unknown', () => {
    expect(classifyFalError(api(418))).toEqual({ kind: 'unknown' });
    expect(classifyFalError('weird')).toEqual({ kind: 'unknown' });
  });
});
