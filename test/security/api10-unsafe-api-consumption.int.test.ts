import { fieldsToRecord, newId } from '@tasksync/contracts';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendRawEntry } from '../fixtures/raw-append';
import { waitFor } from '../support';
import { expectSafeProblem, redis, type System, startSystem } from './system';

afterAll(() => redis.quit());
let sys: System;
beforeEach(async () => {
  sys = await startSystem();
});
afterEach(async () => {
  await sys.stop();
});

describe('API10 unsafe consumption of APIs', () => {
  /** A log entry as a careless or hostile writer might leave it. */
  const poisonFields = (type: string, data: string, agg = newId(), rev = '0') => [
    'id',
    newId(),
    'type',
    type,
    'v',
    '1',
    'agg',
    agg,
    'rev',
    rev,
    'at',
    new Date().toISOString(),
    'actor',
    'system',
    'corr',
    'poison',
    'data',
    data,
  ];

  it('keeps the projector and the notifier going past undecodable entries in the logs', async () => {
    const member = await sys.register('member');
    const feedClient = await sys.liveFeed(member.token);
    const poisons: [string, string[]][] = [
      [sys.keys.taskLog(0), poisonFields('TaskExploded', '{}')],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', '{not json')],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', JSON.stringify({ title: '<script>' }))],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', '{}', newId(), 'minus one')],
      [sys.keys.taskLog(0), poisonFields('TaskCreated', '{}').slice(0, 6)],
      [
        sys.keys.taskLog(0),
        poisonFields('TaskCreated', `{"title":"${'x'.repeat(1_000)}"}`).map((f) =>
          f === '1' ? '99' : f,
        ),
      ],
      [
        sys.keys.identityLog,
        poisonFields('UserRegistered', JSON.stringify({ email: 'x', name: 'x', role: 'root' })),
      ],
    ];
    const poisonIds: Record<string, string[]> = {};
    for (const [log, fields] of poisons) {
      const id = (await redis.xadd(log, '*', ...fields)) as string;
      poisonIds[log] = [...(poisonIds[log] ?? []), id];
    }
    const later = await sys.register('later');
    const task = await sys.createTask(member.token, { title: 'after the poison' });

    // The projector dead-letters each poison entry and projects what follows.
    const after = { 'x-min-position': `${task.position},${later.position}` };
    const read = await sys.api.query.get(`/tasks/${task.id}`, {
      token: member.token,
      headers: after,
    });
    expect(read.status).toBe(200);
    expect(read.body.title).toBe('after the poison');
    expect(
      (await sys.api.query.get(`/users/${later.userId}`, { token: member.token, headers: after }))
        .status,
    ).toBe(200);
    for (const [log, ids] of Object.entries(poisonIds)) {
      // With one partition the task above came after the poison in its log; with
      // more (the cluster run) the poison's log is waited for here.
      const dead = await waitFor(async () => {
        const entries = (await redis.xrange(sys.keys.deadLetters(log, 'projector'), '-', '+')) as [
          string,
          string[],
        ][];
        return entries.length >= ids.length ? entries : undefined;
      });
      expect(dead.map(([, fields]) => fieldsToRecord(fields).entry)).toEqual(ids);
      // XACK follows the commit the read above waited for: nothing is left pending.
      await waitFor(async () =>
        ((await redis.xpending(log, 'projector')) as [number])[0] === 0 ? true : undefined,
      );
    }

    // The notifier skips them, counts them, and delivers what follows.
    for (const aggregateId of [task.id, later.userId]) {
      await waitFor(() => feedClient.events.find((e) => e.aggregateId === aggregateId));
    }
    const poisonPositions = Object.entries(poisonIds).flatMap(([log, ids]) =>
      ids.map((id) => `${log === sys.keys.identityLog ? 'id' : 't0'}:${id}`),
    );
    expect(feedClient.events.filter((e) => poisonPositions.includes(e.position))).toEqual([]);
    expect(feedClient.events.map((e) => e.aggregateId).sort()).toEqual(
      [later.userId, task.id].sort(),
    );
    expect(feedClient.socket.connected).toBe(true);
    const metrics = await sys.notifierMetrics.registry.getSingleMetricAsString(
      'tasksync_notifier_undecodable_events_total',
    );
    expect(metrics).toMatch(/log="t0"[^}]*\} 6$/m);
    expect(metrics).toMatch(/log="id"[^}]*\} 1$/m);
    // A client replaying both logs from their start passes over them too.
    const decodable = (
      await Promise.all(
        sys.keys
          .logs()
          .map(async (log) =>
            ((await redis.xrange(log.key, '-', '+')) as [string, string[]][]).map(
              ([id]) => `${log.name}:${id}`,
            ),
          ),
      )
    )
      .flat()
      .filter((position) => !poisonPositions.includes(position));
    const replaying = sys.connectFeed({ token: member.token, since: 't0:0-0,id:0-0' });
    await waitFor(() => (replaying.state.live ? true : undefined), {
      message: 'live after replay',
    });
    expect(replaying.events.map((e) => e.position).sort()).toEqual(decodable.sort());
  });

  it('answers a task whose stream holds an undecodable event with a generic 500, and keeps serving other tasks', async () => {
    const member = await sys.register('member');
    const [poisoned, healthy] = [
      await sys.createTask(member.token),
      await sys.createTask(member.token),
    ];
    await appendRawEntry(
      redis,
      sys.keys.taskStream(poisoned.id),
      sys.keys.taskLog(sys.keys.partitionOf(poisoned.id)),
      poisonFields('TaskExploded', '{"boom":true}', poisoned.id, '1'),
    );
    const stream = sys.keys.taskStream(poisoned.id);
    for (const [via, request] of [
      ['command', { method: 'PATCH', path: `/tasks/${poisoned.id}`, body: { title: 'x' } }],
      ['command', { method: 'POST', path: `/tasks/${poisoned.id}/comments`, body: { text: 'x' } }],
      [
        'query',
        {
          method: 'GET',
          path: `/tasks/${poisoned.id}?asOf=${encodeURIComponent(new Date().toISOString())}`,
        },
      ],
    ] as const) {
      const failed = await sys.spec[via].given(stream).when({ ...request, token: member.token });
      failed.thenAppends([]);
      const { answer } = failed;
      expectSafeProblem(answer, 500, 'internal');
      expect(answer.body).toEqual({
        type: 'urn:tasksync:problem:internal',
        title: 'Internal error',
        status: 500,
        detail: 'Something went wrong on our side.',
      });
      expect(answer.text).not.toMatch(/TaskExploded|boom|entry \d/);
    }
    expect(
      (
        await sys.api.command.patch(
          `/tasks/${healthy.id}`,
          { title: 'fine' },
          { token: member.token },
        )
      ).status,
    ).toBe(200);
    expect((await sys.api.command.get('/ready')).status).toBe(200);
  });
});
