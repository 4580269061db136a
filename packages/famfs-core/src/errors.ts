/**
 * The one error type of famfs-core: an errno name, the operation that failed,
 * the path it concerned (if any) and a human message. The CLI prints
 * `message` and exits non-zero; the FUSE server replies `-errno`.
 */

/** errno numbers on Linux (x86-64 and the generic ABI agree for these). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  EOVERFLOW: 75,
  EBADMSG: 74,
  EOPNOTSUPP: 95,
  ENOTCONN: 107,
  EUCLEAN: 117,
} as const;

export type ErrnoName = keyof typeof Errno;

export class FamfsError extends Error {
  override readonly name = 'FamfsError';
  /** errno name, e.g. 'ENOENT' */
  readonly code: ErrnoName;
  /** what was being done, e.g. 'mkfs', 'open', 'fsck' */
  readonly op: string;
  readonly path: string | undefined;

  constructor(code: ErrnoName, op: string, message: string, path?: string) {
    super(message);
    this.code = code;
    this.op = op;
    this.path = path;
  }

  get errno(): number {
    return Errno[this.code];
  }
}

export function isFamfsError(e: unknown): e is FamfsError {
  return e instanceof FamfsError;
}

/** Node system errors (fs, net) and the native addon's errors carry `code` and `syscall`. */
interface SystemErrorLike {
  code: string;
  syscall?: string;
  path?: string;
  message: string;
}

function isSystemErrorLike(e: unknown): e is SystemErrorLike {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string';
}

/**
 * Turn a Node or native system error into a FamfsError with a one-line,
 * path-bearing message; anything else is rethrown unchanged (a bug, which
 * should keep its stack).
 */
export function fromSystemError(e: unknown, op: string, path?: string): FamfsError {
  if (e instanceof FamfsError) return e;
  if (isSystemErrorLike(e) && e.code in Errno) {
    const code = e.code as ErrnoName;
    const where = path ?? e.path;
    const what = describeErrno(code);
    return new FamfsError(code, op, `${op}: ${where ? `${where}: ` : ''}${what}`, where);
  }
  throw e;
}

const descriptions: Partial<Record<ErrnoName, string>> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'file name too long',
  ENXIO: 'no such device or address',
  ENODEV: 'no such device',
};

export function describeErrno(code: ErrnoName): string {
  return descriptions[code] ?? code;
}
