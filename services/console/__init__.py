"""The credit team's web console: server-rendered pages over the signals and notifier services."""
