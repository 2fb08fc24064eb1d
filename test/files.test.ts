// Destinations that never lose a result and never damage what is there (src/cli/files.ts): symlinks
// followed to their targets, special files refused before any work, and write failures (injected
// through the fs seam, or real ones on a tiny or read-only tmpfs when running as root) ending in a
// rescue file and one line, with the old file untouched and no temp file left.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkWritable, prepareDestination, readInput, writeAtomic, writeDestination, WriteError, type FsLike } from '../src/cli/files.ts';
import { ConfigError, KilnError } from '../src/errors.ts';

const root = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), 'kiln-files-')));
let count = 0;
/** A fresh folder per test, so a listing shows exactly what the test left behind. */
const fresh = (...subs: string[]) => {
  const d = join(root, `t${count++}`);
  for (const s of ['', ...subs]) fs.mkdirSync(join(d, s));
  return d;
};
const ls = (d: string) => fs.readdirSync(d).sort();
const pattern = (n: number, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
/** Byte equality without vitest's element-by-element diff (slow on a megabyte). */
const sameBytes = (path: string, bytes: Uint8Array) => expect(fs.readFileSync(path).equals(bytes)).toBe(true);
const sh = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });

const isRoot = process.getuid?.() === 0;
const canMknod = isRoot && sh('mknod', join(root, 'probe-null'), 'c', '1', '3').status === 0;
fs.rmSync(join(root, 'probe-null'), { force: true });
const canMount = isRoot && (() => {
  fs.mkdirSync(join(root, 'probe-mnt'));
  const ok = sh('mount', '-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', join(root, 'probe-mnt')).status === 0;
  if (ok) sh('umount', join(root, 'probe-mnt'));
  return ok;
})();

afterAll(() => {
  // Unmount whatever is still mounted under our folder (deepest first), then remove it.
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  for (const m of mounts.filter((m) => m.startsWith(root + sep)).reverse()) sh('umount', m);
  fs.rmSync(root, { recursive: true, force: true });
});

/** Runs f, expects a one-line KilnError matching re, returns it. */
function refused<E extends KilnError = KilnError>(f: () => unknown, re: RegExp, type: new (...a: never[]) => E = KilnError as never): E {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  const msg = (err as Error).message;
  expect(msg).not.toContain('\n');
  expect(msg).toMatch(re);
  return err as E;
}

const TEXT: Record<string, string> = { ENOSPC: 'no space left on device', EACCES: 'permission denied', EROFS: 'read-only file system', EIO: 'i/o error' };
type Op = 'open' | 'write' | 'fsync' | 'close' | 'rename';
/** node:fs, except that `op` fails with `code` on files under `under` (as the kernel would say it). */
function faulty(op: Op, code: string, under: string): FsLike {
  const fds = new Set<number>();
  const inside = (p: string) => resolve(p).startsWith(under + sep);
  const fail = (syscall: string): never => {
    throw Object.assign(new Error(`${code}: ${TEXT[code]}, ${syscall}`), { code, syscall });
  };
  return {
    ...fs,
    openSync(p: string, flags: number, mode?: number) {
      if (op === 'open' && inside(p)) fail('open');
      const fd = fs.openSync(p, flags, mode);
      if (inside(p)) fds.add(fd);
      return fd;
    },
    writeSync(fd: number, b: Uint8Array, off: number, len: number) {
      if (op === 'write' && fds.has(fd)) fail('write');
      return fs.writeSync(fd, b, off, len);
    },
    fsyncSync(fd: number) {
      if (op === 'fsync' && fds.has(fd)) fail('fsync');
      fs.fsyncSync(fd);
    },
    closeSync(fd: number) {
      const ours = fds.delete(fd);
      fs.closeSync(fd); // closed either way, as close(2) does; the error is what NFS reports late
      if (op === 'close' && ours) fail('close');
    },
    renameSync(a: string, b: string) {
      if (op === 'rename' && inside(b)) fail('rename');
      fs.renameSync(a, b);
    },
  };
}

