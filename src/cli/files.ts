// File input and output for the CLI. A destination (--save, --checkpoint, --profile) is resolved
// through its symlinks and proven writable before any GPU work; the result is then written
// atomically next to its final target (temp file, fsync, rename), so what was there is either
// replaced whole or left byte-for-byte as it was. Devices, FIFOs, sockets and folders are refused,
// never replaced. If the final write fails anyway (disk full, file system gone read-only), the bytes
// go to a rescue file in the OS temp folder: a finished run is never lost. Every expected failure
// is a KilnError with one line, never a stack trace.
import { randomBytes } from 'node:crypto';
import * as nodeFs from 'node:fs';
import type { Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, WriteError } from '../errors.ts';

export { WriteError };

/** The file-system calls used here: node:fs by default; tests pass a wrapper that injects faults. */
export interface FsLike {
  lstatSync(path: string): Stats;
  statSync(path: string): Stats;
  fstatSync(fd: number): Stats;
  realpathSync(path: string): string;
  readlinkSync(path: string): string;
  openSync(path: string, flags: number, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  readFileSync(fd: number): Uint8Array;
  fsyncSync(fd: number): void;
  fchmodSync(fd: number, mode: number): void;
  fchownSync(fd: number, uid: number, gid: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

export interface FileOptions {
  fs?: FsLike;
  /** Where a result goes when its destination fails at the end (default: os.tmpdir() then). */
  rescueDir?: string;
}

/** A destination checked by prepareDestination; writeDestination writes the result to it. */
export interface Destination {
  readonly flag: string;
  /** The path as the user gave it. */
  readonly path: string;
  /** The final target, symlinks resolved, as it was when prepared (absolute). */
  readonly target: string;
  readonly options: FileOptions;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_RDONLY } = nodeFs.constants;
const O_NONBLOCK = nodeFs.constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = nodeFs.constants.O_DIRECTORY ?? 0;
const CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL;
/** Linux's own limit on symlinks followed in one lookup. */
const MAX_LINKS = 40;
/** Written (and removed) by the probe, so a disk that is already full is refused up front. */
const PROBE_BYTES = 4096;

/** A refusal we diagnosed ourselves; `code` is the errno code when there is one. */
class Refusal extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

const codeOf = (e: unknown): string | undefined => {
  const c = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
};

/** One line for any failure: `ENOSPC: no space left on device` from Node's `ENOSPC: ..., write`. */
function why(e: unknown): { text: string; code?: string } {
  if (e instanceof Refusal) return { text: e.message, code: e.code };
  const code = codeOf(e);
  const message = String((e as Error | undefined)?.message ?? e).split('\n')[0]!;
  if (!code) return { text: message };
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(message);
  return { text: m ? `${code}: ${m[1]}` : code, code };
}

function kind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}
const notAFile = (st: Stats, now = '') => `is ${now}${kind(st)}, not a regular file`;

/** Names longer than this are shortened in temp/rescue names, which must stay under NAME_MAX. */
const short = (base: string) => (Buffer.byteLength(base) <= 180 ? base : 'kiln-output');

interface Resolved {
  target: string;
  /** lstat of the target; undefined when it does not exist yet (a new file, or a dangling link). */
  stat: Stats | undefined;
  followed: boolean;
}

/** The real folder `d` names, or a Refusal saying why there is none. */
function realFolder(fs: FsLike, d: string): string {
  let real: string;
  try {
    real = fs.realpathSync(d);
  } catch (e) {
    const c = codeOf(e);
    if (c === 'ENOENT') throw new Refusal(`folder ${d} does not exist`, c);
    if (c === 'ENOTDIR') throw new Refusal(`${d} is not a folder`, c);
    if (c === 'ELOOP') throw new Refusal(`folder ${d} goes through a symlink loop`, c);
    throw new Refusal(`cannot reach folder ${d} (${why(e).text})`, c);
  }
  if (!fs.statSync(real).isDirectory()) throw new Refusal(`${d} is not a folder`, 'ENOTDIR');
  return real;
}

/**
 * Follows `path` through symlinks to the file that a write should replace. Each hop resolves the
 * link's folder for real first, so `..` in a relative link means what the kernel means by it.
 */
function resolveTarget(fs: FsLike, path: string): Resolved {
  if (path === '' || /[\\/]$/.test(path)) throw new Refusal('names a folder, not a file');
  let p = resolve(path);
  const seen = new Set<string>();
  for (let hops = 0; ; hops++) {
    const dir = realFolder(fs, dirname(p));
    p = join(dir, basename(p));
    let st: Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if (codeOf(e) === 'ENOENT') return { target: p, stat: undefined, followed: hops > 0 };
      throw e;
    }
    if (!st.isSymbolicLink()) return { target: p, stat: st, followed: hops > 0 };
    if (seen.has(p) || hops >= MAX_LINKS) throw new Refusal('is a symlink loop', 'ELOOP');
    seen.add(p);
    p = resolve(dir, fs.readlinkSync(p));
  }
}

const label = (flag: string, path: string, r: Resolved | undefined) =>
  r?.followed ? `${flag} ${path} (→ ${r.target})` : `${flag} ${path}`;

/** Creates a new, uniquely named file in `dir`; never opens anything that is already there. */
function createNew(fs: FsLike, dir: string, name: () => string, mode: number): { path: string; fd: number } {
  for (let i = 0; ; i++) {
    const path = join(dir, name());
    try {
      return { path, fd: fs.openSync(path, CREATE_NEW, mode) };
    } catch (e) {
      if (codeOf(e) !== 'EEXIST' || i >= 7) throw e;
    }
  }
}
const tempName = (base: string) => () => `${short(base)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;

function writeAll(fs: FsLike, fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) {
    const n = fs.writeSync(fd, bytes, off, bytes.length - off);
    if (n <= 0) throw new Refusal('the file system accepted no bytes', 'EIO');
    off += n;
  }
}

/** Writes, syncs and closes a file created by createNew; on any failure removes it and rethrows. */
function fill(fs: FsLike, file: { path: string; fd: number }, bytes: Uint8Array, keep: boolean): void {
  let err: unknown;
  try {
    writeAll(fs, file.fd, bytes);
    fs.fsyncSync(file.fd);
  } catch (e) {
    err = e;
  }
  // close() reports deferred write errors on some file systems (NFS), so its failure counts too.
  try {
    fs.closeSync(file.fd);
  } catch (e) {
    err ??= e;
  }
  if (err !== undefined || !keep) {
    try {
      fs.unlinkSync(file.path);
    } catch (e) {
      err ??= e;
    }
  }
  if (err !== undefined) throw err;
}

/** Temp file beside the target, fsync, rename over it: the target is replaced whole or not at all. */
function replaceAtomically(fs: FsLike, target: string, bytes: Uint8Array, old: Stats | undefined): void {
  const dir = dirname(target);
  // A new file gets 0o666 less the umask, as writeFileSync would; a replaced one keeps its mode,
  // and the temp stays private (0o600) until it has that mode.
  const tmp = createNew(fs, dir, tempName(basename(target)), old ? 0o600 : 0o666);
  try {
    if (old) {
      try {
        fs.fchownSync(tmp.fd, old.uid, old.gid);
      } catch {
        // Only root may give a file away; otherwise the replacement is ours, as with any rewrite.
      }
      fs.fchmodSync(tmp.fd, old.mode & 0o7777);
    }
  } catch (e) {
    try {
      fs.closeSync(tmp.fd);
    } catch { /* already failing */ }
    try {
      fs.unlinkSync(tmp.path);
    } catch { /* already failing */ }
    throw e;
  }
  fill(fs, tmp, bytes, true);
  try {
    fs.renameSync(tmp.path, target);
  } catch (e) {
    try {
      fs.unlinkSync(tmp.path);
    } catch { /* already failing */ }
    throw e;
  }
  syncFolder(fs, dir);
}

/** Makes the rename durable where the OS allows; the file is already in place, so failure is not fatal. */
function syncFolder(fs: FsLike, dir: string): void {
  try {
    const fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some file systems cannot fsync a folder (EINVAL); the data itself was synced before the rename.
  }
}

/** Saves bytes under a new, unique name in `dir`; returns the path or throws. */
function rescue(fs: FsLike, dir: string, base: string, bytes: Uint8Array): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15);
  const file = createNew(fs, dir, () => `kiln-rescue-${stamp}-${randomBytes(3).toString('hex')}-${short(base)}`, 0o600);
  fill(fs, file, bytes, true);
  return file.path;
}

/**
 * Checks a destination before any work: follows symlinks (a dangling one means "create what it
 * points to"), refuses loops, devices, FIFOs, sockets and folders, and proves the target's folder
 * writable by creating, filling and removing a temp file there (read-only, full, missing folder).
 * Throws ConfigError with one line naming the flag, the path and what is wrong.
 */
export function prepareDestination(path: string, flag: string, options: FileOptions = {}): Destination {
  const fs = options.fs ?? nodeFs;
  let r: Resolved | undefined;
  try {
    r = resolveTarget(fs, path);
    if (r.stat && !r.stat.isFile()) throw new Refusal(notAFile(r.stat));
    const dir = dirname(r.target);
    try {
      fill(fs, createNew(fs, dir, tempName(basename(r.target)), 0o600), new Uint8Array(PROBE_BYTES), false);
    } catch (e) {
      throw new Refusal(`cannot write in folder ${dir} (${why(e).text})`, codeOf(e));
    }
  } catch (e) {
    throw new ConfigError(`${label(flag, path, r)}: ${why(e).text}`);
  }
  return { flag, path, target: r.target, options };
}

/**
 * Writes the result atomically to the destination (resolved again: the path means what it means
 * now). If that fails, the bytes are saved to a rescue file and a WriteError names the flag, the
 * path, the errno code and the rescue file (or says the rescue failed too). Returns the target.
 */
export function writeDestination(dest: Destination, data: Uint8Array | string, options: FileOptions = dest.options): string {
  const fs = options.fs ?? nodeFs;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const { flag, path } = dest;
  let r: Resolved | undefined;
  try {
    r = resolveTarget(fs, path);
    if (r.stat && !r.stat.isFile()) throw new Refusal(notAFile(r.stat, 'now '));
    replaceAtomically(fs, r.target, bytes, r.stat);
    return r.target;
  } catch (e) {
    const failed = why(e);
    const where = label(flag, path, r);
    const dir = options.rescueDir ?? tmpdir();
    let saved: string;
    try {
      saved = rescue(fs, dir, basename(path) || 'output', bytes);
    } catch (e2) {
      throw new WriteError(
        `${where}: could not write (${failed.text}), and saving the result in ${dir} failed too (${why(e2).text}): it is lost`,
        flag, path, failed.code, undefined,
      );
    }
    throw new WriteError(`${where}: could not write (${failed.text}); the result was saved to ${saved} instead`, flag, path, failed.code, saved);
  }
}

/** Kept for existing callers: prepareDestination, returning the Destination to write later. */
export function checkWritable(path: string, flag: string, options?: FileOptions): Destination {
  return prepareDestination(path, flag, options);
}

/** Kept for existing callers: writeDestination without a prior probe (`flag` only labels errors). */
export function writeAtomic(path: string, data: Uint8Array | string, flag = 'output', options: FileOptions = {}): string {
  return writeDestination({ flag, path, target: path, options }, data);
}

function unreadable(fs: FsLike, path: string, e: unknown): string {
  const c = codeOf(e);
  if (c === 'ELOOP') return 'is a symlink loop';
  if (c === 'ENOENT' || c === 'ENOTDIR') {
    try {
      if (fs.lstatSync(path).isSymbolicLink()) return `is a dangling symlink (→ ${fs.readlinkSync(path)})`;
    } catch { /* not there at all */ }
    return 'no such file';
  }
  return `cannot read (${why(e).text})`;
}

/**
 * Reads a whole input file. Refuses folders, FIFOs (reading one would block until a writer came),
 * devices and sockets, each with one line naming the flag and the path.
 */
export function readInput(path: string, flag: string, options: FileOptions = {}): Uint8Array {
  const fs = options.fs ?? nodeFs;
  const where = `${flag} ${path}`;
  let st: Stats;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw new ConfigError(`${where}: ${unreadable(fs, path, e)}`);
  }
  if (!st.isFile()) throw new ConfigError(`${where}: ${notAFile(st)}`);
  let fd: number | undefined;
  try {
    // The path may have changed since stat: open without blocking (a FIFO would wait for a
    // writer), then check what was actually opened.
    fd = fs.openSync(path, O_RDONLY | O_NONBLOCK);
    const opened = fs.fstatSync(fd);
    if (!opened.isFile()) throw new Refusal(notAFile(opened));
    return new Uint8Array(fs.readFileSync(fd));
  } catch (e) {
    throw new ConfigError(`${where}: ${e instanceof Refusal ? e.message : unreadable(fs, path, e)}`);
  } finally {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch { /* read already done or failed */ }
    }
  }
}
