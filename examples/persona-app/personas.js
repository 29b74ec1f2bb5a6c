// Each persona's own file, personas/<name>.jsonc (its settings and its own concept map), and
// every operation on it: create, edit, load, back up, export, import. Each one holds the
// persona's lock (shared for reads), so none of them sees or makes half of another's work.
import { copyFile, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { debuglog } from 'node:util';
import { parse, printParseErrorCode } from 'jsonc-parser';
import { lockAll, readJsonc, updateFile, updateJsonc, withLock, writeFileAtomic } from 'lockedfile';
import { humanFile } from './human.js';

const debug = debuglog('persona');

/** PersonaError is a refused persona operation; `code` says why, `path` names the file. */
export class PersonaError extends Error {
  /** @param {'EPERSONAEXISTS' | 'EPERSONAMISSING' | 'EPERSONAINVALID'} code */
  constructor(code, path, message) {
    super(message);
    this.name = 'PersonaError';
    this.code = code;
    this.path = path;
  }
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;

function checkName(name) {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`persona names are 1 to 64 letters, digits, "-" or "_", starting with a letter or digit; got ${JSON.stringify(name)}.`);
  }
  return name;
}

/** personaFile is where the app in folder `dir` keeps persona `name`. */
export function personaFile(dir, name) {
  return join(dir, 'personas', `${checkName(name)}.jsonc`);
}

function personaText(persona) {
  const header = `// The persona ${persona.entity}: its settings and its own concept map. You may edit this file by hand; comments are kept.`;
  return `${header}\n${JSON.stringify(persona, null, 2)}\n`;
}

const exists = (name, file) =>
  new PersonaError('EPERSONAEXISTS', file, `persona ${name} already exists (${file}); nothing was changed. Use editPersona to change it, or importPersona with { replace: true }.`);

const missing = (name, file) =>
  new PersonaError('EPERSONAMISSING', file, `persona ${name} does not exist (${file}). Create it with createPersona, or import it.`);

/** The ENOENT of a persona file that is not there (or whose folder, and so its lock file's, is not). */
const isMissing = (error, file) => error?.code === 'ENOENT' && [file, dirname(file), `${file}.lock`].includes(error.path);

/** Throws unless `value` has the shape of a persona file (it came from `where`). */
function checkPersona(value, where) {
  const problem =
    typeof value !== 'object' || value === null || Array.isArray(value)
      ? 'it is not an object'
      : typeof value.entity !== 'string' || !NAME.test(value.entity)
        ? '"entity" must be the persona\'s name (letters, digits, "-" or "_")'
        : !Array.isArray(value.concepts) || value.concepts.some((concept) => typeof concept?.name !== 'string')
          ? '"concepts" must be an array of concepts, each with a "name"'
          : value.settings !== undefined && (typeof value.settings !== 'object' || value.settings === null || Array.isArray(value.settings))
            ? '"settings" must be an object'
            : undefined;
  if (problem) throw new PersonaError('EPERSONAINVALID', where, `${where} is not a persona: ${problem}. Nothing was changed.`);
  return value;
}

/**
 * createPersona makes persona `name` with `fields` (settings, concepts, aliases). It refuses with
 * EPERSONAEXISTS if the persona exists: the check and the create happen under the persona's lock,
 * so of several processes creating one name at once exactly one succeeds. Resolves with the persona.
 */
export async function createPersona(dir, name, fields = {}) {
  const file = personaFile(dir, name);
  const persona = checkPersona({ aliases: [], settings: {}, concepts: [], ...fields, entity: name, last_updated: new Date().toISOString() }, file);
  await mkdir(dirname(file), { recursive: true });
  await updateFile(file, (text) => {
    if (text !== undefined) throw exists(name, file);
    return personaText(persona);
  });
  debug('created persona %s', name);
  return persona;
}

/**
 * editPersona changes persona `name` under its lock: `fn` gets the current persona to change (or
 * returns a new one); comments in the file are kept. EPERSONAMISSING if there is no such persona.
 * Resolves with the persona as saved.
 */
export async function editPersona(dir, name, fn) {
  const file = personaFile(dir, name);
  try {
    return await updateJsonc(file, async (persona) => {
      const next = (await fn(persona)) ?? persona;
      checkPersona(next, file);
      if (next.entity !== name) throw new PersonaError('EPERSONAINVALID', file, `editPersona(${name}) cannot rename the persona to ${next.entity}; nothing was changed.`);
      return next;
    });
  } catch (error) {
    throw isMissing(error, file) ? missing(name, file) : error;
  }
}

