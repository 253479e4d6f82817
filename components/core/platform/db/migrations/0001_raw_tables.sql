-- The raw layer, as production has it: the AiCore export's tables, every source column kept as the
-- text it arrived as (clean parses it), plus what the loader needs to stay idempotent.
--   extra         columns the loader does not know, kept rather than dropped
--   content_hash  sha256 of the source columns: unchanged rows are not rewritten on a reload,
--                 and clean detects new or changed rows by (id, content_hash)
--   source        where the row came from (`Products.csv`, `postgres:products`), source_line its line

CREATE TABLE products_raw (
  id                  text PRIMARY KEY,
  product_name        text,
  category            text,
  product_description text,
  price               text,
  location            text,
  url                 text,
  page_id             text,
  create_time         text,
  extra               jsonb NOT NULL DEFAULT '{}'::jsonb,
  content_hash        text NOT NULL,
  source              text NOT NULL,
  source_line         integer,
  loaded_at           timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE images_raw (
  id           text PRIMARY KEY,
  product_id   text,
  bucket_link  text,
  image_ref    text,
  create_time  text,
  extra        jsonb NOT NULL DEFAULT '{}'::jsonb,
  content_hash text NOT NULL,
  source       text NOT NULL,
  source_line  integer,
  loaded_at    timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX images_raw_product_id ON images_raw (product_id);

-- Rows the loader could not parse (bad CSV syntax, wrong field count, no id, a repeated id): kept
-- with their reason and raw text, so nothing is lost silently. One row per distinct raw text.
CREATE TABLE load_refusals (
  source       text NOT NULL,
  raw_hash     text NOT NULL,
  line         integer,
  reason       text NOT NULL,
  raw          text NOT NULL,
  first_seen   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, raw_hash)
);