/** The checks every failed final write must pass: rescue complete and named, old file intact. */
function expectRescued(err: WriteError, o: { flag: string; path: string; code: string; rescueDir: string; bytes: Uint8Array; name: string }) {
  expect(err).toBeInstanceOf(KilnError);
  expect(err.code).toBe(o.code);
  const rescued = ls(o.rescueDir);
  expect(rescued).toHaveLength(1);
  expect(rescued[0]).toContain(o.name);
  expect(err.rescuePath).toBe(join(o.rescueDir, rescued[0]!));
  expect(err.message).toContain(`${o.flag} ${o.path}`);
  expect(err.message).toContain(o.code);
  expect(err.message).toContain(err.rescuePath);
  sameBytes(err.rescuePath!, o.bytes);
}

describe('prepareDestination and writeDestination on ordinary paths', () => {
  it('writes a new file atomically with the usual mode, and the probe leaves nothing behind', () => {
    const d = fresh();
    const dest = prepareDestination(join(d, 'w.safetensors'), '--save');
    expect(ls(d)).toEqual([]);
    expect(writeDestination(dest, pattern(5000))).toBe(join(d, 'w.safetensors'));
    sameBytes(join(d, 'w.safetensors'), pattern(5000));
    fs.writeFileSync(join(d, 'sibling'), 'x');
    expect(fs.statSync(join(d, 'w.safetensors')).mode).toBe(fs.statSync(join(d, 'sibling')).mode);
    expect(ls(d)).toEqual(['sibling', 'w.safetensors']);
  });

  it('replaces an existing file whole and keeps its mode; strings are written as UTF-8', () => {
    const d = fresh();
    const p = join(d, 'trace.json');
    fs.writeFileSync(p, 'old');
    fs.chmodSync(p, 0o640);
    writeDestination(prepareDestination(p, '--profile'), '{"é":1}');
    expect(fs.readFileSync(p, 'utf8')).toBe('{"é":1}');
    expect(fs.statSync(p).mode & 0o7777).toBe(0o640);
    expect(ls(d)).toEqual(['trace.json']);
  });

  it('refuses a missing folder, a folder, a trailing slash and a path under a file', () => {
    const d = fresh('sub');
    fs.writeFileSync(join(d, 'file'), 'x');
    refused(() => prepareDestination(join(d, 'no', 'w.bin'), '--save'), /^--save .*\/no\/w\.bin: folder .*\/no does not exist$/, ConfigError);
    refused(() => prepareDestination(join(d, 'sub'), '--save'), /^--save .*\/sub: is a folder, not a regular file$/, ConfigError);
    refused(() => prepareDestination(`${d}/new/`, '--save'), /names a folder, not a file/, ConfigError);
    refused(() => prepareDestination(join(d, 'file', 'w.bin'), '--checkpoint'), /^--checkpoint .*: .*\/file is not a folder$/, ConfigError);
    expect(ls(d)).toEqual(['file', 'sub']);
  });
});

