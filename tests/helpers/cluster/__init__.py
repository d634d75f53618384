"""Clusters for the cluster tier (tests/cluster), started from the machine's packages in a
temporary folder on free loopback ports; the system services are never touched."""
