-- The contact form: submissions, the answers remembered per Idempotency-Key,
-- and the outbox of work (mail) committed together with a submission.

CREATE TABLE submissions (
    id           uuid PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    name         text NOT NULL,
    email        text NOT NULL,
    subject      text NOT NULL,
    message      text NOT NULL,
    -- accepted: mailed to the owner; held: suspected spam awaiting review;
    -- spam: caught (honeypot), kept only for the record.
    status       text NOT NULL CHECK (status IN ('accepted', 'held', 'spam')),
    spam_reason  text,
    -- HMAC-SHA256 of the client IP under the server secret; never the IP itself.
    client_hash  bytea NOT NULL,
    -- The nonce of the signed challenge used, so that each challenge is good once.
    challenge_id bytea UNIQUE
);

CREATE INDEX submissions_created_at ON submissions (created_at);
CREATE INDEX submissions_email ON submissions (lower(email));

CREATE TABLE idempotency_keys (
    client_hash   bytea NOT NULL,
    key           text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    -- Deferred: the key is claimed first in a transaction, before the
    -- submission row it points to is written.
    submission_id uuid NOT NULL REFERENCES submissions (id) ON DELETE CASCADE
                  DEFERRABLE INITIALLY DEFERRED,
    status        smallint NOT NULL,
    body          jsonb NOT NULL,
    PRIMARY KEY (client_hash, key)
);

CREATE INDEX idempotency_keys_submission ON idempotency_keys (submission_id);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL,
    -- Ids only: personal data stays in submissions, so deleting a person's
    -- submissions (ON DELETE CASCADE) also removes their pending mail.
    payload       jsonb NOT NULL,
    submission_id uuid REFERENCES submissions (id) ON DELETE CASCADE,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'parked')),
    attempts      integer NOT NULL DEFAULT 0,
    run_at        timestamptz NOT NULL DEFAULT now(),
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The worker's claim query reads only due pending jobs.
CREATE INDEX outbox_due ON outbox (run_at) WHERE status = 'pending';
CREATE INDEX outbox_submission ON outbox (submission_id);