describe('symlinks', () => {
  it('writes the target of a symlink and keeps the link', () => {
    const d = fresh();
    fs.writeFileSync(join(d, 'real.bin'), 'old');
    fs.symlinkSync('real.bin', join(d, 'link.bin'));
    const dest = prepareDestination(join(d, 'link.bin'), '--save');
    expect(dest.target).toBe(join(d, 'real.bin'));
    writeDestination(dest, pattern(100));
    expect(fs.lstatSync(join(d, 'link.bin')).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(join(d, 'link.bin'))).toBe('real.bin');
    sameBytes(join(d, 'real.bin'), pattern(100));
    expect(ls(d)).toEqual(['link.bin', 'real.bin']);
  });

  it('follows a chain of relative and absolute links across folders', () => {
    const d = fresh('a', 'b', 'c');
    fs.writeFileSync(join(d, 'c', 'final.bin'), 'old');
    fs.symlinkSync('../b/l2', join(d, 'a', 'l1'));
    fs.symlinkSync(join(d, 'c', 'l3'), join(d, 'b', 'l2'));
    fs.symlinkSync('final.bin', join(d, 'c', 'l3'));
    writeDestination(prepareDestination(join(d, 'a', 'l1'), '--save'), 'new');
    expect(fs.readFileSync(join(d, 'c', 'final.bin'), 'utf8')).toBe('new');
    for (const l of ['a/l1', 'b/l2', 'c/l3']) expect(fs.lstatSync(join(d, l)).isSymbolicLink()).toBe(true);
  });

  it('resolves `..` in a link the way the kernel does when the link sits in a symlinked folder', () => {
    const d = fresh('real', 'real/sub');
    fs.symlinkSync(join(d, 'real', 'sub'), join(d, 'alias'));
    fs.symlinkSync('../t.bin', join(d, 'real', 'sub', 'l'));
    fs.writeFileSync(join(d, 'alias', 'l'), 'kernel'); // where the kernel puts it
    writeDestination(prepareDestination(join(d, 'alias', 'l'), '--save'), 'kiln');
    expect(fs.readFileSync(join(d, 'real', 't.bin'), 'utf8')).toBe('kiln');
    expect(fs.existsSync(join(d, 't.bin'))).toBe(false);
  });

  it('creates the target of a dangling symlink (at write time, not at prepare)', () => {
    const d = fresh();
    fs.symlinkSync('new.bin', join(d, 'link'));
    const dest = prepareDestination(join(d, 'link'), '--save');
    expect(ls(d)).toEqual(['link']);
    writeDestination(dest, 'made');
    expect(fs.readFileSync(join(d, 'new.bin'), 'utf8')).toBe('made');
    expect(fs.readlinkSync(join(d, 'link'))).toBe('new.bin');
    fs.symlinkSync(join(d, 'nowhere', 'x.bin'), join(d, 'deep'));
    refused(() => prepareDestination(join(d, 'deep'), '--save'), /--save .*deep: folder .*nowhere does not exist/);
  });

  it('refuses symlink loops: two links, one link, and a loop in a folder on the way', () => {
    const d = fresh();
    fs.symlinkSync('b', join(d, 'a'));
    fs.symlinkSync('a', join(d, 'b'));
    fs.symlinkSync('self', join(d, 'self'));
    refused(() => prepareDestination(join(d, 'a'), '--save'), /^--save .*\/a: is a symlink loop$/, ConfigError);
    refused(() => prepareDestination(join(d, 'self'), '--save'), /is a symlink loop/, ConfigError);
    refused(() => prepareDestination(join(d, 'a', 'w.bin'), '--save'), /symlink loop/, ConfigError);
    refused(() => readInput(join(d, 'a'), '--init'), /^--init .*\/a: is a symlink loop$/, ConfigError);
    expect(ls(d)).toEqual(['a', 'b', 'self']);
  });
});

describe('special files are refused, never replaced or opened', () => {
  it('a FIFO: refused for writing, directly and through a link, and left a FIFO', () => {
    const d = fresh();
    expect(sh('mkfifo', join(d, 'fifo')).status).toBe(0);
    fs.symlinkSync('fifo', join(d, 'link'));
    const t0 = performance.now();
    refused(() => prepareDestination(join(d, 'fifo'), '--save'), /^--save .*\/fifo: is a FIFO, not a regular file$/, ConfigError);
    refused(() => prepareDestination(join(d, 'link'), '--save'), /^--save .*\/link \(→ .*\/fifo\): is a FIFO/, ConfigError);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(fs.lstatSync(join(d, 'fifo')).isFIFO()).toBe(true);
    expect(ls(d)).toEqual(['fifo', 'link']);
  });

  it('a FIFO: refused for reading at once, even with a writer standing by', () => {
    const d = fresh();
    const fifo = join(d, 'fifo');
    expect(sh('mkfifo', fifo).status).toBe(0);
    // If readInput ever opened the FIFO, this writer would let it return (wrongly) instead of hanging the run.
    const writer = spawn('sh', ['-c', 'exec 3>"$1"; printf late >&3; sleep 1', 'sh', fifo], { stdio: 'ignore' });
    try {
      const t0 = performance.now();
      refused(() => readInput(fifo, '--init'), /^--init .*\/fifo: is a FIFO, not a regular file$/, ConfigError);
      expect(performance.now() - t0).toBeLessThan(1000);
    } finally {
      writer.kill();
    }
  });

  it('a FIFO that appears after prepare: the result is rescued and the FIFO left alone', () => {
    const d = fresh('out', 'rescue');
    const p = join(d, 'out', 'w.bin');
    const dest = prepareDestination(p, '--save', { rescueDir: join(d, 'rescue') });
    expect(sh('mkfifo', p).status).toBe(0);
    const err = refused(() => writeDestination(dest, pattern(300)), /is now a FIFO, not a regular file\); the result was saved to/, WriteError);
    expect(err.code).toBeUndefined();
    sameBytes(err.rescuePath!, pattern(300));
    expect(fs.lstatSync(p).isFIFO()).toBe(true);
    expect(ls(join(d, 'out'))).toEqual(['w.bin']);
  });

  it.skipIf(!canMknod)(`a character device made with mknod in our folder${canMknod ? '' : ' (SKIPPED: mknod is not possible here)'}`, () => {
    const d = fresh('rescue');
    const dev = join(d, 'null');
    expect(sh('mknod', dev, 'c', '1', '3').status).toBe(0);
    const before = fs.lstatSync(dev);
    refused(() => prepareDestination(dev, '--save'), /^--save .*\/null: is a character device, not a regular file$/, ConfigError);
    refused(() => readInput(dev, '--init'), /^--init .*\/null: is a character device, not a regular file$/, ConfigError);
    // Also at write time (it appeared after prepare): rescued, the node kept.
    const err = refused(() => writeAtomic(dev, 'bytes', '--save', { rescueDir: join(d, 'rescue') }), /is now a character device/, WriteError);
    expect(fs.readFileSync(err.rescuePath!, 'utf8')).toBe('bytes');
    const after = fs.lstatSync(dev);
    expect(after.isCharacterDevice()).toBe(true);
    expect([after.rdev, after.ino]).toEqual([before.rdev, before.ino]);
  });

  it('a socket: refused for writing and reading, and left a socket', async () => {
    const d = fresh();
    const path = join(d, 'sock');
    const server = createServer();
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(path, ok));
    try {
      refused(() => prepareDestination(path, '--profile'), /^--profile .*\/sock: is a socket, not a regular file$/, ConfigError);
      refused(() => readInput(path, '--resume'), /^--resume .*\/sock: is a socket, not a regular file$/, ConfigError);
      expect(fs.lstatSync(path).isSocket()).toBe(true);
    } finally {
      await new Promise((ok) => server.close(ok));
    }
  });
});

