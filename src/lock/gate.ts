/**
 * Gate is the in-process queue for one lock file: a FIFO readers-writer gate that decides
 * which request goes next to the backend. At most one request is *acquiring* (talking to the
 * backend, perhaps waiting in the kernel) at a time, so a process never has more than one
 * kernel wait per lock file. It knows nothing of files or time, which keeps it easy to test.
 */
export class Gate<T> {
  /** Requests holding the lock, with whether each holds it shared. */
  readonly holders = new Map<T, boolean>();
  /** The request now acquiring, if any. */
  acquiring: T | undefined;
  private acquiringShared = false;
  private readonly queue: Array<{ request: T; shared: boolean }> = [];

  constructor(
    /** Called when a request may go to the backend; it must end in `acquired` or `failed`. */
    private readonly start: (request: T) => void,
  ) {}

  /** Whether a new request could start at once, with nobody ahead of it. */
  canStartNow(shared: boolean): boolean {
    return this.acquiring === undefined && this.queue.length === 0 && this.compatible(shared);
  }

  /** Queues a request; `start` is called (maybe at once) when it is its turn. */
  enter(request: T, shared: boolean): void {
    this.queue.push({ request, shared });
    this.pump();
  }

  /** Takes a request straight to acquiring; only when `canStartNow` said so. */
  startNow(request: T, shared: boolean): void {
    this.acquiring = request;
    this.acquiringShared = shared;
  }

  /** The acquiring request got the lock. */
  acquired(request: T): void {
    if (this.acquiring !== request) throw new Error('lockedfile: internal: acquired() out of turn');
    this.holders.set(request, this.acquiringShared);
    this.acquiring = undefined;
    this.pump();
  }

  /** The acquiring request gave up (timeout, abort, error), or a queued one left the queue. */
  failed(request: T): void {
    if (this.acquiring === request) {
      this.acquiring = undefined;
    } else {
      const index = this.queue.findIndex((entry) => entry.request === request);
      if (index >= 0) this.queue.splice(index, 1);
    }
    this.pump();
  }

  /** A holder let go. */
  release(request: T): void {
    if (this.holders.delete(request)) this.pump();
  }

  /** Nothing held, acquiring or queued: the gate can be forgotten. */
  get idle(): boolean {
    return this.holders.size === 0 && this.acquiring === undefined && this.queue.length === 0;
  }

  /** Requests waiting behind the one acquiring. */
  get waiting(): number {
    return this.queue.length;
  }

  private compatible(shared: boolean): boolean {
    if (this.holders.size === 0) return true;
    if (!shared) return false;
    for (const holdsShared of this.holders.values()) if (!holdsShared) return false;
    return true;
  }

  private pump(): void {
    const next = this.queue[0];
    if (this.acquiring !== undefined || next === undefined || !this.compatible(next.shared)) return;
    this.queue.shift();
    this.startNow(next.request, next.shared);
    this.start(next.request);
  }
}