/** listPersonas returns the names of the personas in `dir`, sorted. */
export async function listPersonas(dir) {
  const entries = await readdir(join(dir, 'personas')).catch((error) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  // Temporary files of a write in progress start with a dot and end in .tmp: not personas.
  return entries.filter((entry) => entry.endsWith('.jsonc') && NAME.test(entry.slice(0, -'.jsonc'.length))).map((entry) => entry.slice(0, -'.jsonc'.length)).sort();
}

/** Runs `fn` while holding shared locks on all of `files`: none of them changes meanwhile. */
async function whileUnchanged(files, fn) {
  const held = await lockAll(files, { shared: true });
  try {
    return await fn();
  } finally {
    held.release();
  }
}

/**
 * loadPersonas reads every persona, all at one moment: it holds every persona's shared lock
 * while reading, so no edit lands half-way through the set, and each file read is whole.
 */
export async function loadPersonas(dir) {
  const names = await listPersonas(dir);
  if (names.length === 0) return [];
  return whileUnchanged(
    names.map((name) => personaFile(dir, name)),
    () => Promise.all(names.map((name) => readJsonc(personaFile(dir, name)))),
  );
}

let backupsTaken = 0;

/** Flushes a file's contents to disk. */
async function flush(file) {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * backupPersonas copies human.jsonc and every persona file into a new folder under
 * `dir/backups/`, as one snapshot: all the files are copied while their shared locks are held,
 * so edits wait for the copy rather than land in the middle of it. The folder is filled under a
 * hidden name, its files flushed to disk, and renamed when complete, so a backup folder is never
 * partial. (A backup killed half-way leaves its hidden folder behind.) Resolves with the
 * backup's folder and the personas in it.
 */
export async function backupPersonas(dir) {
  const names = await listPersonas(dir);
  const stamp = `${new Date().toISOString().replaceAll(':', '-')}-${process.pid}-${++backupsTaken}`;
  const folder = join(dir, 'backups', stamp);
  const partial = join(dir, 'backups', `.${stamp}.partial`);
  await mkdir(join(partial, 'personas'), { recursive: true });
  try {
    const copies = new Map([[humanFile(dir), join(partial, 'human.jsonc')], ...names.map((name) => [personaFile(dir, name), join(partial, 'personas', `${name}.jsonc`)])]);
    await whileUnchanged([...copies.keys()], () =>
      Promise.all(
        [...copies].map(([from, to]) =>
          copyFile(from, to).catch((error) => {
            if (error.code !== 'ENOENT' || from !== humanFile(dir)) throw error; // no map yet: nothing to keep
          }),
        ),
      ),
    );
    // The copies are ours alone: flushing them needs no lock, so the personas need not wait for it.
    await Promise.all([...copies.values()].filter((copy) => existsSync(copy)).map(flush));
    await rename(partial, folder);
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
  debug('backup %s: human.jsonc and %d personas', stamp, names.length);
  return { folder, personas: names };
}

/**
 * exportPersona writes persona `name`, comments and all, to the file `destination` (atomically:
 * a reader of `destination` sees the old file or the whole export).
 */
export async function exportPersona(dir, name, destination) {
  const file = personaFile(dir, name);
  const text = await withLock(file, () => readFile(file, 'utf8'), { shared: true }).catch((error) => {
    throw isMissing(error, file) ? missing(name, file) : error;
  });
  await writeFileAtomic(destination, text);
  debug('exported persona %s to %s', name, destination);
}

/**
 * importPersona adds the persona exported to `source` under the name it holds. It refuses with
 * EPERSONAEXISTS if that persona exists, unless `replace` is true; with EPERSONAINVALID if
 * `source` is not a persona file. Resolves with the persona.
 */
export async function importPersona(dir, source, { replace = false } = {}) {
  const text = await readFile(source, 'utf8');
  const errors = [];
  const persona = parse(text, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const { error, offset } = errors[0];
    throw new PersonaError('EPERSONAINVALID', source, `${source} is not a persona: ${printParseErrorCode(error)} at offset ${offset}. Nothing was changed.`);
  }
  checkPersona(persona, source);
  const file = personaFile(dir, persona.entity);
  await mkdir(dirname(file), { recursive: true });
  await updateFile(file, (current) => {
    if (current !== undefined && !replace) throw exists(persona.entity, file);
    return text;
  });
  debug('imported persona %s from %s', persona.entity, source);
  return persona;
}
