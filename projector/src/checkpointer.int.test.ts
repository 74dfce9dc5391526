import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tasksync/platform';
import { openReadModel, openReadModelReadOnly } from '@tasksync/platform/read-model';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support';
import { MAX_WAL_FRAMES, startCheckpointer } from './checkpointer';

const logger = createLogger({ name: 'checkpointer-test', level: 'silent' });

const freshModel = () => {
  const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'rm.sqlite');
  const db = openReadModel(path);
  const insert = db.prepare(
    'INSERT INTO users (id, email, name, role, created_at, revision) VALUES (?, ?, ?, ?, ?, 0)',
  );
  let users = 0;
  const addUser = () => {
    users++;
    insert.run(`user-${users}`, `${users}@example.com`, 'x'.repeat(2_000), 'member', 'now');
  };
  const usersKept = () => ({
    added: users,
    stored: (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n,
  });
  return { path, db, addUser, usersKept };
};

describe('background WAL checkpoints', () => {
  it('copy the writer’s pages into the database file from another thread, and hand back on stop', async () => {
    const { path, db, addUser, usersKept } = freshModel();
    const checkpointer = startCheckpointer(db, logger);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const emptySize = statSync(path).size;
    for (let i = 0; i < 500; i++) addUser();
    // The writer never checkpoints now; only the worker can grow the file.
    await waitFor(() => (statSync(path).size > emptySize + 800_000 ? true : undefined));
    await checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(usersKept()).toEqual({ added: 500, stored: 500 });
    db.close();
  });

  it('start the WAL over once it has grown past its bound, where no passive checkpoint can finish', async () => {
    const { path, db, addUser, usersKept } = freshModel();
    const checkpointer = startCheckpointer(db, logger, 5);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const walFileFrames = () => (statSync(`${path}-wal`).size - 32) / (pageSize + 24);
    // Given a WAL that only grows: a reader's open snapshot keeps the worker's
    // passive checkpoints from finishing, as a writer that never pauses does,
    // and so the WAL from starting over by itself.
    const reader = openReadModelReadOnly(path);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM users').get();
    addUser();
    while (walFileFrames() <= 2 * MAX_WAL_FRAMES) addUser();
    await waitFor(() => (checkpointer.walFrames() > MAX_WAL_FRAMES ? true : undefined));

    // When the reader is done and the writer commits again, in one go (no
    // passive checkpoint could catch up with thousands of frames meanwhile)…
    reader.exec('COMMIT');
    checkpointer.afterCommit();
    addUser();
    await checkpointer.stop();

    // …then the WAL holds that one commit only: the writer started it over.
    const [wal] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number }[];
    expect(wal!.busy).toBe(0);
    expect(wal!.log).toBeLessThan(10);
    reader.close();
    const { added, stored } = usersKept();
    expect(stored).toBe(added);
    db.close();
  });
});
