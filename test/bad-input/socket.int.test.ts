import { randomBytes } from 'node:crypto';
import { type KeyLayout, newId } from '@tasksync/contracts';
import { taskCreated } from '@tasksync/contracts/testing';
import { appendToStream } from '@tasksync/platform';
import fc from 'fast-check';
import type { Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { forgedTokens, waitFor } from '../support';
import { printable } from './arbitraries';
import {
  errorsLogged,
  forger,
  redis,
  registeredUser,
  SECRET,
  STACK_TRACE,
  startNotifier,
  tokens,
} from './services';

afterAll(() => redis.quit());

type HandshakeError = Error & { data?: { status?: number; detail?: string } };
type HandshakeOutcome =
  | { kind: 'connected' }
  | { kind: 'refused'; error: HandshakeError }
  | { kind: 'closed'; reason: string }
  | { kind: 'no answer' };

/**
 * How a handshake ends: accepted, refused (`connect_error`), cut (`disconnect`),
 * or not at all within 3 s (a hang, which no outcome may be).
 */
const handshakeOutcome = (socket: Socket) =>
  new Promise<HandshakeOutcome>((resolve) => {
    const hang = setTimeout(() => end({ kind: 'no answer' }), 3_000);
    // Resolved before disconnecting: disconnect() emits its own 'disconnect' at once.
    const end = (outcome: HandshakeOutcome) => {
      clearTimeout(hang);
      resolve(outcome);
      socket.disconnect();
    };
    socket.once('connect', () => end({ kind: 'connected' }));
    socket.once('connect_error', (error) => end({ kind: 'refused', error }));
    socket.once('disconnect', (reason) => end({ kind: 'closed', reason }));
  });

/** Appends one TaskCreated as the command-service would. */
const appendTaskCreated = async (keys: KeyLayout, actor: string) => {
  const taskId = newId();
  const result = await appendToStream(redis, {
    streamKey: keys.taskStream(taskId),
    logKey: keys.taskLog(keys.partitionOf(taskId)),
    aggregateId: taskId,
    expectedRevision: 'none',
    events: [
      {
        id: newId(),
        ...taskCreated(actor, { title: 'still served' }),
        at: new Date().toISOString(),
        actor,
        corr: 'bad-input',
      },
    ],
  });
  expect(result.outcome).toBe('appended');
  return taskId;
};

describe('notifier handshake under bad input', () => {
  it('refuses garbage auth with connect_error unauthorized/401 or bad-handshake/400, and keeps serving', async () => {
    const notifier = await startNotifier();
    const { userId } = await registeredUser(notifier.keys);
    const expired = (await forgedTokens(userId)).expired(SECRET);
    const valid = tokens.sign({ userId, role: 'member' }).token;
    const nonString = fc.oneof(
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.object({ maxDepth: 1 }),
    );
    const token = fc.oneof(
      fc.constant({ kind: 'missing' as const, value: undefined as unknown }),
      nonString.map((value) => ({ kind: 'missing' as const, value })),
      fc.constant({ kind: 'missing' as const, value: '' }),
      fc.string({ minLength: 1, maxLength: 300 }).map((value) => ({ kind: 'bad' as const, value })),
      fc
        .array(fc.base64String({ minLength: 4, maxLength: 60 }), { minLength: 3, maxLength: 3 })
        .map((parts) => ({ kind: 'bad' as const, value: parts.join('.') })),
      fc.constantFrom(
        { kind: 'bad' as const, value: forger.sign({ userId, role: 'admin' }).token },
        { kind: 'bad' as const, value: expired },
        { kind: 'bad' as const, value: `${valid}x` },
      ),
      fc
        .integer({ min: 8_193, max: 12_000 })
        .map((n) => ({ kind: 'tooLong' as const, value: 'x'.repeat(n) })),
      fc.constant({ kind: 'valid' as const, value: valid as unknown }),
    );
    const since = fc.oneof(
      fc.constant({ bad: false, value: undefined as unknown }),
      fc.constantFrom('', 't0:0-0', 'id:0-0, t0:0-0').map((value) => ({ bad: false, value })),
      fc.string({ unit: printable, maxLength: 60 }).map((s) => ({ bad: true, value: `x${s}` })),
      nonString.map((value) => ({ bad: true, value })),
      fc.integer({ min: 21, max: 60 }).map((digits) => ({
        bad: true,
        value: `t0:${'9'.repeat(digits)}-0`,
      })),
      // Over the 4,000 characters a position list may have, yet well inside a 16 KB frame.
      fc
        .integer({ min: 450, max: 1_200 })
        .map((count) => Array.from({ length: count }, (_, i) => `t0:${i}-0`).join(','))
        .filter((list) => list.length > 4_000)
        .map((value) => ({ bad: true, value })),
    );
    const tasks = fc.oneof(
      fc.constant({ bad: false, value: undefined as unknown }),
      fc
        .uniqueArray(fc.uuid({ version: 7 }), { minLength: 1, maxLength: 5 })
        .map((value) => ({ bad: false, value })),
      fc.constant({ bad: true, value: [] }),
      nonString
        .filter((value) => !Array.isArray(value) || value.length > 0)
        .map((value) => ({ bad: true, value })),
      fc
        .tuple(fc.array(fc.uuid({ version: 7 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 }))
        .filter(([, odd]) => typeof odd !== 'string' || !/^[0-9a-f-]{36}$/i.test(odd))
        .map(([ids, odd]) => ({ bad: true, value: [...ids, odd] })),
      fc.integer({ min: 101, max: 150 }).map((n) => ({
        bad: true,
        value: Array.from({ length: n }, () => newId()),
      })),
    );
    const extra = fc.dictionary(
      fc.string({ maxLength: 10 }).filter((name) => !['token', 'since', 'tasks'].includes(name)),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 3 },
    );
    const handshake = fc
      .record({
        token,
        since,
        tasks,
        extra,
        transport: fc.constantFrom('websocket' as const, 'polling' as const),
      })
      .filter((h) => h.token.kind !== 'valid' || h.since.bad || h.tasks.bad)
      .map((h) => {
        const auth: Record<string, unknown> = { ...h.extra };
        if (h.token.value !== undefined) auth.token = h.token.value;
        if (h.since.value !== undefined) auth.since = h.since.value;
        if (h.tasks.value !== undefined) auth.tasks = h.tasks.value;
        return { ...h, auth };
      })
      // A CONNECT frame over 16 KB is cut instead: the next test covers that.
      .filter((h) => JSON.stringify(h.auth).length < 15_000);

    const bystander = notifier.connect({ token: valid });
    await new Promise<void>((resolve) => bystander.once('connect', () => resolve()));

    await fc.assert(
      fc.asyncProperty(handshake, async (h) => {
        const outcome = await handshakeOutcome(notifier.connect(h.auth, h.transport));
        expect(outcome.kind, JSON.stringify(outcome)).toBe('refused');
        const { message, data } = (outcome as { error: HandshakeError }).error;
        const refusal = { message, status: data?.status };
        const unauthorized = { message: 'unauthorized', status: 401 };
        const badHandshake = { message: 'bad-handshake', status: 400 };
        const shapeBad = h.since.bad || h.tasks.bad || h.token.kind === 'tooLong';
        if (h.token.kind === 'missing' || !shapeBad) expect(refusal).toEqual(unauthorized);
        else if (h.token.kind === 'valid') expect(refusal).toEqual(badHandshake);
        // Both a bad token and a bad shape: either refusal is right.
        else expect([unauthorized, badHandshake]).toContainEqual(refusal);
        expect(data?.detail).toEqual(expect.any(String));
        expect(data?.detail).not.toMatch(STACK_TRACE);
      }),
      { numRuns: 60 },
    );

    expect(bystander.connected).toBe(true);
    const fresh = notifier.connect({ token: valid });
    expect(await handshakeOutcome(fresh)).toEqual({ kind: 'connected' });
    expect((await fetch(`${notifier.url}/health`)).status).toBe(200);
    expect(errorsLogged(notifier.lines)).toEqual([]);
  });

  it('cuts a connection that sends a frame over 16 KB, or a handshake over 16 KB, and keeps serving the others', async () => {
    const notifier = await startNotifier();
    const { userId, token } = await registeredUser(notifier.keys);
    const live = (socket: Socket) =>
      new Promise<void>((resolve) => socket.once('live', () => resolve()));
    const bystander = notifier.connect({ token });
    const received: string[] = [];
    bystander.on('event', (event: { aggregateId: string }) => received.push(event.aggregateId));
    await live(bystander);

    const oversized = fc.oneof(
      fc
        .integer({ min: 16_385, max: 64_000 })
        .map((size) => ({ kind: 'frame' as const, payload: 'x'.repeat(size) as unknown })),
      fc
        .integer({ min: 16_385, max: 64_000 })
        .map((size) => ({ kind: 'frame' as const, payload: randomBytes(size) as unknown })),
      fc
        .integer({ min: 16_385, max: 40_000 })
        .map((size) => ({ kind: 'handshake' as const, payload: 'x'.repeat(size) as unknown })),
    );
    await fc.assert(
      fc.asyncProperty(oversized, async ({ kind, payload }) => {
        if (kind === 'handshake') {
          const outcome = await handshakeOutcome(notifier.connect({ token, pad: payload }));
          expect(outcome.kind).not.toBe('connected');
        } else {
          const flooding = notifier.connect({ token });
          await live(flooding);
          const cut = new Promise((resolve) => flooding.once('disconnect', resolve));
          flooding.emit('anything', payload);
          expect(await cut).toBe('transport close');
        }
        expect(bystander.connected).toBe(true);
      }),
      { numRuns: 12 },
    );

    // The others are still served: the bystander gets a new event, a new client goes live.
    const taskId = await appendTaskCreated(notifier.keys, userId);
    await waitFor(() => (received.includes(taskId) ? true : undefined), {
      message: 'the bystander to receive the new event',
    });
    const fresh = notifier.connect({ token });
    await live(fresh);
    expect(fresh.connected).toBe(true);
    expect(errorsLogged(notifier.lines)).toEqual([]);
  });
});
