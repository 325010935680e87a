"""Uploading synthetic patients to a FHIR server (``simulate upload``, ``simulate --upload``).

* :mod:`.payload` turns what a run wrote (bundle files, NDJSON) or a live simulation into
  idempotent requests: every resource is ``PUT <Type>/<id>`` with literal references, so any
  request can be re-sent after a timeout or a dropped connection without duplicating data.
* :mod:`.client` sends them with httpx: bounded concurrency, a request-rate ceiling, retries
  with exponential backoff and jitter that honour ``Retry-After``.
* :mod:`.journal` records finished units (a patient, a block of NDJSON lines) so an
  interrupted upload goes on where it stopped.
* :mod:`.report` counts requests, resources, bytes, latencies, statuses, retries and failures.
* :mod:`.runner` drives the sources through the client; :mod:`.stream` feeds it straight from
  the simulation's worker processes.
"""
