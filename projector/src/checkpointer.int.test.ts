import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@tasksync/platform';
import { openReadModel } from '@tasksync/platform/read-model';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support';
import { startCheckpointer } from './checkpointer';

const logger = createLogger({ name: 'checkpointer-test', level: 'silent' });

describe('background WAL checkpoints', () => {
  it('copy the writer’s pages into the database file from another thread, and hand back on stop', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ckpt-')), 'rm.sqlite');
    const db = openReadModel(path);
    const checkpointer = startCheckpointer(db, logger);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const emptySize = statSync(path).size;
    const insert = db.prepare(
      'INSERT INTO users (id, email, name, role, created_at, revision) VALUES (?, ?, ?, ?, ?, 0)',
    );
    for (let i = 0; i < 2_000; i++) {
      insert.run(`user-${i}`, `${i}@example.com`, 'x'.repeat(200), 'member', 'now');
      checkpointer.afterCommit();
    }
    // The writer never checkpoints now; only the worker can grow the file.
    await waitFor(() => (statSync(path).size > emptySize + 400_000 ? true : undefined));
    await checkpointer.stop();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(db.prepare('SELECT count(*) AS n FROM users').get()).toEqual({ n: 2_000 });
    db.close();
  });
});
