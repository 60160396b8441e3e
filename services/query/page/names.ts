import type { CATEGORIES } from '../../../schemas/event.js'
import type { RegionCode } from '../../../schemas/regions.js'
import type { Sector } from '../../../schemas/sectors.js'

/** The page's languages: Kazakh, Russian, English. */
export const LANGUAGES = ['kk', 'ru', 'en'] as const
export type Language = (typeof LANGUAGES)[number]

export type Names = Record<Language, string>

/**
 * Each region's full name, and a short one that fits on a map tile, in the three languages
 * (ISO 3166-2:KZ, with the regions created in 2022: Abai, Jetisu, Ulytau).
 */
export const REGION_NAMES: Record<RegionCode, { full: Names; short: Names }> = {
  'KZ-71': { full: { kk: 'Астана', ru: 'Астана', en: 'Astana' }, short: { kk: 'Астана', ru: 'Астана', en: 'Astana' } },
  'KZ-75': { full: { kk: 'Алматы', ru: 'Алматы', en: 'Almaty' }, short: { kk: 'Алматы', ru: 'Алматы', en: 'Almaty' } },
  'KZ-79': {
    full: { kk: 'Шымкент', ru: 'Шымкент', en: 'Shymkent' },
    short: { kk: 'Шымкент', ru: 'Шымкент', en: 'Shymkent' },
  },
  'KZ-10': {
    full: { kk: 'Абай облысы', ru: 'Абайская область', en: 'Abai Region' },
    short: { kk: 'Абай', ru: 'Абай', en: 'Abai' },
  },
  'KZ-11': {
    full: { kk: 'Ақмола облысы', ru: 'Акмолинская область', en: 'Akmola Region' },
    short: { kk: 'Ақмола', ru: 'Акмола', en: 'Akmola' },
  },
  'KZ-15': {
    full: { kk: 'Ақтөбе облысы', ru: 'Актюбинская область', en: 'Aktobe Region' },
    short: { kk: 'Ақтөбе', ru: 'Актобе', en: 'Aktobe' },
  },
  'KZ-19': {
    full: { kk: 'Алматы облысы', ru: 'Алматинская область', en: 'Almaty Region' },
    short: { kk: 'Алматы обл.', ru: 'Алматин. обл.', en: 'Almaty Reg.' },
  },
  'KZ-23': {
    full: { kk: 'Атырау облысы', ru: 'Атырауская область', en: 'Atyrau Region' },
    short: { kk: 'Атырау', ru: 'Атырау', en: 'Atyrau' },
  },
  'KZ-27': {
    full: { kk: 'Батыс Қазақстан облысы', ru: 'Западно-Казахстанская область', en: 'West Kazakhstan Region' },
    short: { kk: 'БҚО', ru: 'ЗКО', en: 'W. Kazakhstan' },
  },
  'KZ-31': {
    full: { kk: 'Жамбыл облысы', ru: 'Жамбылская область', en: 'Jambyl Region' },
    short: { kk: 'Жамбыл', ru: 'Жамбыл', en: 'Jambyl' },
  },
  'KZ-33': {
    full: { kk: 'Жетісу облысы', ru: 'Жетысуская область', en: 'Jetisu Region' },
    short: { kk: 'Жетісу', ru: 'Жетысу', en: 'Jetisu' },
  },
  'KZ-35': {
    full: { kk: 'Қарағанды облысы', ru: 'Карагандинская область', en: 'Karaganda Region' },
    short: { kk: 'Қарағанды', ru: 'Караганда', en: 'Karaganda' },
  },
  'KZ-39': {
    full: { kk: 'Қостанай облысы', ru: 'Костанайская область', en: 'Kostanay Region' },
    short: { kk: 'Қостанай', ru: 'Костанай', en: 'Kostanay' },
  },
  'KZ-43': {
    full: { kk: 'Қызылорда облысы', ru: 'Кызылординская область', en: 'Kyzylorda Region' },
    short: { kk: 'Қызылорда', ru: 'Кызылорда', en: 'Kyzylorda' },
  },
  'KZ-47': {
    full: { kk: 'Маңғыстау облысы', ru: 'Мангистауская область', en: 'Mangystau Region' },
    short: { kk: 'Маңғыстау', ru: 'Мангистау', en: 'Mangystau' },
  },
  'KZ-55': {
    full: { kk: 'Павлодар облысы', ru: 'Павлодарская область', en: 'Pavlodar Region' },
    short: { kk: 'Павлодар', ru: 'Павлодар', en: 'Pavlodar' },
  },
  'KZ-59': {
    full: { kk: 'Солтүстік Қазақстан облысы', ru: 'Северо-Казахстанская область', en: 'North Kazakhstan Region' },
    short: { kk: 'СҚО', ru: 'СКО', en: 'N. Kazakhstan' },
  },
  'KZ-61': {
    full: { kk: 'Түркістан облысы', ru: 'Туркестанская область', en: 'Turkistan Region' },
    short: { kk: 'Түркістан', ru: 'Туркестан', en: 'Turkistan' },
  },
  'KZ-62': {
    full: { kk: 'Ұлытау облысы', ru: 'Улытауская область', en: 'Ulytau Region' },
    short: { kk: 'Ұлытау', ru: 'Улытау', en: 'Ulytau' },
  },
  'KZ-63': {
    full: { kk: 'Шығыс Қазақстан облысы', ru: 'Восточно-Казахстанская область', en: 'East Kazakhstan Region' },
    short: { kk: 'ШҚО', ru: 'ВКО', en: 'E. Kazakhstan' },
  },
}

