import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReadModel } from '@tasksync/platform/read-model';
import { describe, expect, it } from 'vitest';
import { dumpReadModel } from './rebuild';

describe('dumpReadModel', () => {
  it('covers every table of the schema, so replay --verify compares all of the model', () => {
    const db = openReadModel(join(mkdtempSync(join(tmpdir(), 'dump-')), 'rm.sqlite'));
    const tables = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'tasks_fts%' AND name NOT LIKE 'sqlite_%'",
        )
        .all() as { name: string }[]
    ).map((t) => t.name);
    expect(Object.keys(dumpReadModel(db)).sort()).toEqual([...tables, 'tasks_fts'].sort());
    db.close();
  });
});
