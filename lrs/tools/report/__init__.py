"""Brand-learning views outside the LRS: the Grafana dashboard pack (``dashboards``, ``grafana``) and the
self-contained HTML report (``html``), all from the ``schemas/queries/dashboard_*.sql`` files."""
