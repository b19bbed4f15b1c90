-- `/api/health` and `kiln-api jobs list` count and list parked jobs; sent
-- jobs pile up until their submission is purged, so keep both off a full scan.
CREATE INDEX outbox_parked ON outbox (id) WHERE status = 'parked';
