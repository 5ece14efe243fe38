"""AWS Lambda: CloudWatch metrics (`collector`, `metrics`), cold starts from logs (`coldstarts`, `logs`),
and the offline reader of exported logs (`ingest`, `columns`)."""
