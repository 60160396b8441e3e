import { Validator } from '@seriousme/openapi-schema-validator'

/** Validates an OpenAPI document against the official JSON Schema of its version. */
export async function validate(document: unknown): Promise<{ valid: boolean; errors?: unknown }> {
  return new Validator().validate(document as Parameters<Validator['validate']>[0])
}
