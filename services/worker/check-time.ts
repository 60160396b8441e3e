// The rule lives where the collector can apply it too; the worker keeps its own check.
export { absurdTime, type TimeLimits } from '../time-limits.js'
