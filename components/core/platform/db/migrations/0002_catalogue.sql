-- The clean catalogue: what the clean step makes of the raw layer.
--   raw_hash   the content_hash of the raw row a catalogue row came from: clean skips raw rows whose
--              hash is already in the catalogue or in quarantine, so it reads only what is new or changed.

CREATE TABLE products (
  id              text PRIMARY KEY,
  raw_hash        text NOT NULL,
  title           text NOT NULL,
  description     text NOT NULL,
  -- title and description as the model reads them (see components/clean/parse.ts, cleanText)
  text_clean      text NOT NULL,
  root_category   text NOT NULL,
  category_path   jsonb NOT NULL,
  price_minor     bigint NOT NULL,
  currency        text NOT NULL,
  location        text,
  town            text,
  county          text,
  latitude        double precision,
  longitude       double precision,
  -- how the location was placed (gazetteer rule), or why it was not (then latitude is NULL)
  location_rule   text,
  location_reason text,
  url             text,
  page_id         text,
  create_time     timestamptz,
  cleaned_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_root_category ON products (root_category);

CREATE TABLE product_images (
  id            text PRIMARY KEY,
  product_id    text NOT NULL REFERENCES products (id) ON DELETE CASCADE,
  raw_hash      text NOT NULL,
  width         integer NOT NULL,
  height        integer NOT NULL,
  channels      integer NOT NULL,
  mode          text NOT NULL,
  bytes         bigint NOT NULL,
  sha256        text NOT NULL,
  -- the first image (by id) with the same bytes, when this one is a duplicate
  duplicate_of  text,
  -- the model-ready copy in the artifact store
  model_key     text NOT NULL,
  cleaned_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_images_product_id ON product_images (product_id);
CREATE INDEX product_images_sha256 ON product_images (sha256);

-- Raw rows the clean step refused, with the rule that caught them: kept, never deleted.
CREATE TABLE quarantine (
  source      text NOT NULL,
  source_id   text NOT NULL,
  raw_hash    text NOT NULL,
  rule        text NOT NULL,
  reason      text NOT NULL,
  raw         jsonb NOT NULL,
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, source_id)
);
CREATE INDEX quarantine_rule ON quarantine (rule);

-- A pinned state of the catalogue that train reads: the same catalogue gives the same hash and so
-- the same snapshot.
CREATE TABLE snapshots (
  id              text PRIMARY KEY,
  catalogue_hash  text NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  products        integer NOT NULL,
  product_images  integer NOT NULL,
  quarantined     integer NOT NULL,
  counts          jsonb NOT NULL
);
