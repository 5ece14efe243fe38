"""Alert rules: evaluation, state, notifications (see opsview.alerts.model for the records viewers read).

Kept import-light: the store imports `opsview.alerts.model`; the engine lives in `opsview.alerts.engine`.
"""
