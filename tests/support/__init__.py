"""What the tests share: where Postgres comes from and migrating it (postgres), a streaming
replica (replication), the service as a process (running_service), the README's examples
(readme_examples), the OpenAPI check every response passes (openapi_check), and the change
feed read the way a consumer reads it (feed)."""
