"""Alert rules: evaluation, state, notifications (see opsview.alerts.model for the records viewers read)."""
