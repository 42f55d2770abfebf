/** URLs one import may always fetch, whatever the catalog says (the limit before issue #12). */
export const MIN_IMPORT_URLS = 20;
/** The schema's bound on the list: a catalog whose image sets are larger is capped here. */
export const MAX_IMPORT_URLS = 100;
