/**
 * Opens the SQLite database and brings its schema up to date.
 *
 * Migrations are ordered by `PRAGMA user_version`: migration i moves the schema from version i to
 * i + 1, inside one transaction, so a crash mid-migration leaves the previous version intact.
 * Later work appends to MIGRATIONS; it never edits a migration that has shipped.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import Database from 'better-sqlite3'
import type { Durability } from '../ops/config.ts'

export type Db = Database.Database

export const DB_FILE_NAME = 'summitpad.sqlite'

export const MIGRATIONS: readonly string[] = [
  // 1: pads, their update log and their snapshots.
  `
  CREATE TABLE pads (
    pk INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  -- AUTOINCREMENT: a seq is never reused, even after the newest rows are deleted, so a snapshot's
  -- "upto" can never cover a row written after it.
  CREATE TABLE updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pad INTEGER NOT NULL REFERENCES pads(pk) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    conn TEXT NOT NULL,
    author TEXT,
    data BLOB NOT NULL
  );
  CREATE INDEX updates_by_pad ON updates(pad, seq);
  CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    pad INTEGER NOT NULL REFERENCES pads(pk) ON DELETE CASCADE,
    upto INTEGER NOT NULL,
    at INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  CREATE INDEX snapshots_by_pad ON snapshots(pad, upto);
  `,
  // 2: meetings: events, pad metadata, schedule keys, per-event template overrides.
  `
  CREATE TABLE events (
    pk INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    starts_on TEXT,
    ends_on TEXT,
    timezone TEXT NOT NULL,
    description TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  -- A pad belongs to at most one event; NULL = unfiled (e.g. opened by a bare websocket name).
  ALTER TABLE pads ADD COLUMN event INTEGER REFERENCES events(pk) ON DELETE CASCADE;
  ALTER TABLE pads ADD COLUMN title TEXT;
  ALTER TABLE pads ADD COLUMN kind TEXT;
  ALTER TABLE pads ADD COLUMN track TEXT;
  ALTER TABLE pads ADD COLUMN room TEXT;
  ALTER TABLE pads ADD COLUMN starts_at INTEGER;
  ALTER TABLE pads ADD COLUMN ends_at INTEGER;
  ALTER TABLE pads ADD COLUMN speakers TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE pads ADD COLUMN links TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE pads ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;
  -- The schedule's key (iCal UID, JSON id): a re-import updates the pad instead of adding one.
  ALTER TABLE pads ADD COLUMN source_uid TEXT;
  CREATE UNIQUE INDEX pads_by_source ON pads(event, source_uid) WHERE source_uid IS NOT NULL;
  CREATE INDEX pads_by_event ON pads(event, starts_at);
  CREATE TABLE event_templates (
    event INTEGER NOT NULL REFERENCES events(pk) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (event, kind)
  );
  `,
  // 3: full-text search over pads' current text, keyed by the pad's pk (rowid).
  `
  CREATE VIRTUAL TABLE pad_search USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
  CREATE TRIGGER pads_search_delete AFTER DELETE ON pads BEGIN
    DELETE FROM pad_search WHERE rowid = old.pk;
  END;
  `,
  // 4: history: named checkpoints; closed (read-only) sessions.
  `
  CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    pad INTEGER NOT NULL REFERENCES pads(pk) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX checkpoints_by_pad ON checkpoints(pad, seq);
  ALTER TABLE pads ADD COLUMN closed_at INTEGER;
  `,
  // 5: "forget history" and deletes must not leave text in the search index's old segments.
  `
  INSERT INTO pad_search (pad_search, rank) VALUES ('secure-delete', 1);
  `,
  // 6: access control: each event's secret edit and read-only links (filled in by EventLinks,
  // from node's CSPRNG, when an event's links are first needed).
  `
  CREATE TABLE event_links (
    event INTEGER PRIMARY KEY REFERENCES events(pk) ON DELETE CASCADE,
    edit_secret TEXT NOT NULL,
    read_secret TEXT NOT NULL,
    rotated_at INTEGER NOT NULL
  );
  `,
  // 7: several sessions may share a schedule id (calendars repeat UIDs without RECURRENCE-ID), so
  // the id no longer names one pad: schedule-match.ts pairs entries with pads (id, then position
  // by start). Existing pads keep their source_uid, so the first re-import finds them all.
  `
  DROP INDEX pads_by_source;
  CREATE INDEX pads_by_source ON pads(event, source_uid) WHERE source_uid IS NOT NULL;
  `,
  // 8: edits belong to their writer: the key (SHA-256) each Yjs client id of a pad was first
  // written with (writer-check.ts). Ids written without a key have no row.
  `
  CREATE TABLE writers (
    pad INTEGER NOT NULL REFERENCES pads(pk) ON DELETE CASCADE,
    client INTEGER NOT NULL,
    key_hash BLOB NOT NULL,
    PRIMARY KEY (pad, client)
  ) WITHOUT ROWID;
  `,
  // 9: the Markdown each pad started from (its filled-in template: exports leave out what nobody
  // touched; NULL for pads from before, whose first log row is read instead), and the short
  // links of QR codes in protected mode (each a secret of its own, bound to the event secret it
  // stands for: replacing that secret kills it).
  `
  ALTER TABLE pads ADD COLUMN template TEXT;
  CREATE TABLE short_links (
    code TEXT PRIMARY KEY,
    pad INTEGER NOT NULL REFERENCES pads(pk) ON DELETE CASCADE,
    link TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX short_links_by_pad ON short_links(pad, link);
  `,
  // 10: series: a meeting continues another (any pad of the server). Keyed by pad id, not by a
  // foreign key: a deleted meeting's row stays, so the meetings around it still reach each other
  // and can say what is gone (series-store.ts). A meeting is continued by at most one other.
  `
  CREATE TABLE pad_series (
    pad TEXT PRIMARY KEY,
    pad_title TEXT,
    continues TEXT NOT NULL,
    continues_title TEXT,
    at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX pad_series_next ON pad_series(continues);
  `,
  // 11: session materials added or removed by hand (materials-store.ts). The schedule's own links
  // stay in pads.links, replaced by each re-import; a row here outlives re-imports: 'added' is a
  // material of its own, 'removed' hides a schedule link the next import brings again.
  `
  CREATE TABLE pad_materials (
    pad INTEGER NOT NULL REFERENCES pads(pk) ON DELETE CASCADE,
    url TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('added', 'removed')),
    kind TEXT NOT NULL,
    title TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (pad, url)
  );
  `,
]

export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this server (${migrations.length})`)
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]!)
      db.pragma(`user_version = ${version + 1}`)
    })()
  }
}

/**
 * better-sqlite3's compiled addon, named by its path: left to itself the package finds it through
 * `bindings`, which looks up the caller's stack and tries a dozen paths, and which cannot find it
 * from the bundled server (bin/build.ts bundles better-sqlite3's JavaScript, to spare every start
 * node's resolving of its modules).
 */