describe('a failed final write: rescue file, one line, original untouched, no temp left', () => {
  for (const op of ['write', 'fsync', 'rename', 'open', 'close'] as const) {
    for (const code of ['ENOSPC', 'EACCES', 'EROFS', 'EIO']) {
      it(`${code} at ${op}`, () => {
        const d = fresh('out', 'rescue');
        const path = join(d, 'out', 'w.safetensors');
        fs.writeFileSync(path, 'previous');
        const rescueDir = join(d, 'rescue');
        const dest = prepareDestination(path, '--save', { rescueDir });
        const bytes = pattern(100_000);
        const err = refused(() => writeDestination(dest, bytes, { fs: faulty(op, code, join(d, 'out')), rescueDir }), /saved to/, WriteError);
        expectRescued(err, { flag: '--save', path, code, rescueDir, bytes, name: 'w.safetensors' });
        expect(fs.readFileSync(path, 'utf8')).toBe('previous');
        expect(ls(join(d, 'out'))).toEqual(['w.safetensors']);
      });
    }
  }

  it('the rescue failing too is said in the message, and leaves no partial file anywhere', () => {
    const d = fresh('out', 'rescue');
    const path = join(d, 'out', 'c.ckpt');
    fs.writeFileSync(path, 'previous');
    const dest = prepareDestination(path, '--checkpoint');
    const err = refused(() => writeDestination(dest, pattern(1000), { fs: faulty('write', 'ENOSPC', d), rescueDir: join(d, 'rescue') }),
      /^--checkpoint .*c\.ckpt: could not write \(ENOSPC: .*\), and saving the result in .*rescue failed too \(ENOSPC: .*\): it is lost$/, WriteError);
    expect(err.rescuePath).toBeUndefined();
    expect(fs.readFileSync(path, 'utf8')).toBe('previous');
    expect([ls(join(d, 'out')), ls(join(d, 'rescue'))]).toEqual([['c.ckpt'], []]);
    refused(() => writeAtomic(join(d, 'gone', 'w.bin'), 'x', '--save', { rescueDir: join(d, 'missing') }),
      /folder .*gone does not exist\), and saving the result in .*missing failed too \(ENOENT/, WriteError);
  });

  it('rescues into os.tmpdir() by default, under a new name each time', () => {
    const d = fresh('out', 'tmp');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = join(d, 'tmp');
    try {
      const dest = prepareDestination(join(d, 'out', 'w.bin'), '--save');
      for (let i = 0; i < 2; i++) refused(() => writeDestination(dest, 'x', { fs: faulty('rename', 'EIO', join(d, 'out')) }), /saved to .*\/tmp\/kiln-rescue-.*w\.bin instead$/, WriteError);
      expect(ls(join(d, 'tmp'))).toHaveLength(2);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('the probe at prepare refuses a folder it cannot write in (EACCES at create, ENOSPC, EIO at fsync)', () => {
    const d = fresh('out');
    const out = join(d, 'out');
    for (const [op, code] of [['open', 'EACCES'], ['write', 'ENOSPC'], ['fsync', 'EIO'], ['close', 'EIO']] as const) {
      refused(() => prepareDestination(join(out, 'w.bin'), '--save', { fs: faulty(op, code, out) }),
        new RegExp(`^--save .*w\\.bin: cannot write in folder .*out \\(${code}: `), ConfigError);
      expect(ls(out)).toEqual([]);
    }
  });
});

describe('readInput', () => {
  it('reads a file, also through a link; refuses missing, dangling, a folder — one line each', () => {
    const d = fresh('sub');
    fs.writeFileSync(join(d, 'w.bin'), pattern(10));
    fs.symlinkSync('w.bin', join(d, 'link'));
    fs.symlinkSync('gone.bin', join(d, 'dangling'));
    expect(readInput(join(d, 'link'), '--init')).toEqual(pattern(10));
    refused(() => readInput(join(d, 'none.json'), '--model'), /^--model .*none\.json: no such file$/, ConfigError);
    refused(() => readInput(join(d, 'dangling'), '--init'), /^--init .*dangling: is a dangling symlink \(→ gone\.bin\)$/, ConfigError);
    refused(() => readInput(join(d, 'sub'), '--resume'), /^--resume .*sub: is a folder, not a regular file$/, ConfigError);
    refused(() => readInput(join(d, 'w.bin', 'x'), '--init'), /no such file/, ConfigError);
  });
});

describe.skipIf(!canMount)(`a real tmpfs of 64 KiB mounted in our folder${canMount ? '' : ' (SKIPPED: needs root and mount)'}`, () => {
  const d = fresh('small', 'rescue');
  const small = join(d, 'small');
  const rescueDir = join(d, 'rescue');
  const mount = (...o: string[]) => expect(sh('mount', ...o).stderr).toBe('');
  beforeAll(() => mount('-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small));
  afterAll(() => {
    sh('umount', small);
  });

  it('1 MB to an empty one: the probe passes, the write is rescued with ENOSPC', () => {
    const path = join(small, 'w.safetensors');
    fs.writeFileSync(path, 'previous');
    const dest = prepareDestination(path, '--save', { rescueDir });
    const bytes = pattern(1 << 20);
    const err = refused(() => writeDestination(dest, bytes), /saved to/, WriteError);
    expectRescued(err, { flag: '--save', path, code: 'ENOSPC', rescueDir, bytes, name: 'w.safetensors' });
    expect(fs.readFileSync(path, 'utf8')).toBe('previous');
    expect(ls(small)).toEqual(['w.safetensors']);
    fs.rmSync(err.rescuePath!);
  });

  it('a full one: refused at prepare with ENOSPC, before any work', () => {
    const fd = fs.openSync(join(small, 'filler'), 'w');
    try {
      for (;;) fs.writeSync(fd, new Uint8Array(4096));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    refused(() => prepareDestination(join(small, 'w.safetensors'), '--save'), /^--save .*w\.safetensors: cannot write in folder .*small \(ENOSPC: no space left on device\)$/, ConfigError);
    expect(ls(small)).toEqual(['filler', 'w.safetensors']);
    fs.rmSync(join(small, 'filler'));
  });

  it('a read-only one: refused at prepare with EROFS; reading still works', () => {
    mount('-o', 'remount,ro', small);
    refused(() => prepareDestination(join(small, 'new.bin'), '--save'), /^--save .*new\.bin: cannot write in folder .*small \(EROFS: read-only file system\)$/, ConfigError);
    refused(() => checkWritable(join(small, 'w.safetensors'), '--checkpoint'), /EROFS/, ConfigError);
    expect(new TextDecoder().decode(readInput(join(small, 'w.safetensors'), '--init'))).toBe('previous');
    const err = refused(() => writeAtomic(join(small, 'w.safetensors'), 'x', '--save', { rescueDir }), /could not write \(EROFS: .*saved to/, WriteError);
    expect(err.code).toBe('EROFS');
    expect(ls(small)).toEqual(['w.safetensors']);
  });
});
