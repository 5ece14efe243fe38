"""Alert rules: evaluation, state, notifications (the records viewers read are in `opsview.alert_records`).

Kept import-light: the engine lives in `opsview.alerts.engine`.
"""
