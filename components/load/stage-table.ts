/** The staging table a load copies into (staged.ts) and merges and removes from (staged.ts, removals.ts). */
export const STAGE_TABLE = 'load_stage';

/** A staged row that is loaded: not a refused line, not a repeated id. */
export const LIVE_STAGE_ROW = 'refusal IS NULL AND duplicate_of IS NULL';
