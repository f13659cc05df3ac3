// What a running step found already done, for the task tree: a step that did nothing shows
// "skipped: <reason>", one that skipped part of its work "done (skipped: <reason>)", in the live
// tree and in the plain lines alike - not only in the log. The runner gives each leaf its own
// notes through AsyncLocalStorage, so code deep in a plugin (a db sync's stamp, a bootstrap check)
// reports without being handed the task; concurrent steps on one host keep theirs apart.

import { AsyncLocalStorage } from 'node:async_hooks';

export interface StepNotes {
  /** The whole step had nothing to do: why. */
  skipped?: string;
  /** Parts of the step that had nothing to do: why, each. */
  readonly parts: string[];
}

const current = new AsyncLocalStorage<StepNotes>();

/** Runs `fn` with `notes` as the notes of the step it runs for. */
export const withStepNotes = <T>(notes: StepNotes, fn: () => Promise<T>): Promise<T> => current.run(notes, fn);

/** The running step did nothing: its work was found done. */
export function stepSkipped(reason: string): void {
  const n = current.getStore();
  if (n) n.skipped = reason;
}

/** Part of the running step was found done and skipped. */
export function partSkipped(reason: string): void {
  current.getStore()?.parts.push(reason);
}