const NATIVE_BINDING = createRequire(import.meta.url).resolve(
  'better-sqlite3/build/Release/better_sqlite3.node',
)

export function openDb(dataDir: string, durability: Durability): Db {
  fs.mkdirSync(dataDir, { recursive: true })
  const db = new Database(path.join(dataDir, DB_FILE_NAME), { nativeBinding: NATIVE_BINDING })
  try {
    // Refuse a newer database before touching it (even switching its journal mode).
    const version = db.pragma('user_version', { simple: true }) as number
    if (version > MIGRATIONS.length) {
      throw new Error(`database schema version ${version} is newer than this server (${MIGRATIONS.length})`)
    }
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode loses nothing on a process crash; FULL also survives power loss.
    db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`)
    db.pragma('foreign_keys = ON')
    // A CLI backup or a second writer may hold a lock briefly; wait instead of failing a write.
    db.pragma('busy_timeout = 5000')
    // Deleted rows (a forgotten password, a deleted pad) are overwritten, not left in free pages.
    db.pragma('secure_delete = ON')
    migrate(db)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/**
 * Closes the database at shutdown, the write-ahead log emptied first (TRUNCATE): the data
 * directory is then one file, as a backup or a copy expects. Nothing may write meanwhile.
 */
export function closeDb(db: Db): void {
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
}
