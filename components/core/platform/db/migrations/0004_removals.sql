-- Listings gone from the source (sold, withdrawn). Every load is an upsert, so nothing would ever
-- leave without a mark: data:load --full (the folder is the whole catalogue) marks the raw rows absent
-- from it, and --from postgres honours the source's own removal marker; a row that comes back is
-- unmarked. clean then takes a marked row out of the catalogue (or quarantine) and records it here:
-- raw rows = catalogue + quarantine + removals, for products and images alike.
ALTER TABLE products_raw ADD COLUMN removed_at timestamptz, ADD COLUMN removed_reason text;
ALTER TABLE images_raw ADD COLUMN removed_at timestamptz, ADD COLUMN removed_reason text;

CREATE TABLE removals (
  source        text NOT NULL,
  source_id     text NOT NULL,
  raw_hash      text NOT NULL,
  reason        text NOT NULL,
  -- when the load marked it gone from the source
  removed_at    timestamptz NOT NULL,
  -- when clean took it out; the catalogue row it had then (null if it was not in the catalogue)
  taken_out_at  timestamptz NOT NULL DEFAULT now(),
  catalogue_row jsonb,
  PRIMARY KEY (source, source_id)
);
