/**
 * Progress of long work on stderr: at most one log line a second, and none at all for work that
 * finishes within the first second. Each line carries count, total, rate and ETA, so both a person
 * watching a terminal and a log collector see how far a step has come.
 */
import type { Logger } from './log.js';

export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastReport = this.started;
  private reported = false;

  constructor(
    private readonly log: Logger,
    private readonly task: string,
    private total?: number,
    private readonly intervalMs = 1000,
  ) {}

  setTotal(total: number): void {
    this.total = total;
  }

  tick(count = 1): void {
    this.done += count;
    const now = Date.now();
    if (now - this.lastReport >= this.intervalMs) {
      this.lastReport = now;
      this.report(now);
    }
  }

  /** A closing line, only where progress lines were written (short work stays quiet). */
  finish(): void {
    if (this.reported) this.report(Date.now(), true);
  }

  private report(now: number, finished = false): void {
    this.reported = true;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const etaSeconds = this.total !== undefined && rate > 0 && !finished ? Math.max(0, (this.total - this.done) / rate) : undefined;
    this.log.info(
      {
        task: this.task,
        done: this.done,
        total: this.total,
        perSecond: Math.round(rate * 10) / 10,
        etaSeconds: etaSeconds === undefined ? undefined : Math.round(etaSeconds),
      },
      finished ? `${this.task}: finished ${this.done}` : `${this.task}: ${this.done}${this.total ? `/${this.total}` : ''}`,
    );
  }
}
