"""Google Cloud Functions / Cloud Run functions: Cloud Logging entries (`filter`, `entries`, `buckets`,
`quota`, `collector`), and the offline reader of `gcloud logging read` output (`ingest`)."""
