"""AWS Lambda: CloudWatch metrics (`collector`, `metrics`), cold starts from logs (`coldstarts`, `logs`),
and the offline reader of exported logs (`ingest`: `text_reader`, `report_batches`, `columns`, `json_reader`,
`correlator`)."""
