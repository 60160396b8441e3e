import { z } from 'zod'

/**
 * The zone of a sensor whose registration names none (QALQAN_COLLECTOR_DEFAULT_TIME_ZONE). Since
 * 2024-03-01 all of Kazakhstan keeps UTC+5; before, Asia/Almaty was UTC+6 (the east, with Almaty and
 * Astana), which tzdata knows, so older times from the east are read right too.
 */
export const DEFAULT_TIME_ZONE = 'Asia/Almaty'

/**
 * The IANA name of a zone this runtime knows (its ICU time zone data), in the runtime's own
 * spelling (`asia/almaty` becomes `Asia/Almaty`), or undefined. Fixed offsets (`+05:00`) are not
 * names: newer runtimes accept them and older ones do not, and a fixed offset misreads every time
 * from before a change of the clock (write `Etc/GMT-5` to mean a fixed UTC+5).
 */
export function timeZoneName(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_/+-]{0,63}$/.test(name)) return undefined
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone
  } catch {
    return undefined
  }
}

/** A time zone setting: an IANA name, validated against the runtime's time zone data and spelled as it spells it. */
export const TimeZone = z.string().transform((name, ctx) => {
  const known = timeZoneName(name)
  if (known !== undefined) return known
  ctx.addIssue({
    code: 'custom',
    message: `${JSON.stringify(name.slice(0, 64))} is not a time zone name this Node.js knows: use an IANA name such as Asia/Almaty, Asia/Qyzylorda or UTC`,
  })
  return z.NEVER
})
