-- A generated buyer population (there is no public buyer data): demographics, home, interests,
-- price band and viewed products, drawn reproducibly from a catalogue snapshot.
CREATE TABLE buyers (
  id            text PRIMARY KEY,
  age_band      text NOT NULL,
  gender        text NOT NULL,
  town          text,
  county        text,
  latitude      double precision NOT NULL,
  longitude     double precision NOT NULL,
  -- root category -> weight (summing to 1)
  interests     jsonb NOT NULL,
  price_min     bigint NOT NULL,
  price_max     bigint NOT NULL,
  -- product ids, most recent last
  viewed        jsonb NOT NULL,
  snapshot_id   text NOT NULL,
  content_hash  text NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
