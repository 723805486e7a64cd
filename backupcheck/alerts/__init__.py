"""Where a run's outcome goes besides the report: Prometheus metrics (a textfile for
node_exporter, a Pushgateway), notifications through Apprise and healthchecks-style pings.

Each delivery returns what went wrong as one-line warnings (values, never exceptions): an
alert that cannot be delivered never changes a run's result or exit code. No warning quotes a
notification or healthcheck URL: they carry tokens.
"""
