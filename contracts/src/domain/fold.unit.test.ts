import { describe, expect, it } from 'vitest';
import type { TaskEvent, UserEvent } from '../events';
import { GENERAL_PROJECT_ID } from '../ids';
import { storedEvents } from '../testing';
import { foldTask } from './task';
import { foldUser, publicProfile } from './user';

const taskId = '0190b6a0-0000-7000-8000-000000000001';
const alice = '0190b6a0-0000-7000-8000-0000000000a1';
const bob = '0190b6a0-0000-7000-8000-0000000000b1';

describe('foldTask', () => {
  it('folds a task through every event type', () => {
    const events: TaskEvent[] = [
      {
        type: 'TaskCreated',
        data: {
          title: 'T',
          description: '',
          status: 'pending',
          assigneeId: null,
          priority: 'medium',
          dueDate: null,
          labels: [],
          createdBy: alice,
          projectId: GENERAL_PROJECT_ID,
        },
      },
      { type: 'TaskDetailsChanged', data: { title: 'T2', labels: ['x'], dueDate: '2026-12-01' } },
      { type: 'TaskStatusChanged', data: { from: 'pending', to: 'in-progress' } },
      { type: 'TaskAssigned', data: { assigneeId: bob, previous: null } },
      { type: 'CommentAdded', data: { commentId: taskId, text: 'hi', authorId: bob } },
      { type: 'CommentAdded', data: { commentId: alice, text: 'ho', authorId: alice } },
    ];
    const stored = storedEvents(taskId, events);
    expect(foldTask(stored)).toEqual({
      id: taskId,
      projectId: GENERAL_PROJECT_ID,
      title: 'T2',
      description: '',
      status: 'in-progress',
      assigneeId: bob,
      priority: 'medium',
      dueDate: '2026-12-01',
      labels: ['x'],
      createdBy: alice,
      createdAt: stored[0]!.at,
      updatedAt: stored[5]!.at,
      revision: 5,
      commentCount: 2,
      deleted: false,
    });
    expect(
      foldTask(storedEvents(taskId, [...events, { type: 'TaskDeleted', data: {} }])),
    ).toMatchObject({ deleted: true, revision: 6 });
  });

  it('ignores events before a TaskCreated (no state to change)', () => {
    expect(foldTask(storedEvents(taskId, [{ type: 'TaskDeleted', data: {} }]))).toBeNull();
  });
});

describe('foldUser and publicProfile', () => {
  const events: UserEvent[] = [
    { type: 'UserRegistered', data: { email: 'a@example.com', name: 'A', role: 'member' } },
    { type: 'UserRoleChanged', data: { from: 'member', to: 'admin' } },
  ];
  const user = foldUser(storedEvents(alice, events))!;

  it('folds registration and role changes', () => {
    expect(user).toMatchObject({
      id: alice,
      email: 'a@example.com',
      name: 'A',
      role: 'admin',
      revision: 1,
    });
  });

  it('shows the e-mail only to the user and to admins', () => {
    expect(publicProfile(user)).not.toHaveProperty('email');
    expect(publicProfile(user, { userId: bob, role: 'member' })).not.toHaveProperty('email');
    expect(publicProfile(user, { userId: alice, role: 'member' }).email).toBe('a@example.com');
    expect(publicProfile(user, { userId: bob, role: 'admin' }).email).toBe('a@example.com');
  });
});
