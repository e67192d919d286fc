"""Engine.IO v4 on trio: the Sans-IO core in ``protocol`` and the runtime around it."""
