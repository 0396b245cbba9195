-- A copy of a production database must not connect to the production broker:
-- with the same client id it would take the production subscriber's session over.
UPDATE pico_backend
   SET mqtt_enabled = false;
-- Nor call production Pico or accept its webhooks: credentials are blanked.
UPDATE pico_backend
   SET api_token = NULL,
       webhook_secret = NULL,
       mqtt_password = NULL;
