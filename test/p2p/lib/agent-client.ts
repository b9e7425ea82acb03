/** The test side of agent.ts: starts an agent in a namespace and sends it commands. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NsProc } from './sh.js';

const AGENT = join(dirname(fileURLToPath(import.meta.url)), 'agent.js');

export type Answer = Record<string, unknown> & { id: number; failed?: string };

export class Agent {
  readonly proc: NsProc;
  #next = 1;
  readonly #waiting = new Map<number, (a: Answer) => void>();

  private constructor(ns: string, label: string) {
    this.proc = new NsProc(ns, process.execPath, [AGENT], {}, label);
    this.proc.onLine((line) => {
      if (!line.startsWith('{')) return;
      const a = JSON.parse(line) as Answer;
      this.#waiting.get(a.id)?.(a);
      this.#waiting.delete(a.id);
    });
  }

  static async start(ns: string, label = 'agent'): Promise<Agent> {
    const a = new Agent(ns, label);
    await a.proc.waitFor(/agent ready/);
    return a;
  }

  /** Sends one command; resolves with its answer, rejects on an error answer or after `ms`. */
  call<T extends Answer = Answer>(op: string, args: Record<string, unknown> = {}, ms = 180_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`agent ${this.proc.label}: no answer to ${op} within ${ms} ms`));
      }, ms);
      this.#waiting.set(id, (a) => {
        clearTimeout(t);
        if (a.failed !== undefined) reject(new Error(`agent ${this.proc.label}: ${op} failed: ${a.failed}`));
        else resolve(a as T);
      });
      this.proc.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  stop(): Promise<number | null> {
    this.proc.child.stdin!.end();
    return this.proc.stop();
  }
}
