export { BASE62_ALPHABET, encodeBase62, isBase62, randomBase62 } from './base62.js';
export {
  CHECKSUM_LENGTH,
  DEFAULT_PAT_PREFIX,
  LOOKUP_ID_LENGTH,
  SECRET_LENGTH,
  formatPat,
  generatePat,
  isValidPatPrefix,
  looksLikePat,
  parsePat,
} from './pat.js';
export type { ParsedPat, PatParseResult } from './pat.js';
