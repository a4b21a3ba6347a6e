"""The local broker: Knative Broker/Trigger semantics over RabbitMQ or PostgreSQL."""
