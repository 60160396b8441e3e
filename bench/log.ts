/** The suite's progress on stderr, timed, between the lines its child processes write there. */
export function log(message: string): void {
  process.stderr.write(`bench ${new Date().toISOString().slice(11, 19)} ${message}\n`)
}
