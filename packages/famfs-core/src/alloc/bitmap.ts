import { FamfsError } from '../errors.js';

/**
 * The allocation bitmap: one slot per allocation unit of the device. It is
 * never stored; it is rebuilt from the log (superblock + log region first,
 * then every extent of every file entry). A slot counts its claims so that
 * a unit claimed twice ("cross-linked") is detected, not silently merged.
 */
export class AllocBitmap {
  readonly nunits: number;
  /** claims per unit, saturating at 255 */
  private readonly claims: Uint8Array;
  private allocated = 0;
  private collisions = 0;

  constructor(
    readonly deviceSize: number,
    readonly allocUnit: number,
  ) {
    this.nunits = Math.floor(deviceSize / allocUnit);
    this.claims = new Uint8Array(this.nunits);
  }

  /** Bytes the bitmap covers (the device rounded down to whole units). */
  get capacity(): number {
    return this.nunits * this.allocUnit;
  }

  get allocatedUnits(): number {
    return this.allocated;
  }

  get allocatedBytes(): number {
    return this.allocated * this.allocUnit;
  }

  get freeBytes(): number {
    return (this.nunits - this.allocated) * this.allocUnit;
  }

  /** Claimed units in [fromUnit, toUnit). */
  allocatedUnitsIn(fromUnit: number, toUnit: number): number {
    let n = 0;
    for (let u = Math.max(0, fromUnit); u < Math.min(toUnit, this.nunits); u++) if (this.claims[u] !== 0) n++;
    return n;
  }

  /** Units claimed more than once so far. */
  get collisionUnits(): number {
    return this.collisions;
  }

  /** First unit and unit count covering [offset, offset+len). */
  unitsOf(offset: number, len: number): { first: number; count: number } {
    const first = Math.floor(offset / this.allocUnit);
    const end = Math.ceil((offset + len) / this.allocUnit);
    return { first, count: end - first };
  }

  /**
   * Claim the units covering [offset, offset+len). Returns how many of them
   * were already claimed (0 for a clean claim). The range must lie inside the
   * bitmap: callers validate extents against the device first.
   */
  claim(offset: number, len: number): number {
    // unitsOf without its object: replay claims once per extent of every file
    const first = Math.floor(offset / this.allocUnit);
    const count = Math.ceil((offset + len) / this.allocUnit) - first;
    if (first < 0 || first + count > this.nunits) {
      throw new FamfsError('EINVAL', 'alloc', `range [${offset}, ${offset + len}) lies outside the ${this.capacity}-byte bitmap`);
    }
    let dup = 0;
    for (let u = first; u < first + count; u++) {
      const c = this.claims[u]!;
      if (c === 0) this.allocated++;
      else dup++;
      if (c < 255) this.claims[u] = c + 1;
    }
    this.collisions += dup;
    return dup;
  }

  /**
   * The claim count of every unit, for native code that claims as `claim`
   * does (replay's check of a whole log); it then reports what it counted
   * with claimedElsewhere().
   */
  get claimCounts(): Uint8Array {
    return this.claims;
  }

  /** Units newly allocated and claimed again by claims made on claimCounts directly. */
  claimedElsewhere(allocated: number, collisions: number): void {
    this.allocated += allocated;
    this.collisions += collisions;
  }

  /** Release units (used to roll back an all-or-nothing allocation). */
  release(offset: number, len: number): void {
    const { first, count } = this.unitsOf(offset, len);
    for (let u = first; u < first + count; u++) {
      const c = this.claims[u]!;
      if (c === 0) continue;
      this.claims[u] = c - 1;
      if (c === 1) this.allocated--;
    }
  }

  isFree(unit: number): boolean {
    return this.claims[unit] === 0;
  }

  /**
   * First fit: the lowest run of `count` free units within [fromUnit, toUnit).
   * Returns the first unit of the run, or -1.
   */
  findFree(count: number, fromUnit = 0, toUnit = this.nunits): number {
    let run = 0;
    for (let u = fromUnit; u < toUnit; u++) {
      if (this.claims[u] === 0) {
        run++;
        if (run === count) return u - count + 1;
      } else {
        run = 0;
      }
    }
    return -1;
  }
}
