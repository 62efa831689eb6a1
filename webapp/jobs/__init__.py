"""RQ jobs (send.py, inbound.py), their periodic duties, and the one module that queues them (enqueue.py)."""