export const SECTOR_NAMES: Record<Sector, Names> = {
  government: { kk: 'Мемлекеттік сектор', ru: 'Госсектор', en: 'Government' },
  finance: { kk: 'Қаржы', ru: 'Финансы', en: 'Finance' },
  energy: { kk: 'Энергетика', ru: 'Энергетика', en: 'Energy' },
  telecom: { kk: 'Телекоммуникация', ru: 'Телекоммуникации', en: 'Telecommunications' },
  transport: { kk: 'Көлік', ru: 'Транспорт', en: 'Transport' },
  healthcare: { kk: 'Денсаулық сақтау', ru: 'Здравоохранение', en: 'Healthcare' },
  education: { kk: 'Білім беру', ru: 'Образование', en: 'Education' },
  water: { kk: 'Сумен жабдықтау', ru: 'Водоснабжение', en: 'Water supply' },
  industry: { kk: 'Өнеркәсіп', ru: 'Промышленность', en: 'Industry' },
  mining: { kk: 'Тау-кен өндірісі', ru: 'Горнодобыча', en: 'Mining' },
  defense: { kk: 'Қорғаныс', ru: 'Оборона', en: 'Defence' },
  agriculture_food: {
    kk: 'Ауыл шаруашылығы және азық-түлік',
    ru: 'Агропром и продовольствие',
    en: 'Agriculture and food',
  },
  digital_infrastructure: { kk: 'Цифрлық инфрақұрылым', ru: 'Цифровая инфраструктура', en: 'Digital infrastructure' },
  media: { kk: 'БАҚ', ru: 'СМИ', en: 'Media' },
  research: { kk: 'Ғылым', ru: 'Наука', en: 'Research' },
  other: { kk: 'Басқа', ru: 'Другое', en: 'Other' },
  unknown: { kk: 'Белгісіз', ru: 'Не определён', en: 'Unknown' },
}

export const CATEGORY_NAMES: Record<(typeof CATEGORIES)[number], Names> = {
  scan: { kk: 'Сканерлеу', ru: 'Сканирование', en: 'Scanning' },
  bruteforce: { kk: 'Құпиясөз іріктеу', ru: 'Подбор паролей', en: 'Brute force' },
  exploit: { kk: 'Эксплойт', ru: 'Эксплойт', en: 'Exploit' },
  malware: { kk: 'Зиянды бағдарлама', ru: 'Вредоносное ПО', en: 'Malware' },
  ddos: { kk: 'DDoS', ru: 'DDoS', en: 'DDoS' },
  web_attack: { kk: 'Веб-шабуыл', ru: 'Веб-атака', en: 'Web attack' },
  botnet_c2: { kk: 'Ботнет C2', ru: 'Ботнет C2', en: 'Botnet C2' },
  phishing: { kk: 'Фишинг', ru: 'Фишинг', en: 'Phishing' },
  policy_violation: { kk: 'Саясатты бұзу', ru: 'Нарушение политики', en: 'Policy violation' },
  other: { kk: 'Басқа', ru: 'Другое', en: 'Other' },
}

export const SEVERITY_NAMES: Record<'1' | '2' | '3' | '4', Names> = {
  '1': { kk: 'Төмен', ru: 'Низкая', en: 'Low' },
  '2': { kk: 'Орташа', ru: 'Средняя', en: 'Medium' },
  '3': { kk: 'Жоғары', ru: 'Высокая', en: 'High' },
  '4': { kk: 'Сыни', ru: 'Критическая', en: 'Critical' },
}
