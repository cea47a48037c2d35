"""Portfolio analyses (contract section 5 `/v1/analytics/*`, section 8 for the DMU), each computed in the
database with set-based SQL: one statement per figure whatever the number of customers.

The population is the monitored customers (`companies.portfolio` set), optionally one segment.
"""

from services.signals.analytics.dmu import STALE_DAYS, DmuReport, DmuSummary, dmu_report, dmu_summary

__all__ = ["STALE_DAYS", "DmuReport", "DmuSummary", "dmu_report", "dmu_summary"]
