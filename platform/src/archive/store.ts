import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { SegmentInfo } from './segment';

export const MANIFEST_FORMAT = 'tasksync-archive-manifest/1';

/** One log's archive: its segments in id order, each after the one before. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  log: string;
  segments: SegmentInfo[];
}

export const emptyManifest = (log: string): Manifest => ({
  format: MANIFEST_FORMAT,
  log,
  segments: [],
});

/** The last entry id the archive holds for a log (undefined: none). */
export const archivedThrough = (manifest: Manifest) => manifest.segments.at(-1)?.last;

/**
 * Where segments and manifests are kept, per log (by its name: `t0`, `p`,
 * `id`). Shaped for an object store as the next backend: whole objects put
 * and got by name, a put replaces atomically and is durable when it resolves,
 * nothing is appended to or renamed by the caller.
 */
export interface ArchiveStore {
  /** Where it keeps things, for logs. */
  readonly location: string;
  /** The log's manifest, an empty one when it has none. Cheap to call again while it is unchanged. */
  readManifest(log: string): Promise<Manifest>;
  /** Replaces the manifest atomically: readers see the old one or the new one, durably once this resolves. */
  writeManifest(manifest: Manifest): Promise<void>;
  /** Stores a segment durably, replacing one of the same name (an orphan a crashed run left). */
  writeSegment(log: string, file: string, bytes: Buffer): Promise<void>;
  readSegment(log: string, file: string): Promise<Buffer>;
  /** Segment names present, listed or not (orphans among them). */
  listSegments(log: string): Promise<string[]>;
  deleteSegment(log: string, file: string): Promise<void>;
}

const MANIFEST_FILE = 'manifest.json';

/** fsync of a directory makes the renames and new names in it durable. */
const syncDirectory = async (path: string) => {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
};

/** Written beside its final name, fsynced, renamed over it, and the directory fsynced. */
const writeDurably = async (directory: string, name: string, bytes: Buffer | string) => {
  const draft = join(directory, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(draft, 'w');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(draft, join(directory, name));
  await syncDirectory(directory);
};

/**
 * The archive as a directory: `<root>/<REDIS_PREFIX>/<log>/manifest.json` and
 * `<root>/<REDIS_PREFIX>/<log>/<first entry id>.seg`. A parsed manifest is
 * kept while the file's inode, size and mtime stay the same, so readers that
 * check the manifest on every page pay one stat for it.
 */
export const createDirectoryArchive = (root: string, prefix: string): ArchiveStore => {
  const logDirectory = (log: string) => join(root, prefix, log);
  const parsed = new Map<string, { version: string; manifest: Manifest }>();
  const ensured = new Set<string>();
  const ensureDirectory = async (log: string) => {
    if (ensured.has(log)) return;
    await mkdir(logDirectory(log), { recursive: true });
    // The new directories' names are made durable in their parents.
    await syncDirectory(join(root, prefix));
    await syncDirectory(root);
    ensured.add(log);
  };
  return {
    location: root,
    readManifest: async (log) => {
      const path = join(logDirectory(log), MANIFEST_FILE);
      let version: string;
      try {
        const { ino, size, mtimeMs } = await stat(path);
        version = `${ino}:${size}:${mtimeMs}`;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyManifest(log);
        throw error;
      }
      const known = parsed.get(log);
      if (known?.version === version) return known.manifest;
      const manifest = JSON.parse(await readFile(path, 'utf8')) as Manifest;
      if (manifest.format !== MANIFEST_FORMAT || manifest.log !== log)
        throw new Error(`${path} is not the archive manifest of log ${log}`);
      parsed.set(log, { version, manifest });
      return manifest;
    },
    writeManifest: async (manifest) => {
      await ensureDirectory(manifest.log);
      await writeDurably(
        logDirectory(manifest.log),
        MANIFEST_FILE,
        `${JSON.stringify(manifest, null, 1)}\n`,
      );
    },
    writeSegment: async (log, file, bytes) => {
      await ensureDirectory(log);
      await writeDurably(logDirectory(log), file, bytes);
    },
    readSegment: (log, file) => readFile(join(logDirectory(log), file)),
    listSegments: async (log) => {
      try {
        return (await readdir(logDirectory(log))).filter(
          (name) => name.endsWith('.seg') || name.endsWith('.tmp'),
        );
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    },
    deleteSegment: (log, file) => unlink(join(logDirectory(log), file)),
  };
};
