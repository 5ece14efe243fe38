"""Google Cloud Functions / Cloud Run functions: Cloud Monitoring metrics (`metrics_path`, `metrics_samples`,
`distribution`) and Cloud Logging entries (`filter`, `logs_path`, `entries`, `buckets`) behind `collector`, with
`google_apis` and `quota`; the offline reader of `gcloud logging read` output (`ingest`)."""
