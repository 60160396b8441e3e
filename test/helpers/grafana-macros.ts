/**
 * What Grafana and its ClickHouse data source (grafana-clickhouse-datasource v4) do to a panel's SQL
 * before ClickHouse sees it, for exactly the variables and macros that deploy/grafana/dashboards use,
 * so that a test can run the SQL the plugin would send.
 *
 * 1. Grafana's frontend replaces dashboard variables (the plugin's applyTemplateVariables calls
 *    templateSrv.replace): the syntax is Grafana's variableRegex (public/app/features/variables/utils.ts):
 *    `$name`, `[[name]]`, `[[name:format]]`, `${name}`, `${name:format}`. Formats implemented:
 *    `sqlstring` (Grafana's sqlStringFormatter: `'` doubled, `"` as `\"`, the value in single quotes),
 *    `text` (the option's text), `raw`, and none (the plugin's own format function, which leaves a
 *    single value as it is). A name Grafana does not know stays as written: that is how the plugin's
 *    `$__` macros reach its backend.
 * 2. The plugin's backend expands its macros (pkg/macros/macros.go, through the plugin SDK's
 *    sqlutil.Interpolate): a macro is `$__name` ending at a word boundary, with an argument list only
 *    when `(` follows the name at once, its arguments split at commas and trimmed. Implemented:
 *      $__timeFilter(c)   -> c >= toDateTime(FROM) AND c <= toDateTime(TO)
 *      $__fromTime        -> toDateTime(FROM)
 *      $__toTime          -> toDateTime(TO)
 *      $__timeInterval(c) -> toStartOfInterval(toDateTime(c), INTERVAL N second)
 *    FROM and TO are the range's Unix seconds (Go's time.Unix, sub-seconds dropped); N is the query's
 *    interval in whole seconds, at least 1. Any other `$__` name left after step 1 is an error here.
 */

export interface VariableValue {
  value: string
  text: string
}

export interface QueryContext {
  from: Date
  to: Date
  /** The query's interval ($__interval), which Grafana keeps at or above the panel's min interval. */
  intervalMs: number
  variables: Readonly<Record<string, VariableValue>>
}

export interface VariableReference {
  text: string
  name: string
  format: string | undefined
  fieldPath: string | undefined
}

function variableRegex(): RegExp {
  return /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g
}

/** Every variable reference in a text, as Grafana's regex finds them (macros included, as `__` names). */
export function variableReferences(text: string): VariableReference[] {
  return [...text.matchAll(variableRegex())].map((m) => ({
    text: m[0],
    name: m[1] ?? m[2] ?? m[4] ?? '',
    format: m[3] ?? m[6],
    fieldPath: m[5],
  }))
}

function sqlString(value: string): string {
  return `'${value.replace(/'|"/g, (quote) => (quote === "'" ? "''" : '\\"'))}'`
}

/** Grafana's frontend step. */
export function interpolateVariables(sql: string, variables: Readonly<Record<string, VariableValue>>): string {
  return sql.replace(variableRegex(), (match: string, ...groups: (string | undefined)[]) => {
    const [var1, var2, fmt2, var3, fieldPath, fmt3] = groups
    const name = var1 ?? var2 ?? var3 ?? ''
    const variable = variables[name]
    if (variable === undefined) {
      if (name.startsWith('__')) return match
      throw new Error(`variable ${match} is not defined`)
    }
    if (fieldPath !== undefined) throw new Error(`${match}: field paths are not implemented`)
    const format = fmt2 ?? fmt3
    switch (format) {
      case undefined:
      case 'raw':
        return variable.value
      case 'sqlstring':
        return sqlString(variable.value)
      case 'text':
        return variable.text
      default:
        throw new Error(`${match}: the format ${format} is not implemented`)
    }
  })
}

export interface MacroCall {
  text: string
  name: string
  /** Undefined when no `(` follows the name. */
  args: string[] | undefined
  start: number
  end: number
}

/** The `$__` macro calls in a query, each with its argument list (balanced parentheses). */
export function macroCalls(sql: string): MacroCall[] {
  const calls: MacroCall[] = []
  for (const m of sql.matchAll(/\$__(\w+)/g)) {
    const start = m.index
    let end = start + m[0].length
    let args: string[] | undefined
    if (sql[end] === '(') {
      let depth = 0
      let close = -1
      for (let i = end; i < sql.length && close < 0; i++) {
        if (sql[i] === '(') depth++
        else if (sql[i] === ')' && --depth === 0) close = i
      }
      if (close < 0) throw new Error(`$__${m[1]}: no closing parenthesis`)
      args = sql
        .slice(end + 1, close)
        .split(',')
        .map((arg) => arg.trim())
      end = close + 1
    }
    calls.push({ text: sql.slice(start, end), name: m[1] ?? '', args, start, end })
  }
  return calls
}

type Macro = (args: string[] | undefined, ctx: QueryContext) => string

const seconds = (date: Date) => Math.floor(date.getTime() / 1000)

function oneArgument(name: string, args: string[] | undefined): string {
  if (args?.length !== 1 || args[0] === '')
    throw new Error(`$__${name}: expected 1 argument, received ${args?.length ?? 0}`)
  return args[0] ?? ''
}

export const MACROS: Readonly<Record<string, Macro>> = {
  timeFilter: (args, ctx) => {
    const column = oneArgument('timeFilter', args)
    return `${column} >= toDateTime(${seconds(ctx.from)}) AND ${column} <= toDateTime(${seconds(ctx.to)})`
  },
  fromTime: (_args, ctx) => `toDateTime(${seconds(ctx.from)})`,
  toTime: (_args, ctx) => `toDateTime(${seconds(ctx.to)})`,
  timeInterval: (args, ctx) => {
    const column = oneArgument('timeInterval', args)
    return `toStartOfInterval(toDateTime(${column}), INTERVAL ${Math.trunc(Math.max(ctx.intervalMs / 1000, 1))} second)`
  },
}

/** The plugin backend's step. */
export function expandMacros(sql: string, ctx: QueryContext): string {
  let out = ''
  let at = 0
  for (const call of macroCalls(sql)) {
    const macro = MACROS[call.name]
    if (macro === undefined) throw new Error(`${call.text}: no such macro in the expander`)
    out += sql.slice(at, call.start) + macro(call.args, ctx)
    at = call.end
  }
  return out + sql.slice(at)
}

/** The SQL that reaches ClickHouse: Grafana's variables, then the plugin's macros. */
export function expandQuery(sql: string, ctx: QueryContext): string {
  return expandMacros(interpolateVariables(sql, ctx.variables), ctx)
}

/**
 * Ways a query would expand differently under older releases of the plugin's macro parser: sqlds
 * took arguments up to the first `)` (so nested calls broke), the SDK split them at every comma, and
 * sqlutil once read a later `(...)` as the arguments of a macro that has none
 * (grafana/grafana-plugin-sdk-go#859). Queries that avoid these expand the same everywhere.
 */
export function portabilityProblems(sql: string): string[] {
  const problems: string[] = []
  for (const call of macroCalls(sql)) {
    if (call.args !== undefined && !call.args.every((arg) => /^\w+$/.test(arg))) {
      problems.push(`${call.text}: macro arguments should be bare column names`)
    }
    if (call.args === undefined) {
      const nextParenthesis = /[()]/.exec(sql.slice(call.end))
      if (nextParenthesis?.[0] === '(')
        problems.push(`${call.text}: the next parenthesis after a macro without arguments should close`)
    }
  }
  return problems
}
