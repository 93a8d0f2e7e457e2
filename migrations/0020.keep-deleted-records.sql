-- What a deleted student, course or enrollment last looked like, kept in its delete's feed
-- entry (`was`, written by sql/schema/'s triggers from now on), so that the OneRoster
-- service can show it as `tobedeleted` for the feed's retention (API.md v1.3). GET /changes
-- does not serve it: a delete's `data` stays null there. A nullable column without a
-- default: no rewrite, a moment's lock.
-- depends: 0019.create-webhooks
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE changes ADD COLUMN IF NOT EXISTS was json;
