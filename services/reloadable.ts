import { createHash } from 'node:crypto'
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Logger } from 'pino'

export interface ReloadableOptions<T> {
  /** The file the value is loaded from. */
  readonly path: string
  /** Other files the value is read from too (a certificate's key): a change to any of them reloads it. */
  readonly also?: readonly string[]
  /** Reads and validates the file, throwing (a QalqanError) when it cannot be used. */
  readonly load: (path: string) => T
  readonly logger: Logger
  /** How long the directory must be quiet after a change before the file is read again. */
  readonly debounceMs?: number
  /** Hears each value loaded after the first (a new certificate to hand to the server). */
  readonly onReload?: (value: T) => void
}

/** However busy the directory, a change is read at most this long after it was seen. */
const MAX_WAIT_MS = 2_000

/**
 * A value loaded from a file (a registry) that follows the file: it is reloaded when the file changes
 * and on `reload()`. A file that cannot be loaded leaves the previous value in place, so a bad edit
 * never takes a running process down; only the first load, in the constructor, throws.
 *
 * The directory is watched rather than the file, so a file replaced by rename (editors, `mv`,
 * Kubernetes ConfigMap volumes swapping their `..data` link) is still followed; whatever the event,
 * the file is reloaded only when its bytes changed.
 */
export class Reloadable<T> {
  readonly path: string
  private readonly paths: readonly string[]
  private readonly load: (path: string) => T
  /** Tells the onReload option of the new value; a closure, so that a Reloadable<T> is still a Reloadable<unknown>. */
  private readonly reloaded: () => void
  private readonly logger: Logger
  private readonly debounceMs: number
  private value: T
  private loaded: Date
  private error: string | undefined
  private seen: string
  private watchers: FSWatcher[] = []
  private timer: NodeJS.Timeout | undefined
  private firstChangeAt = 0
  private closed = false

  constructor(options: ReloadableOptions<T>) {
    this.path = resolve(options.path)
    this.paths = [this.path, ...(options.also ?? []).map((path) => resolve(path))]
    this.load = options.load
    this.reloaded = () => options.onReload?.(this.value)
    this.logger = options.logger
    this.debounceMs = options.debounceMs ?? 200
    this.seen = fingerprint(this.paths)
    this.value = this.load(this.path)
    this.loaded = new Date()
    for (const dir of new Set(this.paths.map((path) => dirname(path)))) this.watch(dir)
  }

  current(): T {
    return this.value
  }

  /** When the value in use was loaded. */
  loadedAt(): Date {
    return new Date(this.loaded.getTime())
  }

  /** Why the file could not be loaded the last time it was tried, or undefined when that load succeeded. */
  lastError(): string | undefined {
    return this.error
  }

  /** Loads the file now, whether or not it changed; false when it could not be (the previous value stays). */
  reload(): boolean {
    this.seen = fingerprint(this.paths)
    try {
      this.value = this.load(this.path)
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err)
      this.logger.warn({ path: this.path, err }, 'cannot reload the file; keeping the previous version')
      return false
    }
    this.loaded = new Date()
    this.error = undefined
    this.logger.info({ path: this.path }, 'reloaded the file')
    this.reloaded()
    return true
  }

  /** Stops following the file; `reload()` still works. Safe to call more than once. */
  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const watcher of this.watchers.splice(0)) watcher.close()
  }

  private watch(dir: string): void {
    try {
      const watcher = watch(dir, { persistent: false }, () => this.changed())
      watcher.on('error', (err) => {
        this.logger.warn({ path: this.path, err }, 'stopped watching the file; reload it with SIGHUP')
        watcher.close()
        this.watchers = this.watchers.filter((one) => one !== watcher)
      })
      this.watchers.push(watcher)
    } catch (err) {
      this.logger.warn({ path: this.path, err }, 'cannot watch the file; reload it with SIGHUP')
    }
  }

  private changed(): void {
    if (this.closed) return
    const now = Date.now()
    if (this.timer === undefined) this.firstChangeAt = now
    else if (now - this.firstChangeAt >= MAX_WAIT_MS) return
    else clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.closed && fingerprint(this.paths) !== this.seen) this.reload()
    }, this.debounceMs)
    this.timer.unref()
  }
}

/** What the files hold now: a hash of each one's bytes, or why it cannot be read. */
function fingerprint(paths: readonly string[]): string {
  return paths
    .map((path) => {
      try {
        return createHash('sha256').update(readFileSync(path)).digest('hex')
      } catch (err) {
        return `unreadable: ${(err as NodeJS.ErrnoException).code ?? String(err)}`
      }
    })
    .join(' ')
}

/** The last reload error of each of these files that has one (each keeps its previous contents meanwhile). */
export function reloadErrors(files: readonly Reloadable<unknown>[]): string[] {
  return files.map((file) => file.lastError()).filter((error): error is string => error !== undefined)
}
