"""The local platform: what stands in for Knative, the Broker and the cluster on one
machine, driven by the same knative/ manifests (``task up``, ``task manifests``).

- :mod:`localplatform.runtime`: the local runtime (activator, gateway by the HTTPRoute,
  scale to zero, PingSources, the outbox relay's trigger);
- :mod:`localplatform.broker`: the Broker with RabbitMQ and PostgreSQL backends;
- :mod:`localplatform.manifests`: loading and validating the manifests against the
  Knative CRD schemas and the admission rules they do not carry;
- :mod:`localplatform.embedded`: the embedded defaults' servers (PostgreSQL with
  pgvector, Redis) and their processes.

No function imports this package: functions import ``shared/``.
"""
