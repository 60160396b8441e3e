/** Kazakhstan's first-level subdivisions (ISO 3166-2:KZ, numeric codes since November 2022). */
export const REGIONS = {
  'KZ-71': 'Astana',
  'KZ-75': 'Almaty',
  'KZ-79': 'Shymkent',
  'KZ-10': 'Abai',
  'KZ-11': 'Akmola',
  'KZ-15': 'Aktobe',
  'KZ-19': 'Almaty Region',
  'KZ-23': 'Atyrau',
  'KZ-27': 'West Kazakhstan',
  'KZ-31': 'Jambyl',
  'KZ-33': 'Jetisu',
  'KZ-35': 'Karaganda',
  'KZ-39': 'Kostanay',
  'KZ-43': 'Kyzylorda',
  'KZ-47': 'Mangystau',
  'KZ-55': 'Pavlodar',
  'KZ-59': 'North Kazakhstan',
  'KZ-61': 'Turkistan',
  'KZ-62': 'Ulytau',
  'KZ-63': 'East Kazakhstan',
} as const

export type RegionCode = keyof typeof REGIONS

export const REGION_CODES = Object.keys(REGIONS) as [RegionCode, ...RegionCode[]]
