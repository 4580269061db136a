/**
 * The one error type of famfs: an errno code, a kind, the operation that
 * failed, the path it concerned (if any) and a one-line human message. The CLI
 * prints `message` and chooses its exit code from `code` and `kind`; the FUSE
 * server replies `-errno`. Nothing ever decides by reading the message text.
 */
import { NATIVE_ADDON_ERROR } from '@famfs/native';

/**
 * Every errno Linux (x86-64, the generic ABI) can return, with its number and
 * the C library's description. Names are those Node and libuv use (EDEADLK,
 * EOPNOTSUPP); ALIASES lists the other spellings.
 */
const ERRNO_TABLE = {
  EPERM: [1, 'operation not permitted'],
  ENOENT: [2, 'no such file or directory'],
  ESRCH: [3, 'no such process'],
  EINTR: [4, 'interrupted system call'],
  EIO: [5, 'input/output error'],
  ENXIO: [6, 'no such device or address'],
  E2BIG: [7, 'argument list too long'],
  ENOEXEC: [8, 'exec format error'],
  EBADF: [9, 'bad file descriptor'],
  ECHILD: [10, 'no child processes'],
  EAGAIN: [11, 'resource temporarily unavailable'],
  ENOMEM: [12, 'cannot allocate memory'],
  EACCES: [13, 'permission denied'],
  EFAULT: [14, 'bad address'],
  ENOTBLK: [15, 'block device required'],
  EBUSY: [16, 'device or resource busy'],
  EEXIST: [17, 'file exists'],
  EXDEV: [18, 'invalid cross-device link'],
  ENODEV: [19, 'no such device'],
  ENOTDIR: [20, 'not a directory'],
  EISDIR: [21, 'is a directory'],
  EINVAL: [22, 'invalid argument'],
  ENFILE: [23, 'too many open files in system'],
  EMFILE: [24, 'too many open files'],
  ENOTTY: [25, 'inappropriate ioctl for device'],
  ETXTBSY: [26, 'text file busy'],
  EFBIG: [27, 'file too large'],
  ENOSPC: [28, 'no space left on device'],
  ESPIPE: [29, 'illegal seek'],
  EROFS: [30, 'read-only file system'],
  EMLINK: [31, 'too many links'],
  EPIPE: [32, 'broken pipe'],
  EDOM: [33, 'numerical argument out of domain'],
  ERANGE: [34, 'numerical result out of range'],
  EDEADLK: [35, 'resource deadlock avoided'],
  ENAMETOOLONG: [36, 'file name too long'],
  ENOLCK: [37, 'no locks available'],
  ENOSYS: [38, 'function not implemented'],
  ENOTEMPTY: [39, 'directory not empty'],
  ELOOP: [40, 'too many levels of symbolic links'],
  ENOMSG: [42, 'no message of desired type'],
  EIDRM: [43, 'identifier removed'],
  ECHRNG: [44, 'channel number out of range'],
  EL2NSYNC: [45, 'level 2 not synchronized'],
  EL3HLT: [46, 'level 3 halted'],
  EL3RST: [47, 'level 3 reset'],
  ELNRNG: [48, 'link number out of range'],
  EUNATCH: [49, 'protocol driver not attached'],
  ENOCSI: [50, 'no csi structure available'],
  EL2HLT: [51, 'level 2 halted'],
  EBADE: [52, 'invalid exchange'],
  EBADR: [53, 'invalid request descriptor'],
  EXFULL: [54, 'exchange full'],
  ENOANO: [55, 'no anode'],
  EBADRQC: [56, 'invalid request code'],
  EBADSLT: [57, 'invalid slot'],
  EBFONT: [59, 'bad font file format'],
  ENOSTR: [60, 'device not a stream'],
  ENODATA: [61, 'no data available'],
  ETIME: [62, 'timer expired'],
  ENOSR: [63, 'out of streams resources'],
  ENONET: [64, 'machine is not on the network'],
  ENOPKG: [65, 'package not installed'],
  EREMOTE: [66, 'object is remote'],
  ENOLINK: [67, 'link has been severed'],
  EADV: [68, 'advertise error'],
  ESRMNT: [69, 'srmount error'],
  ECOMM: [70, 'communication error on send'],
  EPROTO: [71, 'protocol error'],
  EMULTIHOP: [72, 'multihop attempted'],
  EDOTDOT: [73, 'rfs specific error'],
  EBADMSG: [74, 'bad message'],
  EOVERFLOW: [75, 'value too large for defined data type'],
  ENOTUNIQ: [76, 'name not unique on network'],
  EBADFD: [77, 'file descriptor in bad state'],
  EREMCHG: [78, 'remote address changed'],
  ELIBACC: [79, 'can not access a needed shared library'],
  ELIBBAD: [80, 'accessing a corrupted shared library'],
  ELIBSCN: [81, '.lib section in a.out corrupted'],
  ELIBMAX: [82, 'attempting to link in too many shared libraries'],
  ELIBEXEC: [83, 'cannot exec a shared library directly'],
  EILSEQ: [84, 'invalid or incomplete multibyte or wide character'],
  ERESTART: [85, 'interrupted system call should be restarted'],
  ESTRPIPE: [86, 'streams pipe error'],
  EUSERS: [87, 'too many users'],
  ENOTSOCK: [88, 'socket operation on non-socket'],
  EDESTADDRREQ: [89, 'destination address required'],
  EMSGSIZE: [90, 'message too long'],
  EPROTOTYPE: [91, 'protocol wrong type for socket'],
  ENOPROTOOPT: [92, 'protocol not available'],
  EPROTONOSUPPORT: [93, 'protocol not supported'],
  ESOCKTNOSUPPORT: [94, 'socket type not supported'],
  EOPNOTSUPP: [95, 'operation not supported'],
  EPFNOSUPPORT: [96, 'protocol family not supported'],
  EAFNOSUPPORT: [97, 'address family not supported by protocol'],
  EADDRINUSE: [98, 'address already in use'],
  EADDRNOTAVAIL: [99, 'cannot assign requested address'],
  ENETDOWN: [100, 'network is down'],
  ENETUNREACH: [101, 'network is unreachable'],
  ENETRESET: [102, 'network dropped connection on reset'],
  ECONNABORTED: [103, 'software caused connection abort'],
  ECONNRESET: [104, 'connection reset by peer'],
  ENOBUFS: [105, 'no buffer space available'],
  EISCONN: [106, 'transport endpoint is already connected'],
  ENOTCONN: [107, 'transport endpoint is not connected'],
  ESHUTDOWN: [108, 'cannot send after transport endpoint shutdown'],
  ETOOMANYREFS: [109, 'too many references: cannot splice'],
  ETIMEDOUT: [110, 'connection timed out'],
  ECONNREFUSED: [111, 'connection refused'],
  EHOSTDOWN: [112, 'host is down'],
  EHOSTUNREACH: [113, 'no route to host'],
  EALREADY: [114, 'operation already in progress'],
  EINPROGRESS: [115, 'operation now in progress'],
  ESTALE: [116, 'stale file handle'],
  EUCLEAN: [117, 'structure needs cleaning'],
  ENOTNAM: [118, 'not a xenix named type file'],
  ENAVAIL: [119, 'no xenix semaphores available'],
  EISNAM: [120, 'is a named type file'],
  EREMOTEIO: [121, 'remote i/o error'],
  EDQUOT: [122, 'disk quota exceeded'],
  ENOMEDIUM: [123, 'no medium found'],
  EMEDIUMTYPE: [124, 'wrong medium type'],
  ECANCELED: [125, 'operation canceled'],
  ENOKEY: [126, 'required key not available'],
  EKEYEXPIRED: [127, 'key has expired'],
  EKEYREVOKED: [128, 'key has been revoked'],
  EKEYREJECTED: [129, 'key was rejected by service'],
  EOWNERDEAD: [130, 'owner died'],
  ENOTRECOVERABLE: [131, 'state not recoverable'],
  ERFKILL: [132, 'operation not possible due to rf-kill'],
  EHWPOISON: [133, 'memory page has hardware error'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrnoName = keyof typeof ERRNO_TABLE;

/** Other spellings of the same numbers. */
const ALIASES: Readonly<Record<string, ErrnoName>> = {
  EWOULDBLOCK: 'EAGAIN',
  EDEADLOCK: 'EDEADLK',
  ENOTSUP: 'EOPNOTSUPP',
};

/** errno numbers by name. */
export const Errno = Object.fromEntries(Object.entries(ERRNO_TABLE).map(([k, v]) => [k, v[0]])) as {
  readonly [K in ErrnoName]: (typeof ERRNO_TABLE)[K][0];
};

const byNumber = new Map<number, ErrnoName>(Object.entries(ERRNO_TABLE).map(([k, v]) => [v[0], k as ErrnoName]));

/** The errno name for a name or alias Node reported, if Linux has it. */
export function errnoName(code: string): ErrnoName | undefined {
  if (Object.prototype.hasOwnProperty.call(ERRNO_TABLE, code)) return code as ErrnoName;
  return ALIASES[code];
}

/** The errno name of a number (1..133), if Linux has one. */
export function errnoNameOf(errno: number): ErrnoName | undefined {
  return byNumber.get(errno);
}

export function describeErrno(code: ErrnoName): string {
  return ERRNO_TABLE[code][1];
}

/**
 * What kind of failure, for callers that must choose by it (exit codes,
 * reporting) rather than by the errno alone:
 * - `usage`: the request was malformed (a bad option or argument); nothing was tried.
 * - `format`: on-media structures are missing or invalid (no superblock, bad CRC, bad log header).
 * - `system`: a system call failed; `code` is its errno.
 * - `fs`: a file-system rule refused the operation (exists, not found, full, not permitted …).
 * - `daemon`: the mount daemon could not be reached or went away.
 * - `internal`: a bug or an unexpected exception, wrapped so that it still has an errno.
 */
export type ErrorKind = 'usage' | 'format' | 'system' | 'fs' | 'daemon' | 'internal';

export interface FamfsErrorOptions {
  path?: string;
  /** default 'fs' */
  kind?: ErrorKind;
  cause?: unknown;
  /** the CLI exit status this failure must give when upstream prescribes one that its errno and kind do not say */
  exitStatus?: number;
}

export class FamfsError extends Error {
  override readonly name = 'FamfsError';
  /** errno name, e.g. 'ENOENT' */
  readonly code: ErrnoName;
  readonly kind: ErrorKind;
  /** what was being done, e.g. 'mkfs', 'open', 'fsck' */
  readonly op: string;
  readonly path: string | undefined;
  readonly exitStatus: number | undefined;

  /** The fourth argument is the path, or the options. */
  constructor(code: ErrnoName, op: string, message: string, opts?: string | FamfsErrorOptions) {
    const o: FamfsErrorOptions = typeof opts === 'string' ? { path: opts } : (opts ?? {});
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.code = code;
    this.op = op;
    this.path = o.path;
    this.kind = o.kind ?? 'fs';
    this.exitStatus = o.exitStatus;
  }

  get errno(): number {
    return Errno[this.code];
  }
}

/** A malformed command line or argument: nothing was tried (EINVAL unless said). */
export function usageError(op: string, message: string, code: ErrnoName = 'EINVAL'): FamfsError {
  return new FamfsError(code, op, message, { kind: 'usage' });
}

/** Invalid or missing on-media structures. */
export function formatError(code: ErrnoName, op: string, message: string, path?: string): FamfsError {
  return new FamfsError(code, op, message, { kind: 'format', path });
}

/** Node system errors (fs, net) and the native addon's errors carry `code`, often `errno`, `syscall` and `path`. */
interface SystemErrorLike {
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  path?: unknown;
  message?: unknown;
}

/**
 * Turn anything thrown into a FamfsError with a one-line, path-bearing
 * message. A FamfsError passes through; a system error keeps its errno (by
 * name, or by number when the name is unknown); anything else — a Node
 * argument error, a bug — becomes an EIO of kind 'internal' that keeps the
 * original as its `cause` (and stack). Never rethrows.
 */
export function fromSystemError(e: unknown, op: string, path?: string): FamfsError {
  if (e instanceof FamfsError) return e;
  // the native addon is missing or does not load: an installation problem, in the loader's own words
  if (e instanceof Error && (e as SystemErrorLike).code === NATIVE_ADDON_ERROR) return new FamfsError('ELIBACC', op, e.message, { kind: 'system', cause: e });
  const s: SystemErrorLike = typeof e === 'object' && e !== null ? (e) : {};
  const name =
    (typeof s.code === 'string' ? errnoName(s.code) : undefined) ??
    (typeof s.errno === 'number' ? errnoNameOf(Math.abs(s.errno)) : undefined);
  const where = path ?? (typeof s.path === 'string' ? s.path : undefined);
  if (name !== undefined) {
    return new FamfsError(name, op, `${op}: ${where ? `${where}: ` : ''}${describeErrno(name)}`, { path: where, kind: 'system', cause: e });
  }
  const what = e instanceof Error ? e.message : String(e);
  return new FamfsError('EIO', op, `${op}: ${where ? `${where}: ` : ''}internal error: ${what}`, { path: where, kind: 'internal', cause: e });
}
