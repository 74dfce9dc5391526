import { type DomainEvent, GENERAL_PROJECT_ID, type StoredEvent } from '@tasksync/contracts';
import { describe, expect, it } from 'vitest';
import { changesAccess, createAccessHistory, createAccessState } from './access';

const [owner, editor, stranger, boss] = ['u-owner', 'u-editor', 'u-stranger', 'u-boss'];
const project = 'p-1';
let clock = 1_000;
/** A stored event at the next entry id of its log. */
const stored = (agg: string, event: DomainEvent): StoredEvent =>
  ({
    ...event,
    id: `e-${clock}`,
    agg,
    rev: 0,
    at: new Date(clock).toISOString(),
    actor: 'system',
    corr: 'test',
    entryId: `${clock++}-0`,
  }) as StoredEvent;

const created = stored(project, {
  type: 'ProjectCreated',
  data: { name: 'P', description: '', visibility: 'private', ownerId: owner },
});
const added = stored(project, { type: 'MemberAdded', data: { userId: editor, role: 'editor' } });
const promoted = stored(boss, {
  type: 'UserRegistered',
  data: { email: 'b@example.com', name: 'B', role: 'admin' },
});
const opened = stored(project, {
  type: 'ProjectVisibilityChanged',
  data: { from: 'private', to: 'open' },
});
const removed = stored(project, { type: 'MemberRemoved', data: { userId: editor, by: owner } });
const member = (userId: string) => ({ userId, claimsAdmin: false });

describe('who sees which project (design §10)', () => {
  it('sees General before any event, a private project as its members, an open one as anyone', () => {
    const access = createAccessState();
    expect(access.sees(member(stranger), GENERAL_PROJECT_ID)).toBe(true);
    for (const event of [created, added]) access.apply(event);
    expect([owner, editor, stranger].map((u) => access.sees(member(u), project))).toEqual([
      true,
      true,
      false,
    ]);
    access.apply(opened);
    access.apply(removed);
    expect(access.sees(member(editor), project)).toBe(true);
    expect(access.membershipsOf(editor).size).toBe(0);
    expect([...access.membershipsOf(owner)]).toEqual([project]);
  });

  it('takes an admin as one when both its token and the identity log say so', () => {
    const access = createAccessState();
    access.apply(created);
    access.apply(promoted);
    expect(access.sees({ userId: boss, claimsAdmin: true }, project)).toBe(true);
    expect(access.sees({ userId: boss, claimsAdmin: false }, project)).toBe(false);
    expect(access.sees({ userId: stranger, claimsAdmin: true }, project)).toBe(false);
  });

  it('keeps only what changes access, and folds one user’s view as of any positions', () => {
    const events = [created, added, promoted, opened, removed];
    const renamed = stored(project, { type: 'ProjectDetailsChanged', data: { name: 'Q' } });
    expect([...events, renamed].map(changesAccess)).toEqual([true, true, true, true, true, false]);
    const history = createAccessHistory();
    for (const event of events) history.record(event);
    const at = (userId: string, project: string, identity = '0-0') =>
      history.viewAt(userId, { project, identity });
    expect(at(editor, created.entryId).sees(member(editor), project)).toBe(false);
    expect(at(editor, added.entryId).sees(member(editor), project)).toBe(true);
    expect(at(editor, removed.entryId).isMember(editor, project)).toBe(false);
    expect(at(stranger, added.entryId).sees(member(stranger), project)).toBe(false);
    expect(at(stranger, opened.entryId).sees(member(stranger), project)).toBe(true);
    const admin = { userId: boss, claimsAdmin: true };
    expect(at(boss, created.entryId).sees(admin, project)).toBe(false);
    expect(at(boss, created.entryId, promoted.entryId).sees(admin, project)).toBe(true);
  });
});
