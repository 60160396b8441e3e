import * as initial from './0001-initial.js'
import * as timeSource from './0002-time-source.js'
import * as onePlanPerOffset from './0003-one-plan-per-offset.js'
import * as device from './0004-device.js'
import * as eventInMessage from './0005-event-in-message.js'

/**
 * A numbered step of the schema: statements each safe to run again (IF NOT EXISTS, IF EXISTS, ADD
 * COLUMN IF NOT EXISTS), written for one server; cluster.ts gives their cluster form. An applied step
 * never changes: a change to the schema is a new step, in a file of its own named by its number.
 */
export interface MigrationStep {
  readonly version: number
  readonly name: string
  readonly statements: readonly string[]
}

/** Every step, in the order they apply; versions run 1, 2, 3 ... without a gap. */
export const MIGRATIONS: readonly MigrationStep[] = [initial, timeSource, onePlanPerOffset, device, eventInMessage]
