import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventDecoder, decodeEvent, EventDecodeError } from './events';

const fields = (overrides: Record<string, string> = {}) => ({
  id: '0190b6a0-0000-7000-8000-0000000000e1',
  type: 'TaskStatusChanged',
  v: '1',
  agg: '0190b6a0-0000-7000-8000-000000000001',
  rev: '3',
  at: '2026-11-24T10:00:00.000Z',
  actor: 'system',
  corr: 'req-1',
  data: JSON.stringify({ from: 'pending', to: 'in-progress' }),
  ...overrides,
});

describe('decodeEvent', () => {
  it('turns a stream entry into a typed event with its envelope', () => {
    expect(decodeEvent('1-0', fields())).toEqual({
      type: 'TaskStatusChanged',
      data: { from: 'pending', to: 'in-progress' },
      id: '0190b6a0-0000-7000-8000-0000000000e1',
      agg: '0190b6a0-0000-7000-8000-000000000001',
      rev: 3,
      at: '2026-11-24T10:00:00.000Z',
      actor: 'system',
      corr: 'req-1',
      entryId: '1-0',
    });
  });

  it.each([
    ['an unknown type', { type: 'TaskExploded' }, /unknown type TaskExploded/],
    ['a newer version', { v: '2' }, /v2 is newer than this reader/],
    ['data that is not JSON', { data: '{' }, /data is not JSON/],
    [
      'data that breaks the schema',
      { data: JSON.stringify({ from: 'pending', to: 'done' }) },
      /not a valid TaskStatusChanged v1/,
    ],
    ['a missing envelope field', { rev: '' }, /malformed envelope/],
  ])('refuses %s instead of dropping it silently', (_name, overrides, message) => {
    expect(() => decodeEvent('1-0', fields(overrides))).toThrow(EventDecodeError);
    expect(() => decodeEvent('1-0', fields(overrides))).toThrow(message);
  });

  it('upcasts older versions one step at a time before validating', () => {
    // A future TaskStatusChanged v3 whose payload grew a reason: v1 → v2 renames, v2 → v3 adds.
    const V3 = z.object({
      type: z.literal('TaskStatusChanged'),
      data: z.strictObject({ from: z.string(), to: z.string(), reason: z.string() }),
    });
    const decode = createEventDecoder(
      { TaskStatusChanged: 3 },
      {
        TaskStatusChanged: {
          1: (data) => ({ ...(data as object), renamed: true }),
          2: (data) => {
            const { renamed: _renamed, ...rest } = data as { renamed: boolean };
            return { ...rest, reason: 'unknown' };
          },
        },
      },
      new Map([['TaskStatusChanged', V3.shape.data]]),
    );
    expect(decode('1-0', fields()).data).toEqual({
      from: 'pending',
      to: 'in-progress',
      reason: 'unknown',
    });
    const noPath = createEventDecoder({ TaskStatusChanged: 2 }, {});
    expect(() => noPath('1-0', fields())).toThrow(/no upcaster for TaskStatusChanged v1/);
  });
});
