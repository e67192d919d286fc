"""Socket.IO v5 on trio: the Sans-IO core in ``protocol`` and the user API around it."""
