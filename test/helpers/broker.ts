import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../services/paths.js'
import { freePort } from './free-port.js'

/** A Kafka broker of a test's own, for tests that stop and start it; started by deploy/kafka/kafka.sh. */
export class OwnBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'qalqan-own-kafka-'))
  private env: Record<string, string> = {}

  async start(): Promise<string> {
    if (this.env['LOCAL_KAFKA_PORT'] === undefined) {
      this.env = {
        LOCAL_KAFKA_DIR: this.dir,
        LOCAL_KAFKA_PORT: String(await freePort()),
        LOCAL_KAFKA_CONTROLLER_PORT: String(await freePort()),
      }
    }
    this.run('start')
    return this.brokers
  }

  get brokers(): string {
    return `127.0.0.1:${this.env['LOCAL_KAFKA_PORT']}`
  }

  stop(): void {
    this.run('stop')
  }

  private run(command: string): void {
    const result = spawnSync('bash', [join(PROJECT_ROOT, 'deploy', 'kafka', 'kafka.sh'), command], {
      env: { ...process.env, ...this.env },
      encoding: 'utf8',
    })
    if (result.status !== 0) throw new Error(`kafka.sh ${command} failed: ${result.stderr}`)
  }
}
