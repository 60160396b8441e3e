/** Sectors of the targets, assigned from the sensor and asset registries, never from payloads. */
export const SECTORS = [
  'government',
  'finance',
  'energy',
  'telecom',
  'transport',
  'healthcare',
  'education',
  'water',
  'industry',
  'mining',
  'defense',
  'agriculture_food',
  'digital_infrastructure',
  'media',
  'research',
  'other',
  'unknown',
] as const

export type Sector = (typeof SECTORS)[number]
