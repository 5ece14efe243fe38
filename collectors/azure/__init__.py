"""Azure Functions: one KQL query per workspace (`kql`, `rows`), platform metrics (`metrics`), and the
offline reader of exported App Insights tables and host logs (`ingest`)."""
