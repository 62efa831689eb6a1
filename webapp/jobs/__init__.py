"""RQ jobs (send.py, classify.py), their periodic duties, and the one module that queues them (enqueue.py)."""
