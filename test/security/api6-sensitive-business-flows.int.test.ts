import { randomBytes } from 'node:crypto';
import { readRevisionCount } from '@tasksync/platform';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonAnswer } from '../support';
import { readEventsOf } from '../support';
import { type Member, redis, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

describe('API6 unrestricted access to sensitive business flows', () => {
  it('answers a repeated Idempotency-Key with the first answer and one event; another body is 422 and appends nothing', async () => {
    const [member, other] = [await sys.register('member'), await sys.register('other')];
    const send = (body: object, who: Member = member) =>
      sys.api.command.post('/tasks', body, {
        token: who.token,
        headers: { 'idempotency-key': 'order-42' },
      });
    const copies: JsonAnswer[] = [];
    const raced = await sys.spec.command.when(async () => {
      copies.push(
        ...(await Promise.all(Array.from({ length: 5 }, () => send({ title: 'Pay once' })))),
      );
      return copies[0]!;
    });
    for (const copy of copies) {
      expect(copy.status).toBe(201);
      expect(copy.body).toEqual(copies[0]!.body);
    }
    const taskId = copies[0]!.body.id as string;
    const stream = sys.keys.taskStream(taskId);
    raced.thenAppends([{ type: 'TaskCreated', agg: taskId, rev: 0 }]);
    expect(await readEventsOf(redis, stream)).toEqual(raced.appended);
    const replay = await sys.spec.command.given(stream).when(() => send({ title: 'Pay once' }));
    replay.thenAnswers(201, copies[0]!.body).thenAppends([]);
    expect(replay.answer.headers.get('idempotent-replayed')).toBe('true');
    (await sys.spec.command.given(stream).when(() => send({ title: 'Pay twice' })))
      .thenFails(422, 'idempotency-key-reused')
      .thenAppends([]);
    // The key is the member's own: another member's same key makes its own task.
    const theirs = await send({ title: 'Pay once' }, other);
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).not.toBe(taskId);
    expect(await readRevisionCount(redis, stream)).toBe(1);
  });

  it('counts parallel login guesses before checking them: 15 at once are exactly 10 × 401 and 5 × 429', async () => {
    const target = await sys.register('target');
    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        sys.api.identity.post('/auth/login', { email: target.email, password: `guess-${i}-wrong` }),
      ),
    );
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([...Array(10).fill(401), ...Array(5).fill(429)]);
  });

  it('registers one account per e-mail even when registrations race: one 201, the rest 409', async () => {
    const email = `race-${randomBytes(4).toString('hex')}@example.com`;
    const answers: JsonAnswer[] = [];
    const raced = await sys.spec.identity.when(async () => {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            sys.api.identity.post(i % 2 ? '/users/register' : '/auth/register', {
              email: i % 3 ? email.toUpperCase() : email,
              password: `password-${i}-long`,
            }),
          ),
        )),
      );
      return answers[0]!;
    });
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    raced.thenAppends([
      { type: 'UserRegistered', data: { email, name: expect.any(String), role: 'member' } },
    ]);
    const winner = answers.findIndex((answer) => answer.status === 201);
    const logins = await Promise.all(
      answers.map((_, i) =>
        sys.api.identity.post('/auth/login', { email, password: `password-${i}-long` }),
      ),
    );
    expect(logins.map((login, i) => [i, login.status])).toEqual(
      answers.map((_, i) => [i, i === winner ? 200 : 401]),
    );
  });
});
