import { expect } from 'vitest';
import type { DomainEvent, NewEvent, StoredEvent, TaskEvent } from '../events';
import { GENERAL_PROJECT_ID, newId } from '../ids';

type TaskCreated = Extract<TaskEvent, { type: 'TaskCreated' }>;

import { ProblemError } from '@tasksync/contracts';

/** A TaskCreated as a bare create decides it: every field at its default but those given. */
export const taskCreated = (
  createdBy: string,
  fields: Partial<TaskCreated['data']> = {},
): TaskCreated => ({
  type: 'TaskCreated',
  data: {
    title: 'A task',
    description: '',
    status: 'pending',
    assigneeId: null,
    priority: 'medium',
    dueDate: null,
    labels: [],
    createdBy,
    projectId: GENERAL_PROJECT_ID,
    ...fields,
  },
});

/** A CommentAdded ready to append (id, time, actor `system`), for tests of the append itself. */
export const newComment = (text: string): NewEvent => ({
  id: newId(),
  type: 'CommentAdded',
  data: { commentId: newId(), text, authorId: newId() },
  at: new Date().toISOString(),
  actor: 'system',
  corr: 'test',
});

/** Turns bare events into stored ones (revisions 0, 1, …) for Given/When/Then tests. */
export const storedEvents = <E extends DomainEvent>(
  aggregateId: string,
  events: E[],
  options: { actor?: string; startAt?: number } = {},
): StoredEvent<E>[] =>
  events.map((event, rev) => ({
    ...event,
    id: `event-${rev}`,
    agg: aggregateId,
    rev,
    at: new Date((options.startAt ?? Date.UTC(2026, 0, 1)) + rev * 1000).toISOString(),
    actor: options.actor ?? 'system',
    corr: 'test',
    entryId: `${1_000 + rev}-0`,
  }));

/**
 * Given/When/Then for a decider: given these past events, when this command,
 * then exactly these new events, or this error status and problem type.
 */
export const deciderSpec =
  <State, Command, Ctx, E extends DomainEvent>(options: {
    fold: (events: StoredEvent<E>[]) => State;
    decide: (state: State, command: Command, ctx: Ctx) => E[];
    aggregateId: string;
  }) =>
  (given: E[]) => ({
    when: (command: Command, ctx: Ctx) => {
      const run = () =>
        options.decide(options.fold(storedEvents(options.aggregateId, given)), command, ctx);
      return {
        thenAppends: (expected: E[]) => expect(run()).toEqual(expected),
        thenFails: (status: number, slug: string) => {
          let caught: unknown;
          try {
            run();
          } catch (error) {
            caught = error;
          }
          expect(caught, 'decide should have thrown').toBeInstanceOf(ProblemError);
          expect({
            status: (caught as ProblemError).status,
            slug: (caught as ProblemError).slug,
          }).toEqual({
            status,
            slug,
          });
        },
      };
    },
  });
