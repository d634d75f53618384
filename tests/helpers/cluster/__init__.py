"""Clusters of the tests' own (Galera, Redis Sentinel, RabbitMQ), started from the machine's
packages in a temporary folder on free loopback ports; the system services are never touched.
One module per cluster kind, for the cluster tier (tests/cluster) and the services and api
tests of failover alike."""
