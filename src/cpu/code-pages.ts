// The physical-page index of code: which host pages of the shared memory hold
// instructions that were decoded (by the interpreter) or translated (by the
// JIT), so that a write to such a page drops that work before it can run
// again. Host writes, IC maintenance and stage-2 unmaps drop whole pages; a
// guest store drops the page only when it touches an instruction word that
// was decoded or translated, so that data sharing a page with code (a small
// program's .data after its .text) can be written without throwing the code
// away each time.

import type { Vcpu } from './vcpu.js';

export const CODE_PAGE_SHIFT = 12;
export const CODE_PAGE_BYTES = 1 << CODE_PAGE_SHIFT;
export const INSNS_PER_PAGE = CODE_PAGE_BYTES >> 2;

/** An executable instruction; returns true when it changed control flow (PC written). */
export type Handler = (cpu: Vcpu) => boolean | void;

export class DecodedPage {
  readonly handlers: (Handler | undefined)[] = new Array(INSNS_PER_PAGE);
  /** Nonzero for the words the JIT translated (or has queued for translation). */
  readonly translated = new Uint8Array(INSNS_PER_PAGE);
  valid = true;
}

export type InvalidationCause = 'guest-store' | 'host-write' | 'ic-maintenance' | 'stage2-unmap';

export class CodePageIndex {
  /** Nonzero for host pages that hold decoded code; checked on every store. */
  readonly flags: Uint8Array;
  private readonly pages = new Map<number, DecodedPage>();
  readonly invalidations: Record<InvalidationCause, number> = {
    'guest-store': 0, 'host-write': 0, 'ic-maintenance': 0, 'stage2-unmap': 0,
  };

  /**
   * Told about every page dropped, before anything can run from it again:
   * the JIT drops its translations of the page here.
   */
  onInvalidate: ((hostPage: number, cause: InvalidationCause) => void) | undefined = undefined;

  /**
   * `flags` may be a view into the shared memory, so that generated code
   * checks the same bytes on its inline store path.
   */
  constructor(bufferBytes: number, flags?: Uint8Array) {
    const n = Math.ceil(bufferBytes / CODE_PAGE_BYTES);
    if (flags !== undefined && flags.length < n) throw new RangeError(`code-page flags: ${flags.length} bytes for ${n} pages`);
    this.flags = flags ?? new Uint8Array(n);
  }

  page(hostPage: number): DecodedPage {
    let p = this.pages.get(hostPage);
    if (p === undefined) {
      p = new DecodedPage();
      this.pages.set(hostPage, p);
      this.flags[hostPage] = 1;
    }
    return p;
  }

  /** Records that the JIT translates `count` instruction words of the page from word `first` on. */
  markTranslated(hostPage: number, first: number, count: number): void {
    this.page(hostPage).translated.fill(1, first, Math.min(INSNS_PER_PAGE, first + count));
  }

  /**
   * A guest store of `size` bytes at `hostOffset` (into memory, already
   * written or about to be): drops each page it touches where it overlaps a
   * decoded or translated instruction word.
   */
  noteGuestStore(hostOffset: number, size: number): void {
    const firstPage = hostOffset >>> CODE_PAGE_SHIFT;
    const lastPage = (hostOffset + size - 1) >>> CODE_PAGE_SHIFT;
    for (let pg = firstPage; pg <= lastPage; pg++) {
      if (this.flags[pg] === 0) continue;
      const p = this.pages.get(pg);
      if (p === undefined) {
        this.invalidatePage(pg, 'guest-store');
        continue;
      }
      const base = pg << CODE_PAGE_SHIFT;
      const from = Math.max(hostOffset, base) - base;
      const to = Math.min(hostOffset + size, base + CODE_PAGE_BYTES) - base - 1;
      for (let w = from >>> 2; w <= to >>> 2; w++) {
        if (p.handlers[w] !== undefined || p.translated[w] !== 0) {
          this.invalidatePage(pg, 'guest-store');
          break;
        }
      }
    }
  }

  invalidatePage(hostPage: number, cause: InvalidationCause): void {
    if (this.flags[hostPage] === 0) return;
    this.flags[hostPage] = 0;
    const p = this.pages.get(hostPage);
    if (p) {
      p.valid = false;
      this.pages.delete(hostPage);
    }
    this.invalidations[cause]++;
    this.onInvalidate?.(hostPage, cause);
  }

  invalidateRange(hostOffset: number, length: number, cause: InvalidationCause): void {
    if (length <= 0) return;
    const first = Math.floor(hostOffset / CODE_PAGE_BYTES);
    const last = Math.floor((hostOffset + length - 1) / CODE_PAGE_BYTES);
    for (let p = first; p <= last; p++) this.invalidatePage(p, cause);
  }

  invalidateAll(cause: InvalidationCause): void {
    for (const hostPage of [...this.pages.keys()]) this.invalidatePage(hostPage, cause);
  }

  get liveDecodedPages(): number {
    return this.pages.size;
  }
}
